/**
 * No spelling of a secret survives redaction, encoded or not.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { redactSecrets } from "../../functions/core/redact.js";
import { secretFoundIn } from "../security/stack-support.js";

const TOKEN = "pe_live_7Qm2xW9rTz4Kc8Vb1Ny6";

describe("redactSecrets", () => {
  it("cuts the secret in every spelling an echo may use", () => {
    const echoes = [
      `Bearer ${TOKEN}`,
      `bearer ${TOKEN.toLowerCase()}`,
      `AUTHORIZATION: BEARER ${TOKEN.toUpperCase()}`,
      encodeURIComponent(`Bearer ${TOKEN}`),
      TOKEN.replace(/[a-z]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
      Buffer.from(TOKEN).toString("base64"),
      Buffer.from(`Authorization: Bearer ${TOKEN}`).toString("base64"),
      Buffer.from(`x${TOKEN}`).toString("base64url"),
      Buffer.from(TOKEN.toUpperCase()).toString("base64"),
    ];

    for (const echo of echoes) {
      const redacted = redactSecrets(`PassEntry said: ${echo} (refused)`, [TOKEN]);
      expect(redacted, echo).toMatch(/^PassEntry said: (AUTHORIZATION: )?\[redacted\] \(refused\)$/);
      expect(secretFoundIn(redacted, TOKEN), echo).toBeUndefined();
    }
  });

  it("leaves no spelling of a secret in any text that embeds it, encoded or not (property)", () => {
    const text = fc.string({ maxLength: 40 });
    const secret = fc.stringMatching(/^[A-Za-z0-9_-]{12,48}$/);
    const spelling = fc.constantFrom<(s: string) => string>(
      (s) => s,
      (s) => s.toUpperCase(),
      (s) => s.toLowerCase(),
      (s) => encodeURIComponent(s),
      (s) => Buffer.from(s).toString("base64"),
      (s) => Buffer.from(s).toString("base64url"),
    );
    fc.assert(
      fc.property(secret, text, text, spelling, (s, before, after, spell) => {
        const redacted = redactSecrets(spell(`${before}Bearer ${s}${after}`), [s]);
        expect(secretFoundIn(redacted, s)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("leaves text without the secret as it is, and never cuts secrets too short to be one", () => {
    expect(redactSecrets("Segment not found.", [TOKEN])).toBe("Segment not found.");
    expect(redactSecrets("token abc refused", ["abc"])).toBe("token abc refused");
    expect(redactSecrets("anything", [])).toBe("anything");
  });

  it("finishes on a long hostile body of base64 characters and bearer prefixes (no backtracking pattern to stall on)", () => {
    // A pattern that backtracks over the run around each position would not finish within the test's timeout.
    const hostile = `${"A".repeat(200_000)} ${"bearer ".repeat(20_000)}`;

    expect(redactSecrets(hostile, [TOKEN])).toBe(hostile);
  });
});
