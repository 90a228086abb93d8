/**
 * Text from the API, PassEntry or stored data cannot act on an operator's terminal: controls, bidi and
 * invisible characters are escaped.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { printable, terminalSafe } from "../../functions/core/visible-text.js";

describe("terminalSafe", () => {
  it("escapes terminal controls, bidi overrides and invisible marks, keeping the text readable", () => {
    expect(printable("ok\u001b[2J\r\nforged\u202egnp.exe\u0000\u007f\u0085\u200b\u2028")).toBe(
      "ok\\u001b[2J\\u000d\\u000aforged\\u202egnp.exe\\u0000\\u007f\\u0085\\u200b\\u2028",
    );
    expect(printable("Café – 10% off, 🎉")).toBe("Café – 10% off, 🎉");
  });

  it("escapes an invisible character beyond U+FFFF as JSON would (two UTF-16 halves)", () => {
    expect(printable("tag\u{e0041}")).toBe("tag\\udb40\\udc41");
  });

  it("keeps our own line breaks and tabs when asked, and only those", () => {
    expect(terminalSafe("a\n\tb\r\u001b", { keepLineBreaks: true })).toBe("a\n\tb\\u000d\\u001b");
  });

  it("leaves nothing a terminal acts on, and JSON escaped this way still parses to the same value (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (value) => {
        const json = terminalSafe(JSON.stringify({ value }), { keepLineBreaks: true });
        expect(json).not.toMatch(/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u);
        expect(JSON.parse(json).value).toBe(value);
      }),
      { numRuns: 1_000 },
    );
  });
});
