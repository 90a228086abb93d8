/** Probe: the same schema as zod-classic.ts with `zod/mini`, zod's tree-shakable API. */
import * as z from "zod/mini";
const S = z.object({
  batch: z.looseObject({
    message: z.string().check(z.minLength(1)),
    scheduledAt: z.optional(z.iso.datetime({ offset: true })),
  }),
});
export const handler = async () => ({ statusCode: 200, body: JSON.stringify(S.parse({ batch: { message: "hi" } })) });
