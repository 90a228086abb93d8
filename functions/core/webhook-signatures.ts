/**
 * Signed inbound webhooks: who sent this body, proven by an HMAC over its exact bytes.
 *
 * Two schemes arrive here:
 * - **Standard Webhooks** (standardwebhooks.com) on the trigger route, for shops and CRMs that sign
 *   rather than hold an API key: `webhook-id`, `webhook-timestamp`, `webhook-signature`, an
 *   HMAC-SHA256 over `id.timestamp.body`, several space-separated signatures during a rotation, and a
 *   timestamp within 5 minutes of our clock so a captured request cannot be replayed later. The
 *   `standardwebhooks` package does the cryptography; we add named secrets and exact-bytes handling.
 * - **PassEntry's own webhooks**: `X-Webhook-Signature`, an HMAC-SHA256 of the body keyed with the
 *   subscription's secret. PassEntry documents neither the encoding nor a timestamp, so hex and
 *   base64 are both accepted and replays are stopped by the event id instead (see automations.ts).
 *
 * Every failure is an UnauthorizedError whose sentence names what was wrong, never a secret.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { callerId } from "./callers.js";
import { UnauthorizedError, ValidationError } from "./errors.js";
import { splitNamedList } from "./named-list.js";
import { memoizeLast } from "./memoize-last.js";
import type { CallerId } from "./schemas.js";

/** Standard Webhooks' tolerance, which the package enforces: a signature older or newer than this is refused. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

/** Shorter secrets are guessable offline from one captured signature; the spec asks for 24 to 64 bytes. */
const MIN_SECRET_BYTES = 16;

/** Standard Webhooks verifiers, one per configured signing secret, each with the signer (caller) it proves. */
export type SigningSecrets = readonly { caller: CallerId; verifier: Webhook }[];

/**
 * Reads named signing secrets from a secret value: a JSON object `{"shop":"whsec_…"}` or
 * `{"shop":["whsec_new","whsec_old"]}` (Secrets Manager) or a comma-separated list `shop:whsec_…,crm:whsec_…` (the local
 * `WEBHOOK_SIGNING_SECRETS`); a bare `whsec_…` is named `signer-1`. Two entries under one name
 * (old and new secret) make a rotation seamless, and both prove the same caller `signer:<name>`.
 * Throws a sentence naming the entry, never its value.
 *
 * @example parseSigningSecrets("shop:whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")[0].caller // "signer:shop"
 */
export const parseSigningSecrets = memoizeLast(function parseSigningSecrets(raw: string): SigningSecrets {
  const entries: [string, string][] = [];
  const text = raw.trim();
  if (text.startsWith("{")) {
    const parsed = parseSecretJson(text, "webhook signing secrets");
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error('The webhook signing secrets must be a JSON object {"<name>": "whsec_…"}.');
    }
    for (const [name, value] of Object.entries(parsed)) {
      const secrets: unknown[] = Array.isArray(value) ? value : [value];
      for (const secret of secrets) {
        if (typeof secret !== "string")
          throw new Error(
            `The webhook signing secret ${quoteName(name)} must be a string, or a list of strings during a rotation.`,
          );
        entries.push([name, secret]);
      }
    }
  } else {
    // Secrets never contain ":" (base64 after whsec_), so the first colon ends the name.
    entries.push(...splitNamedList(text, "signer"));
  }
  return entries.map(([name, secret]) => ({
    caller: callerId("signer", name),
    verifier: verifierFor(name, secret.trim()),
  }));
});

function verifierFor(name: string, secret: string): Webhook {
  const base64 = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  const problem = `The webhook signing secret ${quoteName(name)} must be whsec_ followed by at least ${MIN_SECRET_BYTES} bytes in base64.`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || Buffer.from(base64, "base64").length < MIN_SECRET_BYTES)
    throw new Error(problem);
  try {
    return new Webhook(secret);
  } catch {
    // The package's own messages are safe, but one sentence for every malformed secret is simpler to act on.
    throw new Error(problem);
  }
}

/** The three Standard Webhooks headers as a request carried them; absent ones are undefined. */
export interface StandardWebhookHeaders {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
}

/**
 * The Standard Webhooks headers, or undefined when the request carries none of them (it then
 * authenticates with an API key). One or two of them alone is a broken signature, not an API-key call.
 */
export function standardWebhookHeaders(
  header: (name: string) => string | undefined,
): StandardWebhookHeaders | undefined {
  const found = {
    id: header("webhook-id"),
    timestamp: header("webhook-timestamp"),
    signature: header("webhook-signature"),
  };
  return found.id === undefined && found.timestamp === undefined && found.signature === undefined ? undefined : found;
}

