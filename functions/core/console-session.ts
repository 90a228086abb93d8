/**
 * The operator console's sign-in: an operator key, typed once into a form, is exchanged for a
 * session cookie, so the key itself is never stored by the browser nor sent again.
 *
 * The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it)
 * and `Secure` behind HTTPS. It holds no secret: the caller's id, an expiry and a random nonce,
 * signed with HMAC-SHA256. The signing key is derived from the API keys secret itself, so no new
 * secret has to be provisioned, and rotating the keys ends every session. Each form that acts
 * carries a CSRF token derived from the session's nonce, checked in constant time.
 *
 * @example
 *   const cookie = issueSession("operator:ops", apiKeysRaw, Date.now());
 *   readSession(cookieHeader, apiKeysRaw, Date.now()) // { caller: "operator:ops", csrf: "…" }
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { CallerId } from "./schemas.js";

export const SESSION_COOKIE = "wm_console";
/** A working day: long enough not to nag, short enough that a forgotten browser closes itself. */
export const SESSION_SECONDS = 8 * 60 * 60;

export interface ConsoleSession {
  caller: CallerId;
  /** The token every acting form must carry. */
  csrf: string;
}

const keyFrom = (apiKeysSecret: string) =>
  createHmac("sha256", "wallet-messaging console session v1").update(apiKeysSecret).digest();
const mac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest("base64url");

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The `Set-Cookie` value that starts a session for `caller`. */
export function issueSession(caller: CallerId, apiKeysSecret: string, nowMs: number, secure: boolean): string {
  const payload = Buffer.from(
    JSON.stringify({
      c: caller,
      e: Math.floor(nowMs / 1000) + SESSION_SECONDS,
      n: randomBytes(16).toString("base64url"),
    }),
  ).toString("base64url");
  const value = `${payload}.${mac(keyFrom(apiKeysSecret), payload)}`;
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}${secure ? "; Secure" : ""}`;
}

/** The `Set-Cookie` value that ends the session. */
export function endSession(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? "; Secure" : ""}`;
}

/** The session a request's cookies carry, if one is valid now; undefined otherwise (never throws). */
export function readSession(
  cookieHeader: string | undefined,
  apiKeysSecret: string,
  nowMs: number,
): ConsoleSession | undefined {
  const value = (cookieHeader ?? "")
    .split(";")
    .map((part) => part.trim())
    .find((part) => part.startsWith(`${SESSION_COOKIE}=`))
    ?.slice(SESSION_COOKIE.length + 1);
  const [payload, signature, extra] = (value ?? "").split(".");
  if (!payload || !signature || extra !== undefined) return undefined;
  const key = keyFrom(apiKeysSecret);
  if (!sameText(signature, mac(key, payload))) return undefined;
  try {
    const { c, e, n } = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      c: unknown;
      e: unknown;
      n: unknown;
    };
    const caller = CallerId.safeParse(c);
    if (!caller.success || typeof e !== "number" || e * 1000 <= nowMs || typeof n !== "string") return undefined;
    return { caller: caller.data, csrf: mac(key, `csrf.${n}`) };
  } catch {
    return undefined;
  }
}

/** Whether a form's CSRF token is the session's. */
export function csrfMatches(session: ConsoleSession, offered: string | undefined): boolean {
  return offered !== undefined && sameText(offered, session.csrf);
}
