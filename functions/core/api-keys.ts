/**
 * API keys for the trigger API: several named keys, so one can be rotated while another still
 * works. A key's name is its caller (`key:<name>`, or `operator:<name>` for a key marked operator),
 * recorded on each request it makes; several keys may share a name, and so its requests. A key may
 * be stored as its SHA-256 hash instead, so that whoever can read the secret still cannot call the API.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import * as z from "./zod.js";
import { callerId } from "./callers.js";
import { UnauthorizedError } from "./errors.js";
import { splitNamedList } from "./named-list.js";
import { memoizeLast } from "./memoize-last.js";
import type { SecretStore } from "./ports.js";
import type { CallerId } from "./schemas.js";

/** One accepted key: whose it is, and the SHA-256 digest of the key (plain keys are hashed on reading, so only digests are compared). */
export interface ApiKey {
  caller: CallerId;
  digest: Buffer;
}
export type ApiKeys = readonly ApiKey[];

const HASHED_KEY = /^sha256:([0-9a-f]{64})$/i;

const StoredKey = z.union([z.string(), z.strictObject({ sha256: z.string() })]);
type StoredKey = z.infer<typeof StoredKey>;

/**
 * The JSON form of the secret: each name maps to a key, `"sha256:<hex>"`, `{"sha256": "<hex>"}`, a
 * list of those (several keys, one caller), or `{"operator": true, "keys": [...]}` for operator keys.
 */
const ApiKeysDocument = z.record(
  z.string(),
  z.union([
    StoredKey,
    z.array(StoredKey),
    z.strictObject({ operator: z.optional(z.boolean()), keys: z.array(StoredKey).check(z.minLength(1)) }),
  ]),
);

/**
 * Reads keys from a secret value: a JSON object (Secrets Manager)
 * `{"crm":"k1","shop":{"sha256":"<hex>"},"ops":{"operator":true,"keys":["k3"]}}`, or a
 * comma-separated list (the local `API_KEYS`) `crm:k1,crm:k1-next,shop:sha256:<hex>,operator:ops:k3`,
 * where `operator:<name>:<key>` marks an operator key and a bare `k1` is named `key-1`. `<hex>` is
 * the SHA-256 of the key (`printf %s "$KEY" | sha256sum`). Throws a sentence that names the entry,
 * never its value, when the secret is malformed.
 *
 * @example authenticate("Bearer k3", parseApiKeys("crm:k1,operator:ops:k3")) // "operator:ops"
 */
export const parseApiKeys = memoizeLast(function parseApiKeys(raw: string): ApiKeys {
  const text = raw.trim();
  const keys: ApiKey[] = [];
  const add = (kind: "key" | "operator", name: string, stored: StoredKey) => {
    if (typeof stored === "string" && stored.length === 0) return;
    keys.push({
      caller: callerId(kind, name),
      digest: keyDigest(name, typeof stored === "string" ? stored : `sha256:${stored.sha256}`),
    });
  };
  if (text.startsWith("{")) {
    // JSON.parse's own message quotes the text it choked on: it must not reach a log.
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error("The API keys secret is not valid JSON.");
    }
    const document = ApiKeysDocument.safeParse(parsed);
    if (!document.success) {
      throw new Error(
        'The API keys secret must map each name to a key, {"sha256": "<hex>"}, a list of those, or {"operator": true, "keys": [...]}.',
      );
    }
    for (const [name, entry] of Object.entries(document.data)) {
      if (Array.isArray(entry)) for (const stored of entry) add("key", name, stored);
      else if (typeof entry === "object" && "keys" in entry)
        for (const stored of entry.keys) add(entry.operator === true ? "operator" : "key", name, stored);
      else add("key", name, entry);
    }
    return keys;
  }
  for (const [name, value] of splitNamedList(text, "key")) {
    const operator = operatorEntry(name, value);
    if (operator) add("operator", operator.name, operator.key);
    else add("key", name, value);
  }
  return keys;
});

/**
 * `operator:<name>:<key>` in the comma list. An entry named `operator` whose value has no further
 * colon (`operator:<key>`), or is a hash (`operator:sha256:<hex>`), is what it always was: a key
 * named operator.
 */
function operatorEntry(name: string, value: string): { name: string; key: string } | undefined {
  if (name !== "operator") return undefined;
  const colon = value.indexOf(":");
  if (colon <= 0 || value.slice(0, colon).toLowerCase() === "sha256") return undefined;
  return { name: value.slice(0, colon), key: value.slice(colon + 1) };
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/** A stored `sha256:<hex>` is the digest itself; anything else is a plain key. */
function keyDigest(name: string, stored: string): Buffer {
  if (!/^sha256:/i.test(stored)) return digest(stored);
  const hash = HASHED_KEY.exec(stored);
  if (!hash)
    throw new Error(
      `The API key ${JSON.stringify(name.slice(0, 100))} is given as a hash but is not sha256: followed by 64 hex digits.`,
    );
  return Buffer.from(hash[1]!, "hex");
}

/**
 * Checks `Authorization: Bearer <key>` against every configured key in constant time (comparing
 * fixed-length digests, and never stopping at the first match) and returns the key's caller.
 * The scheme's case and the spacing around the key do not matter; the key itself does.
 */
export function authenticate(authorization: string | undefined, keys: ApiKeys): CallerId {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) throw new UnauthorizedError("Send an API key as `Authorization: Bearer <key>`.");
  const offered = digest(match[1]!);
  let found: CallerId | undefined;
  for (const key of keys) {
    if (timingSafeEqual(offered, key.digest) && found === undefined) found = key.caller;
  }
  if (found === undefined) throw new UnauthorizedError("The API key is not valid.");
  return found;
}

/**
 * Who is calling: the `Authorization: Bearer <key>` value checked against the api-keys secret, or a
 * 401 that says how to send a key. Every door that takes an API key (the API's handlers, the
 * console's sign-in) asks here.
 */
export async function authenticateCaller(secrets: SecretStore, authorization: string | undefined): Promise<CallerId> {
  return authenticate(authorization, parseApiKeys(await secrets.get("api-keys")));
}
