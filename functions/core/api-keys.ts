/**
 * API keys for the trigger API: several named keys, so one can be rotated while another still
 * works. The name (never the key) is recorded on each request the key made.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { UnauthorizedError } from "./errors.js";

export type ApiKeys = ReadonlyMap<string, string>;

/**
 * Reads keys from a secret value: a JSON object `{"crm":"k1","shop":"k2"}` (Secrets Manager) or a
 * comma-separated list `crm:k1,shop:k2` (the local `API_KEYS`); a bare `k1` is named `key-1`.
 *
 * @example parseApiKeys('{"crm":"s3cret"}').get("crm") // "s3cret"
 */
export function parseApiKeys(raw: string): ApiKeys {
  const text = raw.trim();
  const keys = new Map<string, string>();
  if (text.startsWith("{")) {
    const parsed: unknown = JSON.parse(text);
    for (const [name, key] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof key === "string" && key.length > 0) keys.set(name, key);
    }
    return keys;
  }
  text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)
    .forEach((part, index) => {
      const colon = part.indexOf(":");
      if (colon > 0) keys.set(part.slice(0, colon), part.slice(colon + 1));
      else keys.set(`key-${index + 1}`, part);
    });
  return keys;
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/**
 * Checks `Authorization: Bearer <key>` against every configured key in constant time (comparing
 * fixed-length digests, and never stopping at the first match) and returns the key's name.
 */
export function authenticate(authorization: string | undefined, keys: ApiKeys): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) throw new UnauthorizedError("Send an API key as `Authorization: Bearer <key>`.");
  const offered = digest(match[1]!);
  let found: string | undefined;
  for (const [name, key] of keys) {
    if (timingSafeEqual(offered, digest(key)) && found === undefined) found = name;
  }
  if (found === undefined) throw new UnauthorizedError("The API key is not valid.");
  return found;
}
