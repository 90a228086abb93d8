/**
 * What every HTTP handler shares: reading a JSON body safely (size, content type, base64 from API
 * Gateway), answering JSON, and turning any error into a 4xx that explains or a plain 5xx.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { toHttpError, ValidationError } from "../core/errors.js";
import type { Log } from "../core/ports.js";

/**
 * Bodies above 256 KB are refused before parsing. 256,000 rather than 262,144 (256 KiB): the queue
 * message wraps the body with a request id and a few fields, and SQS refuses messages over 256 KiB,
 * so a body we accept must always fit in the message we then send.
 */
export const MAX_BODY_BYTES = 256_000;

export type HttpAnswer = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpAnswer {
  return { statusCode, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}

export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** The raw body bytes, decoded from base64 when API Gateway encoded them. */
export function rawBody(event: APIGatewayProxyEventV2): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, "base64") : Buffer.from(event.body, "utf8");
}

/** Parses a JSON request body, refusing wrong content types (415), oversize (413) and malformed JSON (400). */
export function readJsonBody(event: APIGatewayProxyEventV2): unknown {
  const contentType = (header(event, "content-type") ?? "").toLowerCase();
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/.test(contentType)) {
    throw new ValidationError("Send the body as JSON.", ["Content-Type must be application/json."], 415);
  }
  return parseJsonBytes(boundedRawBody(event));
}

/** The raw body bytes, refused (413) above MAX_BODY_BYTES before anything reads or hashes them. */
export function boundedRawBody(event: APIGatewayProxyEventV2): Buffer {
  const bytes = rawBody(event);
  if (bytes.length > MAX_BODY_BYTES) {
    throw new ValidationError("The body is too large.", [`The body must be at most ${MAX_BODY_BYTES} bytes.`], 413);
  }
  return bytes;
}

/**
 * JSON nested deeper than this is refused (400). Nothing we accept nests past a handful of levels,
 * and 100,000 levels of `[` fit in 256 KB: JSON.parse survives them, but JSON.stringify and every
 * recursive walk after it overflow the stack, which would turn hostile input into a 500.
 */
export const MAX_JSON_DEPTH = 64;

/** Parses body bytes as UTF-8 JSON: 400 for invalid UTF-8, excessive nesting or malformed JSON. */
export function parseJsonBytes(bytes: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError("The body is not valid UTF-8.", ["The body must be UTF-8 encoded JSON."], 400);
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new ValidationError(
      "The body nests too deeply.",
      [`The JSON body must nest at most ${MAX_JSON_DEPTH} levels deep.`],
      400,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(
      "The body is not valid JSON.",
      [
        `The body is not valid JSON: ${whereJsonBreaks(text, error)}. Send a JSON object such as {"batch":{"message":"Hello","segments":[{"groupTag":"vip"}]}}.`,
      ],
      400,
    );
  }
  const inexact = mayBeInexact(text) ? firstInexactNumber(value, "") : undefined;
  if (inexact !== undefined) {
    const where = inexact.path === "" ? "The body" : inexact.path;
    throw new ValidationError(
      "The body holds a number that cannot be kept exactly.",
      [
        inexact.infinite
          ? `${where} is a number that cannot be represented (too large: it would read as infinity): send pass ids, and any other long number, as text, e.g. "passId": "…".`
          : `${where} is a number JSON keeps only rounded (past 9007199254740991, e.g. 12345678901234567 reads as 12345678901234568), so it would name another pass: send pass ids, and any other long number, as text, e.g. "extId": "12345678901234567".`,
      ],
      400,
    );
  }
  return value;
}

/**
 * Where JSON.parse gave up, as a position and line/column. Only V8's offset is used: its message
 * can quote a stretch of the body, and a body may carry what its sender would not want echoed.
 */
function whereJsonBreaks(text: string, error: unknown): string {
  const offset = /at position (\d+)/.exec((error as Error)?.message ?? "")?.[1];
  if (offset === undefined) return text.trim() === "" ? "it is empty" : "it ends before the JSON is complete";
  const position = Number(offset);
  const before = text.slice(0, position).split("\n");
  const where = `position ${position} (line ${before.length}, column ${before[before.length - 1]!.length + 1})`;
  return position >= text.length ? `it ends before the JSON is complete, at ${where}` : `it breaks at ${where}`;
}

/**
 * Text that could hold a number JSON.parse cannot keep exactly: one with a positive exponent, or 16
 * digits in a row (2^53 has 16). Only then is the parsed body walked (the walk costs about half a
 * parse on a full 256 KB body); a false match (such digits inside a string) only costs that walk.
 * UUIDs never match: their longest run of digits is 12.
 */
const POSITIVE_EXPONENT = /[:[,]\s*-?\d+(?:\.\d+)?[eE]\+?\d/;
const DIGITS_16 = /\d{16}/;
/** Two scans: one alternation costs twice their sum (measured on a full 256 KB body). */
const mayBeInexact = (text: string) => POSITIVE_EXPONENT.test(text) || DIGITS_16.test(text);

/**
 * The path of the first whole number JSON.parse could not keep exactly: ±Infinity (`1e400`), or an
 * integer past Number.MAX_SAFE_INTEGER, which it rounds (`12345678901234567` → `…568`). JSON allows
 * both, but a pass id rounded names another pass, and one turned into infinity would be refused
 * later as "must name a pass" without saying why. Fractions are left as they are (a variable such as
 * 3.14159… rounds as every JSON reader rounds it). Depth is bounded by MAX_JSON_DEPTH, checked
 * before parsing.
 */
function firstInexactNumber(value: unknown, path: string): { path: string; infinite: boolean } | undefined {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return { path, infinite: true };
    return Number.isInteger(value) && !Number.isSafeInteger(value) ? { path, infinite: false } : undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  for (const [key, child] of Object.entries(value)) {
    const found = firstInexactNumber(child, path === "" ? key : `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Counts open brackets outside strings, stopping as soon as `limit` is passed: linear, no recursion. */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}

/** Runs an HTTP use case, mapping errors: detail below 500, nothing internal above. */
export async function answering(log: Log, work: () => Promise<HttpAnswer>): Promise<HttpAnswer> {
  try {
    return await work();
  } catch (error) {
    const answer = toHttpError(error);
    if (answer.statusCode >= 500)
      log.error("request handling failed", {
        error: (error as Error)?.message ?? String(error),
        name: (error as Error)?.name,
      });
    return json(answer.statusCode, answer.body);
  }
}
