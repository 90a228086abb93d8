/**
 * Capability interfaces the use cases depend on. `wiring.ts` picks one adapter per home (AWS or
 * local); tests build use cases from the same adapters or small fakes. One contract suite per port
 * (test/adapters/) runs against every adapter, so the homes cannot drift apart.
 */
import type { CallerId, PassEntryBatchDocument, PassEntryBatchList, RequestRecord, SendRecord, WalletMessageBatch, WalletMessageEvent } from "./schemas.js";

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

/** Structured logging: one JSON line per call. Never pass secrets in `fields`. */
export interface Log {
  /** What an operator needs only when digging (hidden at the default log level). */
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Where accepted requests wait for the sender. */
export interface MessageQueue {
  /** Sends one JSON message; `delaySeconds` holds it back (SQS allows up to 900). Returns the message id. */
  send(body: unknown, options?: { delaySeconds?: number }): Promise<string>;
}

/** Read-only access to named secrets (the PassEntry token, API keys). Implementations cache. */
export interface SecretStore {
  get(name: SecretName): Promise<string>;
  /** Forget a cached value, e.g. after PassEntry answered 401 with it. */
  invalidate(name: SecretName): void;
}
/** `webhook-signing-secrets`: named Standard Webhooks secrets for signed trigger requests (an alternative to API keys). */
export type SecretName = "passentry-token" | "api-keys" | "passentry-webhook-secrets" | "webhook-signing-secrets";

export type CreateRequestResult =
  | { created: true }
  | { created: false; existing: RequestRecord };

/** The requests callers made, with idempotency-key reservations. */
export interface RequestStore {
  /**
   * Stores a new request. With an idempotency key, the key is reserved atomically with the record,
   * in the scope of the record's caller: when that caller already holds the key, nothing is written
   * and its first request is returned instead; another caller's use of the same key is no match.
   */
  create(record: RequestRecord): Promise<CreateRequestResult>;
  /** Stores the record unless one with that id exists (requests arriving straight from SQS/EventBridge). */
  ensure(record: RequestRecord): Promise<RequestRecord>;
  get(requestId: string): Promise<RequestRecord | undefined>;
  markEnqueued(requestId: string, at: string): Promise<void>;
  markFailed(requestId: string, reason: string): Promise<void>;
  /**
   * Records who asked to cancel the request and when; the first cancellation stays recorded when
   * it is asked again. Returns the request as it now stands (undefined when there is none).
   */
  markCancelled(requestId: string, by: CallerId, at: string): Promise<RequestRecord | undefined>;
}

export type ClaimResult =
  /** This worker owns the send and may POST. */
  | { outcome: "claimed"; record: SendRecord }
  /** Another worker holds a live claim: leave the message for later. */
  | { outcome: "busy"; record: SendRecord }
  /** Already decided; send nothing. */
  | { outcome: "done"; record: SendRecord }
  /** A previous claim lapsed without a recorded outcome: PassEntry may have the batch. Reconcile first. */
  | { outcome: "lapsed"; record: SendRecord };

export interface SendKey {
  requestId: string;
  chunk: number;
}

/**
 * The send ledger: the one place that decides whether a POST to PassEntry may happen. Every write is
 * conditional (on absence, or on the owner's claim), so two workers can never both hold a send.
 */
export interface SendLedger {
  claim(key: SendKey, claim: { owner: string; leaseMs: number; now: number; marker: string }): Promise<ClaimResult>;
  /** Takes over a lapsed claim (after reconciliation found nothing), bumping the attempt. */
  reclaim(key: SendKey, claim: { owner: string; leaseMs: number; now: number; previousOwner: string; previousAttempt: number }): Promise<ClaimResult>;
  markSent(key: SendKey, owner: string, outcome: { batchId: string; batchStatus?: string; totalCount?: number | null }): Promise<void>;
  markFailed(key: SendKey, owner: string, reason: string): Promise<void>;
  markUnknown(key: SendKey, owner: string, reason: string): Promise<void>;
  /** PassEntry certainly did not create the batch (e.g. 429): give the send back so a later attempt may claim it. */
  release(key: SendKey, owner: string): Promise<void>;
  /** Ends the lease at once while keeping the claim: the next attempt must reconcile (outcome unknown). */
  expire(key: SendKey, owner: string, reason: string): Promise<void>;
  /** Records what PassEntry said about the batch (or a note), whatever the entry's state; creates nothing. */
  updateBatch(key: SendKey, update: BatchUpdate): Promise<void>;
  /**
   * Cancels the send. An absent entry is written `cancelled` (a later claim is then `done`: it is
   * never sent); any other entry gets `cancelRequestedAt` stamped once and is reported as it stands,
   * so the caller knows whether a batch exists that PassEntry must cancel.
   */
  cancel(key: SendKey, cancel: { now: number; marker: string }): Promise<CancelResult>;
  list(requestId: string): Promise<SendRecord[]>;
}

/** What a status check, a send-now or a cancellation learned about a recorded batch. */
export interface BatchUpdate {
  batchStatus?: string;
  totalCount?: number | null;
  errorsCsvUrl?: string | null;
  deliveryCsvUrl?: string | null;
  scheduledAt?: string | null;
  statusCheckedAt?: string;
  sendNowAt?: string;
  note?: string;
}

export type CancelResult =
  /** Nothing had been sent: the entry is now `cancelled` and nothing will be. */
  | { outcome: "cancelled"; record: SendRecord }
  /** A batch exists (state `sent`): it must be cancelled at PassEntry, if it still can be. */
  | { outcome: "sent"; record: SendRecord }
  /** A send is in flight (a claim, live or lapsed): look again once it is decided. */
  | { outcome: "busy"; record: SendRecord }
  /** Already decided otherwise (failed, unknown, or cancelled before): nothing to do. */
  | { outcome: "done"; record: SendRecord };

export interface CreateBatchInput {
  entityId: string;
  batch: WalletMessageBatch;
}

/** PassEntry's batch API. Failures are thrown as PassEntryError, classified. */
export interface PassEntryClient {
  createBatch(input: CreateBatchInput): Promise<PassEntryBatchDocument>;
  getBatch(batchId: string): Promise<PassEntryBatchDocument>;
  listBatches(page: number): Promise<PassEntryBatchList>;
  /** `POST /api/v1/batches/{id}/send-now`: only a `scheduled` batch (PassEntry answers 4xx otherwise). */
  sendNow(batchId: string): Promise<void>;
  /** `PATCH /api/v1/batches/{id}/cancel`: only a `validating` or `scheduled` batch; answers the batch. */
  cancelBatch(batchId: string): Promise<PassEntryBatchDocument>;
}

/** One message in the dead-letter queue, as an operator sees it. */
export interface DeadLetterView {
  messageId: string;
  /** The request it carries, when its body could be read. */
  requestId: string | null;
  body: string;
  receiveCount: number;
  /** Why the last attempt failed (the local queue keeps it; SQS does not). */
  lastError: string | null;
  sentAt: string | null;
}

/** Operator access to dead letters: look, then move back to the main queue. */
export interface DeadLetterQueue {
  list(limit: number): Promise<DeadLetterView[]>;
  /** Moves all dead letters (or the ids given) back; redriving is safe, the ledger stops second sends. */
  redrive(messageIds?: string[]): Promise<{ moved: number | null; note: string }>;
}

/**
 * Announces outcomes to whoever listens (EventBridge on AWS, in-process listeners locally). Throws
 * when the event could not be delivered; the sender publishes through `publishOutcome`, which only
 * logs that, since a lost announcement must never fail or repeat a send.
 */
export interface EventPublisher {
  publish(event: WalletMessageEvent): Promise<void>;
}
