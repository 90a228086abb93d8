/**
 * Redaction by value, not by spelling: before text that may echo a secret (PassEntry's error
 * bodies echo what they were sent) is stored, logged or answered, every spelling of the secret is
 * cut out. An echo need not be verbatim: a gateway may upper-case a header, percent-encode it, or
 * base64-encode a whole `Authorization: Bearer …` line, putting the secret at any position inside
 * a longer encoded text. This is the one place that knows those spellings.
 *
 * @example redactSecrets(`bad token ${Buffer.from("Bearer s3cret-t0ken").toString("base64")}`, ["s3cret-t0ken"]) // "bad token [redacted]"
 */
import { memoizeLast } from "./memoize-last.js";

export const REDACTED = "[redacted]";

/** Shorter values would cut ordinary words out of messages; no secret we hold is that short. */
const MIN_SECRET_LENGTH = 8;

const BASE64_CHAR = /[A-Za-z0-9+/_=-]/;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A pattern for the secret as is, in any letter case, with any of its characters percent-encoded. */
function plainSpelling(secret: string): string {
  return [...secret]
    .map((char) => {
      const encoded = [...Buffer.from(char, "utf8")].map((byte) => `%${byte.toString(16).padStart(2, "0")}`).join("");
      return `(?:${escapeRegExp(char)}|${encoded})`;
    })
    .join("");
}

/**
 * Base64 of any text containing the secret holds, at a 4-character boundary, the encoding of the
 * secret's bytes from the first whole 3-byte group on: one such core per position of the secret
 * modulo 3. Cores are given in standard and URL-safe alphabets, for the secret as given and upper-
 * and lower-cased.
 */
function base64Cores(secret: string): string[] {
  const cores = new Set<string>();
  for (const variant of new Set([secret, secret.toUpperCase(), secret.toLowerCase()])) {
    const bytes = Buffer.from(variant, "utf8");
    for (let skip = 0; skip < 3; skip++) {
      const whole = Math.floor((bytes.length - skip) / 3) * 3;
      if (whole < 6) continue;
      const core = bytes.subarray(skip, skip + whole);
      cores.add(core.toString("base64"));
      cores.add(core.toString("base64url"));
    }
  }
  return [...cores];
}

interface Patterns {
  /** Base64 cores: a match is widened to the whole encoded run around it. */
  encoded: RegExp;
  plain: RegExp;
}

const patternsFor = memoizeLast((secretsKey: string): Patterns | undefined => {
  const secrets = (JSON.parse(secretsKey) as string[]).filter((secret) => secret.length >= MIN_SECRET_LENGTH);
  if (secrets.length === 0) return undefined;
  return {
    encoded: new RegExp(secrets.flatMap(base64Cores).map(escapeRegExp).join("|"), "g"),
    // With the `Bearer ` (or `Bearer%20`) before it, so the answer reads "[redacted]", not "Bearer [redacted]".
    plain: new RegExp(`(?:bearer(?:\\s|%20|\\+)+)?(?:${secrets.map(plainSpelling).join("|")})`, "gi"),
  };
});

/**
 * Returns `text` with every spelling of every secret replaced by `[redacted]`; an encoded run that
 * holds a secret is replaced whole. Linear in the text's length (no backtracking pattern), so a
 * hostile error body cannot stall the sender.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  const patterns = patternsFor(JSON.stringify(secrets));
  if (patterns === undefined) return text;
  const cuts: [start: number, end: number][] = [];
  for (const match of text.matchAll(patterns.encoded)) {
    let start = match.index;
    let end = start + match[0].length;
    while (start > 0 && BASE64_CHAR.test(text[start - 1]!)) start--;
    while (end < text.length && BASE64_CHAR.test(text[end]!)) end++;
    cuts.push([start, end]);
  }
  for (const match of text.matchAll(patterns.plain)) cuts.push([match.index, match.index + match[0].length]);
  if (cuts.length === 0) return text;
  cuts.sort((a, b) => a[0] - b[0]);
  let out = "";
  let at = 0;
  for (const [start, end] of cuts) {
    if (end <= at) continue;
    out += text.slice(at, Math.max(at, start)) + (start >= at ? REDACTED : "");
    at = end;
  }
  return out + text.slice(at);
}
