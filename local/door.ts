/**
 * The embedded home's door: what `npm start` checks before a handler runs, standing in for API
 * Gateway's throttling on AWS (which cannot do what follows; see the README's "Limits").
 *
 * - An API key is checked before the body is read. A wrong or missing one is answered 401 at once,
 *   without buffering anything, and counts against the client's address.
 * - A verified caller (the key's caller, whatever the header's spelling; a signer or PassEntry once
 *   their signature is verified) spends from its own token bucket: a burst, then a sustained rate.
 * - Each address may fail authentication only so often; past that, its requests that would need
 *   authenticating are refused (429) before their credentials are even compared, so guessing
 *   stays slow for a right guess too. /health needs no credential and is never refused.
 * - A signed request can only be verified once its body is in, so what unverified requests may
 *   buffer is capped per address and in total: a flood of half-sent bodies gets 429, not memory.
 *
 * The handlers check every credential again: the door decides who may spend our time, the
 * handlers what a request may do.
 */
import type { IncomingMessage } from "node:http";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { authenticateCaller } from "../functions/core/api-keys.js";
import { toHttpError, UnauthorizedError, ValidationError } from "../functions/core/errors.js";
import type { Clock, SecretStore } from "../functions/core/ports.js";
import {
  parsePassEntryWebhookSecrets,
  parseSigningSecrets,
  standardWebhookHeaders,
  verifyPassEntrySignature,
  verifyStandardWebhook,
} from "../functions/core/webhook-signatures.js";
import { MAX_BODY_BYTES } from "../functions/handlers/http.js";
import { clientAddressOf, RequestThrottle, type ThrottleDecision } from "./request-throttle.js";

/** What a route asks of its callers. */
export type Credential =
  /** `Authorization: Bearer <key>` (request status, cancel). */
  | "api-key"
  /** An API key, or a Standard Webhooks signature when the request carries `webhook-*` headers (the trigger route). */
  | "api-key-or-signature"
  /** PassEntry's `X-Webhook-Signature` over the body. */
  | "passentry-signature"
  /** The console's sign-in form: an API key in a form body. A wrong one counts against the address like a wrong header. */
  | "console-sign-in"
  /** Nothing: never refused (health checks). */
  | "none";

export interface RateLimit {
  /** Sustained requests per second. */
  ratePerSecond: number;
  /** Requests at once after being idle. */
  burst: number;
}

export interface UnverifiedBodyLimit {
  /** Bytes of not yet verified bodies one client address may have in flight (at least one full body). */
  perAddressBytes: number;
  /** The same, for all addresses together. */
  totalBytes: number;
}

/**
 * 20 failures at once, then one every 5 s (12 a minute): a caller with a mistyped key sees its
 * 401s; a guesser gets 12 guesses a minute per address. Behind one address (a NAT, or 127.0.0.1
 * for everything on this machine) callers share this budget.
 */
export const DEFAULT_AUTH_FAILURE_LIMIT: RateLimit = { ratePerSecond: 0.2, burst: 20 };

/**
 * 8 MiB per address (32 bodies of the largest size we accept; thousands of typical 1-2 KB signed
 * requests), 32 MiB in all: a flood of half-sent bodies is refused long before it matters to a
 * process of ~150 MB, while the signed requests of real senders are a few kilobytes each.
 */
export const DEFAULT_UNVERIFIED_BODY_LIMIT: UnverifiedBodyLimit = {
  perAddressBytes: 8 * 1024 * 1024,
  totalBytes: 32 * 1024 * 1024,
};

/** The identity PassEntry's verified webhooks spend from. */
const PASSENTRY_IDENTITY = "passentry";

export type HttpAnswer = APIGatewayProxyStructuredResultV2;

/** Room held for one unverified body while it is read and handled; `release` is safe to call twice. */
export interface BodyReservation {
  release(): void;
}

export type BeforeBody = { refuse: HttpAnswer } | { admit: true; reservation?: BodyReservation };

export interface DoorOptions {
  secrets: SecretStore;
  clock: Clock;
  /** Per verified caller. Unset: no limit. */
  rateLimit?: RateLimit | undefined;
  /** Failed authentications per client address. Unset: no limit. */
  authFailureLimit?: RateLimit | undefined;
  unverifiedBodyLimit?: UnverifiedBodyLimit | undefined;
}

const jsonAnswer = (statusCode: number, message: string, headers: Record<string, string> = {}): HttpAnswer => ({
  statusCode,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify({ errors: [message] }),
});

const tooMany = (decision: Extract<ThrottleDecision, { allowed: false }>, what: string): HttpAnswer =>
  jsonAnswer(429, `${what}; retry after ${decision.retryAfterSeconds} s.`, {
    "retry-after": String(decision.retryAfterSeconds),
  });

export class Door {
  private readonly callers: RequestThrottle | undefined;
  private readonly failures: RequestThrottle | undefined;
  private readonly bodyLimit: UnverifiedBodyLimit;
  private readonly buffered = new Map<string, number>();
  private bufferedTotal = 0;

