/** Structured JSON logs through Powertools' Logger: one line per call, CloudWatch-friendly. */
import { Logger } from "@aws-lambda-powertools/logger";
import type { Log } from "../core/ports.js";

export function powertoolsLog(serviceName = "wallet-messaging"): Log & { logger: Logger } {
  const logger = new Logger({ serviceName });
  return {
    logger,
    debug: (message, fields) => logger.debug(message, fields ?? {}),
    info: (message, fields) => logger.info(message, fields ?? {}),
    warn: (message, fields) => logger.warn(message, fields ?? {}),
    error: (message, fields) => logger.error(message, fields ?? {}),
  };
}
