/** Baseline "naive" health handler: answers from memory, but with Logger and the classic `zod` import at module scope, as templates do. */
import { Logger } from "@aws-lambda-powertools/logger";
import { z } from "zod";

const logger = new Logger({ serviceName: "wallet-messaging" });
const Health = z.object({ status: z.literal("ok"), service: z.string() });

export const handler = async () => {
  logger.info("health checked");
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(Health.parse({ status: "ok", service: "wallet-messaging" })),
  };
};
