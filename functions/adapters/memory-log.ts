/** A Log that keeps its lines in memory: tests read them to check what was logged, and that no secret was. */
import type { Log } from "../core/ports.js";

export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: Record<string, unknown>;
}

export class MemoryLog implements Log {
  readonly lines: LogLine[] = [];
  debug(message: string, fields: Record<string, unknown> = {}) {
    this.lines.push({ level: "debug", message, fields });
  }
  info(message: string, fields: Record<string, unknown> = {}) {
    this.lines.push({ level: "info", message, fields });
  }
  warn(message: string, fields: Record<string, unknown> = {}) {
    this.lines.push({ level: "warn", message, fields });
  }
  error(message: string, fields: Record<string, unknown> = {}) {
    this.lines.push({ level: "error", message, fields });
  }
  /** Every line as the JSON text it would have been printed as. */
  text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join("\n");
  }
}
