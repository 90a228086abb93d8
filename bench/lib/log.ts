import type { Log } from "../../functions/core/ports.js";

/**
 * A Log that formats every line as JSON, like `npm start`'s Powertools logger, and then drops it:
 * the formatting cost stays in the measurement, the terminal stays readable.
 */
export function discardingJsonLog(): Log & { lines: number } {
  const log = {
    lines: 0,
    debug: (message: string, fields?: Record<string, unknown>) => write("DEBUG", message, fields),
    info: (message: string, fields?: Record<string, unknown>) => write("INFO", message, fields),
    warn: (message: string, fields?: Record<string, unknown>) => write("WARN", message, fields),
    error: (message: string, fields?: Record<string, unknown>) => write("ERROR", message, fields),
  };
  function write(level: string, message: string, fields: Record<string, unknown> = {}) {
    JSON.stringify({ level, message, timestamp: new Date().toISOString(), service: "wallet-messaging", ...fields });
    log.lines++;
  }
  return log;
}
