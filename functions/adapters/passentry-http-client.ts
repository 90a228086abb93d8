/**
 * PassEntry's batch API over HTTPS (or the local sandbox over HTTP).
 *
 * Every failure becomes a PassEntryError classified as retryable (429, 5xx, network, timeout),
 * authentication (401/403) or permanent (other 4xx), and says whether the outcome is known: a POST
 * that timed out or lost its connection may have created the batch, so the sender reconciles
 * instead of posting again. The token is read from the SecretStore per call (cached there), fetched
 * again once after a 401, and never put in a message, a log line or an error (in any spelling: see
 * core/redact.ts).
 */
import { DEFAULTS } from "../config.js";
import * as z from "../core/zod.js";
import { PassEntryError } from "../core/errors.js";
import type { CreateBatchInput, PassEntryClient, SecretStore } from "../core/ports.js";
import { CircuitBreaker } from "../core/circuit-breaker.js";
import { redactSecrets } from "../core/redact.js";
import { Pacer } from "../core/pacer.js";
import { PassEntryBatchDocument, PassEntryBatchList, PassEntryErrorBody } from "../core/schemas.js";

export interface PassEntryHttpClientOptions {
  baseUrl: string;
  secrets: SecretStore;
  /** Per request, in ms. Default PASSENTRY_TIMEOUT_MS's (functions/config.ts). */
  timeoutMs?: number;
  /** Requests per second per endpoint and method for this process. Default PASSENTRY_RATE_PER_SECOND's (functions/config.ts). */
  ratePerSecond?: number;
  pacer?: Pacer;
  /** Shared by every call of this client; stops calls during an outage. */
  breaker?: CircuitBreaker;
  fetch?: typeof fetch;
}

export const ROUTE_CREATE_BATCH = "POST /api/v1/entities/:id/messaging/wallet";
export const ROUTE_SHOW_BATCH = "GET /api/v1/batches/:id";
export const ROUTE_LIST_BATCHES = "GET /api/v1/batches";
export const ROUTE_SEND_NOW = "POST /api/v1/batches/:id/send-now";
export const ROUTE_CANCEL_BATCH = "PATCH /api/v1/batches/:id/cancel";

/** Send-now's answer is documented as `{"success": "…"}`; nothing in it is needed, so any body will do. */
const AnyAnswer = z.unknown();

/** Parses `x-rate-limit-retry-after` (decimal seconds). Garbage, negatives and blanks give undefined. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (value == null || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/** One PassEntry call, as each public method describes it to `call`, `attempt` and `exchange`. */
interface Call<T> {
  /** The rate-limit and log name of the endpoint (PassEntry limits per endpoint template + method). */
  route: string;
  method: string;
  path: string;
  schema: z.ZodMiniType<T>;
  body?: unknown;
  /** A call whose answer was lost may have taken effect (its outcome is then unknown). */
  createsSomething?: boolean;
  /** Asked after pacing, right before sending: false means the call is not sent at all. */
  mayStillSend?: () => boolean;
}

