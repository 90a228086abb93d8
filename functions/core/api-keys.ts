/**
 * API keys for the trigger API: several named keys, so one can be rotated while another still
 * works. The name (never the key) is recorded on each request the key made. A key may be stored as
 * its SHA-256 hash instead, so that whoever can read the secret still cannot call the API.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import * as z from "./zod.js";
import { UnauthorizedError } from "./errors.js";
import { splitNamedList } from "./named-list.js";
import { memoizeLast } from "./memoize-last.js";

/** Each key's name and the SHA-256 digest of the key: plain keys are hashed on reading, so only digests are compared. */
export type ApiKeys = ReadonlyMap<string, Buffer>;

const HASHED_KEY = /^sha256:([0-9a-f]{64})$/i;

/** The JSON form of the secret: each name maps to a key, `"sha256:<hex>"`, or `{"sha256": "<hex>"}`. */
const ApiKeysDocument = z.record(z.string(), z.union([z.string(), z.strictObject({ sha256: z.string() })]));

/**
 * Reads keys from a secret value: a JSON object `{"crm":"k1","shop":{"sha256":"<hex>"}}` (Secrets
 * Manager) or a comma-separated list `crm:k1,shop:sha256:<hex>` (the local `API_KEYS`); a bare `k1`
 * is named `key-1`. `<hex>` is the SHA-256 of the key (`printf %s "$KEY" | sha256sum`). Throws a
 * sentence that names the entry, never its value, when the secret is malformed.
 *
 * @example parseApiKeys('{"crm":"s3cret"}').has("crm") // true
 */
export const parseApiKeys = memoizeLast(function parseApiKeys(raw: string): ApiKeys {
  const text = raw.trim();
  const keys = new Map<string, Buffer>();
  if (text.startsWith("{")) {
    // JSON.parse's own message quotes the text it choked on: it must not reach a log.
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error("The API keys secret is not valid JSON.");
    }
    const document = ApiKeysDocument.safeParse(parsed);
    if (!document.success) throw new Error('The API keys secret must map each name to a key or to {"sha256": "<hex>"}.');
    for (const [name, key] of Object.entries(document.data)) {
      if (typeof key === "string") {
        if (key.length > 0) keys.set(name, keyDigest(name, key));
      } else keys.set(name, keyDigest(name, `sha256:${key.sha256}`));
    }
    return keys;
  }
  for (const [name, key] of splitNamedList(text, "key")) keys.set(name, keyDigest(name, key));
  return keys;
});

const digest = (value: string) => createHash("sha256").update(value).digest();

/** A stored `sha256:<hex>` is the digest itself; anything else is a plain key. */
function keyDigest(name: string, stored: string): Buffer {
  if (!/^sha256:/i.test(stored)) return digest(stored);
  const hash = HASHED_KEY.exec(stored);
  if (!hash) throw new Error(`The API key ${JSON.stringify(name.slice(0, 100))} is given as a hash but is not sha256: followed by 64 hex digits.`);
  return Buffer.from(hash[1]!, "hex");
}

/**
 * Checks `Authorization: Bearer <key>` against every configured key in constant time (comparing
 * fixed-length digests, and never stopping at the first match) and returns the key's name.
 */
export function authenticate(authorization: string | undefined, keys: ApiKeys): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) throw new UnauthorizedError("Send an API key as `Authorization: Bearer <key>`.");
  const offered = digest(match[1]!);
  let found: string | undefined;
  for (const [name, storedDigest] of keys) {
    if (timingSafeEqual(offered, storedDigest) && found === undefined) found = name;
  }
  if (found === undefined) throw new UnauthorizedError("The API key is not valid.");
  return found;
}
