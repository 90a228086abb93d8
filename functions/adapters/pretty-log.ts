/**
 * Logs for a person at a terminal (`npm start` when stdout is a TTY): one short line per event,
 * `14:02:07 INFO  request queued  requestId=500df8f4-…`. Piped or redirected, `npm start` writes
 * Powertools' JSON lines instead, so `npm start --silent | jq` works. Values are printed with control
 * characters escaped (JSON string escaping), so a logged field cannot forge a line.
 */
import type { Log } from "../core/ports.js";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;
const COLOURS: Record<Level, string> = { debug: "\x1b[90m", info: "\x1b[36m", warn: "\x1b[33m", error: "\x1b[31m" };

function value(v: unknown): string {
  if (typeof v === "string") return /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

export function prettyLog(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  options: { colour?: boolean; minLevel?: Level } = {},
): Log {
  const min =
    LEVELS[
      options.minLevel ?? ((process.env.POWERTOOLS_LOG_LEVEL ?? process.env.LOG_LEVEL ?? "info").toLowerCase() as Level)
    ] ?? LEVELS.info;
  const emit =
    (level: Level) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (LEVELS[level] < min) return;
      const time = new Date().toISOString().slice(11, 19);
      const tag = level.toUpperCase().padEnd(5);
      const details = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${value(v)}`)
        .join(" ");
      const text = `${time} ${options.colour ? `${COLOURS[level]}${tag}\x1b[0m` : tag} ${JSON.stringify(message).slice(1, -1)}${details ? `  ${details}` : ""}`;
      write(text);
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