export class PassEntryHttpClient implements PassEntryClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly pacer: Pacer;
  private readonly breaker: CircuitBreaker;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: PassEntryHttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? DEFAULTS.passEntryTimeoutMs;
    this.pacer = options.pacer ?? new Pacer({ perSecond: options.ratePerSecond ?? DEFAULTS.passEntryRatePerSecond });
    this.breaker = options.breaker ?? new CircuitBreaker();
    this.fetchImpl = options.fetch ?? fetch;
  }

  createBatch({ entityId, batch, mayStillSend }: CreateBatchInput) {
    const path = `/api/v1/entities/${encodeURIComponent(entityId)}/messaging/wallet`;
    return this.call({
      route: ROUTE_CREATE_BATCH,
      method: "POST",
      path,
      schema: PassEntryBatchDocument,
      body: { batch },
      createsSomething: true,
      mayStillSend,
    });
  }

  getBatch(batchId: string) {
    const path = `/api/v1/batches/${encodeURIComponent(batchId)}`;
    return this.call({ route: ROUTE_SHOW_BATCH, method: "GET", path, schema: PassEntryBatchDocument });
  }

  listBatches(page: number) {
    const path = `/api/v1/batches?page=${page}&perPage=25&type=walletMessaging`;
    return this.call({ route: ROUTE_LIST_BATCHES, method: "GET", path, schema: PassEntryBatchList });
  }

  async sendNow(batchId: string): Promise<void> {
    // `createsSomething`: a send-now whose answer was lost may have taken effect. Callers read the
    // batch before trying again rather than rely on the answer.
    const path = `/api/v1/batches/${encodeURIComponent(batchId)}/send-now`;
    await this.call({ route: ROUTE_SEND_NOW, method: "POST", path, schema: AnyAnswer, createsSomething: true });
  }

  cancelBatch(batchId: string) {
    const path = `/api/v1/batches/${encodeURIComponent(batchId)}/cancel`;
    return this.call({
      route: ROUTE_CANCEL_BATCH,
      method: "PATCH",
      path,
      schema: PassEntryBatchDocument,
      createsSomething: true,
    });
  }

  private async call<T>(call: Call<T>): Promise<T> {
    const token = await this.options.secrets.get("passentry-token");
    try {
      return await this.attempt(call, token);
    } catch (error) {
      if (!(error instanceof PassEntryError) || error.kind !== "authentication") throw error;
      // The token may have been rotated since we cached it: read it once more, and retry only if it
      // differs from the one PassEntry just refused.
      this.options.secrets.invalidate("passentry-token");
      const fresh = await this.options.secrets.get("passentry-token");
      if (fresh === token) throw error;
      return this.attempt(call, fresh);
    }
  }

  private async attempt<T>(call: Call<T>, token: string): Promise<T> {
    const { route, mayStillSend } = call;
    await this.pacer.acquire(route);
    if (mayStillSend !== undefined && !mayStillSend()) {
      // Held back (pacing, a slow token read) past the time its claim allows: not sent at all.
      throw new PassEntryError(
        `Not sent: ${route} waited past the time its claim allows; it will be claimed and sent again.`,
        "retryable",
        { outcomeKnown: true, lateStart: true },
      );
    }
    const blockedMs = this.breaker.blockedForMs();
    if (blockedMs > 0) {
      // Nothing was sent, so the outcome is known: the send can simply be tried again later.
      throw new PassEntryError(
        `PassEntry looks unavailable; not calling ${route} for ${Math.ceil(blockedMs / 1000)} s (circuit open).`,
        "retryable",
        {
          outcomeKnown: true,
          retryAfterSeconds: blockedMs / 1000,
          circuitOpen: true,
        },
      );
    }
    try {
      const answer = await this.exchange(call, token);
      this.breaker.recordSuccess();
      return answer;
    } catch (error) {
      if (error instanceof PassEntryError && isOutageSign(error)) this.breaker.recordOutageFailure();
      else this.breaker.recordNeutral();
      throw error;
    }
  }

  private async exchange<T>(
    { route, method, path, schema, body, createsSomething = false }: Call<T>,
    token: string,
  ): Promise<T> {
    let response: Response;
    try {
      response = await this.fetchImpl(this.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw networkError(route, error, createsSomething);
    }
    const text = await response.text().catch(() => "");
    if (response.ok) {
      const parsed = schema.safeParse(safeJson(text));
      if (parsed.success) return parsed.data;
      // PassEntry took the request but we cannot read its answer: the batch may exist.
      throw new PassEntryError(
        `PassEntry answered ${response.status} to ${route} with a body we could not read.`,
        "retryable",
        {
          status: response.status,
          outcomeKnown: !createsSomething,
        },
      );
    }
    throw statusError(route, response, text, createsSomething, token);
  }
}

/** 5xx, timeouts and dropped connections say PassEntry is struggling; 429 and 4xx say nothing of the kind. */
function isOutageSign(error: PassEntryError): boolean {
  return error.kind === "retryable" && error.details.status !== 429;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorTexts(text: string): string[] {
  const parsed = PassEntryErrorBody.safeParse(safeJson(text));
  if (!parsed.success) return [];
  return parsed.data.errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e))).slice(0, 20);
}

function statusError(
  route: string,
  response: Response,
  text: string,
  createsSomething: boolean,
  token: string,
): PassEntryError {
  const status = response.status;
  // PassEntry, or a gateway in front of it, may echo the Authorization header in its error text, in
  // any spelling: these sentences go into logs, the ledger and status answers, so the token is cut
  // out first.
  const errors = errorTexts(text).map((e) => redactSecrets(e, [token]));
  const said = errors.length > 0 ? `: ${errors.join("; ")}` : "";
  if (status === 429) {
    return new PassEntryError(`PassEntry rate-limited ${route} (429)${said}.`, "retryable", {
      status,
      outcomeKnown: true,
      retryAfterSeconds: parseRetryAfter(response.headers.get("x-rate-limit-retry-after")),
      errors,
    });
  }
  if (status === 401 || status === 403) {
    return new PassEntryError(`PassEntry refused the token for ${route} (${status})${said}.`, "authentication", {
      status,
      outcomeKnown: true,
      errors,
    });
  }
  if (status >= 500 || status === 408) {
    // A gateway error can come after the batch was created: the outcome of a POST is not known.
    return new PassEntryError(`PassEntry failed ${route} with ${status}${said}.`, "retryable", {
      status,
      outcomeKnown: !createsSomething,
      errors,
    });
  }
  return new PassEntryError(`PassEntry rejected ${route} with ${status}${said}.`, "permanent", {
    status,
    outcomeKnown: true,
    errors,
  });
}

function networkError(route: string, error: unknown, createsSomething: boolean): PassEntryError {
  const cause = (error as { cause?: { code?: string } } | undefined)?.cause;
  const code = cause?.code ?? (error as { name?: string } | undefined)?.name ?? "unknown";
  // Refused or unresolvable: the request never left, so PassEntry cannot have acted on it.
  const neverSent = code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
  const timedOut = code === "TimeoutError" || code === "AbortError";
  const what = timedOut ? "timed out" : `failed (${code})`;
  return new PassEntryError(`PassEntry request ${route} ${what}.`, "retryable", {
    outcomeKnown: neverSent || !createsSomething,
  });
}