  constructor(private readonly options: DoorOptions) {
    const now = () => options.clock.now();
    this.callers = options.rateLimit ? new RequestThrottle({ ...options.rateLimit, now }) : undefined;
    this.failures = options.authFailureLimit ? new RequestThrottle({ ...options.authFailureLimit, now }) : undefined;
    this.bodyLimit = options.unverifiedBodyLimit ?? DEFAULT_UNVERIFIED_BODY_LIMIT;
    if (this.bodyLimit.perAddressBytes < MAX_BODY_BYTES || this.bodyLimit.totalBytes < this.bodyLimit.perAddressBytes) {
      throw new Error(
        `The unverified body limit must allow at least one body of ${MAX_BODY_BYTES} bytes per address, and in total at least the per-address limit.`,
      );
    }
  }

  /** Decides from the headers alone: an API key is checked here; a signed request gets room for its body. */
  async beforeBody(req: IncomingMessage, credential: Credential): Promise<BeforeBody> {
    if (credential === "none") return { admit: true };
    const address = clientAddressOf(req);
    const lockedOut = this.failures?.peek(address);
    if (lockedOut && !lockedOut.allowed)
      return { refuse: tooMany(lockedOut, "Too many failed authentications from this address") };
    if (credential === "console-sign-in") return { admit: true };

    if (!this.isSigned(req, credential)) {
      let caller: string;
      try {
        caller = await authenticateCaller(this.options.secrets, req.headers.authorization);
      } catch (error) {
        if (!(error instanceof UnauthorizedError)) throw error;
        this.failures?.take(address);
        // The handler's own answer to this key, word for word.
        const answer = toHttpError(error);
        return {
          refuse: {
            statusCode: answer.statusCode,
            headers: { "content-type": "application/json" },
            body: JSON.stringify(answer.body),
          },
        };
      }
      return this.spend(caller);
    }

    const declared = Number(req.headers["content-length"] ?? Number.NaN);
    const size = Number.isInteger(declared) && declared >= 0 ? declared : MAX_BODY_BYTES;
    if (size > MAX_BODY_BYTES) return { refuse: jsonAnswer(413, `The body must be at most ${MAX_BODY_BYTES} bytes.`) };
    const reservation = this.reserve(address, size);
    if (!reservation)
      return {
        refuse: jsonAnswer(429, "Too many unverified requests from this address are being received; retry after 1 s.", {
          "retry-after": "1",
        }),
      };
    return { admit: true, reservation };
  }

  /**
   * For a signed request, once its body is in: who signed it, spending from that caller's bucket;
   * or a failed authentication counted against the address, left to the handler to answer (it
   * says precisely what was wrong). Undefined: go on to the handler.
   */
  async afterBody(req: IncomingMessage, credential: Credential, body: Buffer): Promise<HttpAnswer | undefined> {
    if (credential === "console-sign-in") {
      // The handler answers (with the form again); the door only counts a wrong key against the address.
      const key = new URLSearchParams(body.toString("utf8").slice(0, 10_000)).get("key") ?? "";
      try {
        await authenticateCaller(this.options.secrets, `Bearer ${key}`);
      } catch (error) {
        if (!(error instanceof UnauthorizedError)) throw error;
        this.failures?.take(clientAddressOf(req));
      }
      return undefined;
    }
    if (credential === "none" || !this.isSigned(req, credential)) return undefined;
    let signer: string;
    try {
      signer = await this.signer(req, credential, body);
    } catch (error) {
      if (!(error instanceof UnauthorizedError || error instanceof ValidationError)) throw error;
      this.failures?.take(clientAddressOf(req));
      return undefined;
    }
    const spent = this.spend(signer);
    return "refuse" in spent ? spent.refuse : undefined;
  }

  private isSigned(req: IncomingMessage, credential: Credential): boolean {
    if (credential === "passentry-signature") return true;
    return credential === "api-key-or-signature" && standardWebhookHeaders((name) => headerOf(req, name)) !== undefined;
  }

  private async signer(req: IncomingMessage, credential: Credential, body: Buffer): Promise<string> {
    if (credential === "passentry-signature") {
      verifyPassEntrySignature(
        body,
        headerOf(req, "x-webhook-signature"),
        parsePassEntryWebhookSecrets(await this.options.secrets.get("passentry-webhook-secrets")),
      );
      return PASSENTRY_IDENTITY;
    }
    const headers = standardWebhookHeaders((name) => headerOf(req, name))!;
    return verifyStandardWebhook(
      body,
      headers,
      parseSigningSecrets(await this.options.secrets.get("webhook-signing-secrets")),
    );
  }

  private spend(caller: string): BeforeBody {
    const decision = this.callers?.take(caller);
    return decision && !decision.allowed ? { refuse: tooMany(decision, "Too many requests") } : { admit: true };
  }

  private reserve(address: string, bytes: number): BodyReservation | undefined {
    const held = this.buffered.get(address) ?? 0;
    if (held + bytes > this.bodyLimit.perAddressBytes || this.bufferedTotal + bytes > this.bodyLimit.totalBytes)
      return undefined;
    this.buffered.set(address, held + bytes);
    this.bufferedTotal += bytes;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.buffered.get(address) ?? bytes) - bytes;
        if (left > 0) this.buffered.set(address, left);
        else this.buffered.delete(address);
        this.bufferedTotal -= bytes;
      },
    };
  }
}

/** One header as a string (Node joins repeated ones, as API Gateway does). */
function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(",") : value;
}
