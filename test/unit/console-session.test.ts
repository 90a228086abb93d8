/**
 * Console sessions: the cookie names the caller but holds no key; a changed, expired or pre-rotation
 * cookie is refused; each session has its own CSRF token.
 */
import { describe, expect, it } from "vitest";
import { csrfMatches, issueSession, readSession, SESSION_SECONDS } from "../../functions/core/console-session.js";

const KEYS = "operator:ops:ops-key-0123456789";
const NOW = Date.parse("2026-06-01T12:00:00Z");
const cookieOf = (setCookie: string) => setCookie.split(";")[0]!;

describe("console sessions", () => {
  it("issues an HttpOnly, SameSite=Strict cookie that names the caller but holds no key, and reads it back", () => {
    const setCookie = issueSession("operator:ops", KEYS, NOW, true);

    const session = readSession(`other=1; ${cookieOf(setCookie)}`, KEYS, NOW + 1_000);

    expect(setCookie).toMatch(/; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800; Secure$/);
    expect(setCookie).not.toContain("ops-key");
    expect(Buffer.from(cookieOf(setCookie).split("=")[1]!.split(".")[0]!, "base64url").toString()).not.toContain(
      "ops-key",
    );
    expect(session?.caller).toBe("operator:ops");
    expect(csrfMatches(session!, session!.csrf)).toBe(true);
    expect(csrfMatches(session!, "forged")).toBe(false);
    expect(csrfMatches(session!, undefined)).toBe(false);
  });

  it("refuses a cookie that was changed, has expired, or was signed before the keys were rotated", () => {
    const cookie = cookieOf(issueSession("operator:ops", KEYS, NOW, false));
    const [name, value] = cookie.split("=");
    const [payload, signature] = value!.split(".");
    const forged = Buffer.from(JSON.stringify({ c: "operator:admin", e: NOW / 1000 + 60, n: "x" })).toString(
      "base64url",
    );

    expect(readSession(`${name}=${forged}.${signature}`, KEYS, NOW)).toBeUndefined();
    expect(readSession(`${name}=${payload}.${signature}x`, KEYS, NOW)).toBeUndefined();
    expect(readSession(cookie, KEYS, NOW + SESSION_SECONDS * 1000 + 1)).toBeUndefined();
    expect(readSession(cookie, `${KEYS},operator:new:another-key`, NOW)).toBeUndefined();
    expect(readSession(undefined, KEYS, NOW)).toBeUndefined();
    expect(readSession(`${name}=not.a.cookie`, KEYS, NOW)).toBeUndefined();
  });

  it("gives each session its own CSRF token", () => {
    const a = readSession(cookieOf(issueSession("operator:ops", KEYS, NOW, false)), KEYS, NOW)!;
    const b = readSession(cookieOf(issueSession("operator:ops", KEYS, NOW, false)), KEYS, NOW)!;

    expect(a.csrf).not.toBe(b.csrf);
    expect(csrfMatches(a, b.csrf)).toBe(false);
  });
});
