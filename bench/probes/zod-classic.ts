/** Probe: the classic `zod` import and one small schema, built and used once. */
import { z } from "zod";
const S = z.object({
  batch: z.looseObject({ message: z.string().min(1), scheduledAt: z.iso.datetime({ offset: true }).optional() }),
});
export const handler = async () => ({ statusCode: 200, body: JSON.stringify(S.parse({ batch: { message: "hi" } })) });
