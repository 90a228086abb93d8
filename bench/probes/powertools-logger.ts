/** Probe: Powertools Logger, built at import, one line logged. */
import { Logger } from "@aws-lambda-powertools/logger";
const logger = new Logger({ serviceName: "x" });
export const handler = async () => {
  logger.info("hi");
  return { statusCode: 200 };
};