/**
 * Verifies a Standard Webhooks signature over the exact body bytes and returns the signer (the
 * caller named by the secret that signed it). The timestamp must lie within 5 minutes of the
 * system clock (the package reads it). Throws UnauthorizedError for anything unsigned, mis-signed or stale.
 *
 * @example
 *   const signer = verifyStandardWebhook(body, { id, timestamp, signature }, parseSigningSecrets(raw)); // "signer:shop"
 */
export function verifyStandardWebhook(
  body: Buffer,
  headers: StandardWebhookHeaders,
  secrets: SigningSecrets,
): CallerId {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) {
    throw new UnauthorizedError(
      "A signed request needs all three headers: webhook-id, webhook-timestamp and webhook-signature.",
    );
  }
  if (!/^\d{1,12}$/.test(timestamp.trim()))
    throw new UnauthorizedError("The webhook-timestamp header must be a Unix time in seconds.");
  const payload = exactText(body);
  const signed = { "webhook-id": id, "webhook-timestamp": timestamp.trim(), "webhook-signature": signature };
  let signer: CallerId | undefined;
  let stale = false;
  // Every secret is tried, even after a match: how long this takes says nothing about which one matched.
  for (const { caller, verifier } of secrets) {
    try {
      verifier.verify(payload, signed, { jsonParse: false });
      signer ??= caller;
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      if (/timestamp too (old|new)/i.test(error.message)) stale = true;
    }
  }
  if (signer !== undefined) return signer;
  if (stale) {
    throw new UnauthorizedError(
      `The webhook-timestamp is more than ${WEBHOOK_TOLERANCE_SECONDS / 60} minutes away from our clock; sign the request again with the current time.`,
    );
  }
  throw new UnauthorizedError("The webhook signature is not valid.");
}

/**
 * The body as text that re-encodes to exactly the bytes received. The package signs a string, and
 * a lossy decode (invalid UTF-8 turned into U+FFFD, a byte-order mark dropped) would let two
 * different byte sequences share one signature; such bodies are not JSON anyway.
 */
function exactText(body: Buffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    throw new ValidationError("The body is not valid UTF-8.", ["The body must be UTF-8 encoded JSON."], 400);
  }
}

// ---------------------------------------------------------------------------------------------
// PassEntry's webhooks

/**
 * Reads PassEntry's webhook secrets: a JSON array `["old","new"]` (Secrets Manager) or a
 * comma-separated list (the local `PASSENTRY_WEBHOOK_SECRETS`). Two during a rotation: PassEntry
 * invalidates the old secret at once, so both are accepted until the change is done.
 *
 * @example parsePassEntryWebhookSecrets('["s1","s2"]') // ["s1", "s2"]
 */
export const parsePassEntryWebhookSecrets = memoizeLast(function parsePassEntryWebhookSecrets(
  raw: string,
): readonly string[] {
  const text = raw.trim();
  if (!text.startsWith("["))
    return text
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  const parsed = parseSecretJson(text, "PassEntry webhook secrets");
  if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === "string")) {
    throw new Error("The PassEntry webhook secrets must be a JSON array of strings.");
  }
  return parsed.map((s: string) => s.trim()).filter(Boolean);
});

const SHA256_BYTES = 32;

/**
 * Checks PassEntry's `X-Webhook-Signature`: HMAC-SHA256 of the raw body, hex or base64 (an optional
 * `sha256=` prefix is tolerated), against every configured secret in constant time.
 * Throws UnauthorizedError when it is missing or matches none.
 */
export function verifyPassEntrySignature(
  body: Buffer,
  signatureHeader: string | undefined,
  secrets: readonly string[],
): void {
  const offered = decodeDigest(signatureHeader);
  if (!offered)
    throw new UnauthorizedError("The X-Webhook-Signature header is missing or is not an HMAC-SHA256 in hex or base64.");
  let matched = false;
  for (const secret of secrets) {
    const expected = createHmac("sha256", secret).update(body).digest();
    if (timingSafeEqual(expected, offered)) matched = true;
  }
  if (!matched) throw new UnauthorizedError("The webhook signature is not valid.");
}

/** The 32 digest bytes a signature header names, or undefined when it is not a SHA-256 digest in hex or base64. */
function decodeDigest(header: string | undefined): Buffer | undefined {
  const text = header?.trim().replace(/^sha256=/i, "");
  if (!text) return undefined;
  if (/^[0-9a-f]{64}$/i.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    return bytes.length === SHA256_BYTES ? bytes : undefined;
  }
  return undefined;
}

/** Signs a body as PassEntry does (hex); for tests and the README's curl. */
export function signPassEntryWebhook(body: string | Buffer, secret: string): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

// ---------------------------------------------------------------------------------------------

function parseSecretJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text it choked on, which here is a secret.
    throw new Error(`The ${what} are not valid JSON.`);
  }
}

function quoteName(name: string): string {
  return JSON.stringify(name.slice(0, 100));
}
