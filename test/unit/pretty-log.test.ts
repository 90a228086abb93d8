/**
 * The terminal log prints one line per event (time, level, message, fields), even for a field holding
 * line breaks, and nothing below its level.
 */
import { describe, expect, it } from "vitest";
import { prettyLog } from "../../functions/adapters/pretty-log.js";

describe("prettyLog", () => {
  it("writes one line per event: time, level, message, fields", () => {
    const lines: string[] = [];
    prettyLog((l) => lines.push(l), { minLevel: "info" }).info("request queued", { requestId: "r-1", attempt: 2 });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d INFO {2}request queued {2}requestId=r-1 attempt=2$/);
  });

  it("keeps a field holding line breaks or escapes on its one line, and hides what is below the level", () => {
    const lines: string[] = [];
    const log = prettyLog((l) => lines.push(l), { minLevel: "info" });

    log.warn("bad\ninput", { value: "a\nfake 00:00:00 ERROR line\u001b[2J" });
    log.debug("hidden");

    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    expect(lines[0]).not.toContain("\u001b");
    expect(lines[0]).toContain('value="a\\nfake 00:00:00 ERROR line\\u001b[2J"');
  });
});
