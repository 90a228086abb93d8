/**
 * Capability interfaces the use cases depend on. Each home gives the composition (functions/composition.ts) one adapter per port (AWS or
 * local); tests build use cases from the same adapters or small fakes. One contract suite per port
 * (test/adapters/) runs against every adapter, so the homes cannot drift apart.
 */
import type {
  CallerId,
  PassEntryBatchDocument,
  PassEntryBatchList,
  RequestRecord,
  SendRecord,
  WalletMessageBatch,
  WalletMessageEvent,
} from "./schemas.js";

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

/**
 * How the sender asks for a handed-back message's next attempt: SQS's ChangeMessageVisibility on
 * AWS, the local queue's twin in the embedded home. Without it a message comes back when its
 * visibility timeout ends.
 */
export interface RetryScheduler {
  /** Makes the received message visible again in `seconds`; `reason` is kept where the queue can keep it. */
  retryAfter(receiptHandle: string, seconds: number, reason: string): Promise<void>;
}

/** Read-only access to named secrets (the PassEntry token, API keys). Implementations cache. */
export interface SecretStore {
  get(name: SecretName): Promise<string>;
  /** Forget a cached value, e.g. after PassEntry answered 401 with it. */
  invalidate(name: SecretName): void;
}
/** `webhook-signing-secrets`: named Standard Webhooks secrets for signed trigger requests (an alternative to API keys). */
export type SecretName = "passentry-token" | "api-keys" | "passentry-webhook-secrets" | "webhook-signing-secrets";

export type CreateRequestResult = { created: true } | { created: false; existing: RequestRecord };

/**
 * Stores an accepted request and queues its message as one step. The embedded home can (one SQLite
 * transaction holds the store and the queue); the AWS home cannot (DynamoDB, then SQS) and has none,
 * so the accept use case stores, queues and marks in three steps there.
 */
export interface RequestIntake {
  /**
   * Stores `record` (already marked enqueued) and queues `message`, or nothing at all. With an
   * Idempotency-Key already taken, nothing is written and the first request is returned instead.
   */
  admit(record: RequestRecord, message: unknown): Promise<CreateRequestResult>;
}

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
  /**
   * Changes a stored request: `change` gets the record as stored and returns it changed (or the
   * same object: nothing is written). Written over what was read, so concurrent changes are not
   * lost. Returns the request as it now stands (undefined when there is none).
   */
  update(requestId: string, change: (record: RequestRecord) => RequestRecord): Promise<RequestRecord | undefined>;
  /**
   * Requests newest first (by `createdAt`, then id), starting after `after`: at most `limit` that
   * `accept` takes, looking at no more than `maxExamined` records (so a narrow filter costs a
   * bounded read per page). `next` is where to go on from, absent once there is nothing more.
   */
  listRecent(query: RecentRequestsQuery): Promise<RecentRequestsPage>;
}

/** A place in the newest-first order of requests: what a list cursor encodes. */
export interface ListPosition {
  createdAt: string;
  requestId: string;
}

export interface RecentRequestsQuery {
  /**
   * Only requests this caller made, read through an index of the caller's own, so that another
   * caller's volume neither fills the caller's pages nor uses up what a page may examine.
   * Undefined: every request (what an operator sees).
   */
  owner?: CallerId | undefined;
  after?: ListPosition | undefined;
  /** Only requests created at or after this ISO time. */
  since?: string | undefined;
  limit: number;
  maxExamined: number;
  accept: (record: RequestRecord) => boolean;
}

export interface RecentRequestsPage {
  records: RequestRecord[];
  next?: ListPosition;
}

export interface SendKey {
  requestId: string;
  chunk: number;
}

/** One move of one ledger entry, as the state machine decided it. */
export interface LedgerWrite {
  key: SendKey;
  /** The version the move was decided on; undefined: there was no entry, and it is created. */
  expectedVersion: number | undefined;
  /** The whole entry after the move. */
  next: SendRecord;
  /** What the move changes (a field set to `undefined` is removed), for stores that update in place. */
  changes: Partial<SendRecord>;
}

/**
 * The send ledger's storage: one entry per part (request id + chunk), never deleted. It stores and
 * compares versions, nothing more: functions/core/send-state-machine.ts decides every move and
 * writes it here, so both homes apply exactly the same rules.
 */
export interface SendLedger {
  /** The entry, read consistently (a write that succeeded is always seen). */
  get(key: SendKey): Promise<SendRecord | undefined>;
  /** Several entries, read consistently, in the order of `keys` (undefined where there is none): one call where the store allows. */
  getMany(keys: readonly SendKey[]): Promise<(SendRecord | undefined)[]>;
  /**
   * Writes a move on its condition: a new entry only if the key has none; a change only if the
   * entry's version is still `expectedVersion`. False when the condition failed (nothing written).
   */
  write(move: LedgerWrite): Promise<boolean>;
  /**
   * Writes several moves, each on its own condition, as cheaply as the store allows (one local
   * transaction; parallel conditional writes on DynamoDB). Answers, per move, whether it was written.
   */
  writeMany(moves: readonly LedgerWrite[]): Promise<boolean[]>;
  /** A request's entries, by chunk. */
  list(requestId: string): Promise<SendRecord[]>;
}

export interface CreateBatchInput {
  entityId: string;
  batch: WalletMessageBatch;
  /**
   * Asked right before the POST leaves (after pacing): false means it must not leave at all. It is
   * sent under a claim whose lease must outlast it, and a wait for the pacer (or a stalled process)
   * must not carry it past that. A POST held back fails as "not sent" (outcome known).
   */
  mayStillSend?: () => boolean;
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

/**
 * How the queue stands, for the console. `source` says in a sentence where each figure comes from:
 * SQS answers counts (approximately) but not the oldest message's age, which CloudWatch has.
 */
export interface QueueStats {
  waiting: number;
  inFlight: number;
  /** Messages held back by a delay (follow-ups waiting for their time); null when unknown. */
  delayed: number | null;
  deadLettered: number;
  /** Seconds the oldest live message has waited; null when this home cannot tell. */
  oldestAgeSeconds: number | null;
  source: string;
}

/** Operator access to dead letters: look, then move back to the main queue. */
export interface DeadLetterQueue {
  list(limit: number): Promise<DeadLetterView[]>;
  /**
   * Moves all dead letters (or the ids given) back; redriving is safe, the ledger stops second sends.
   * `notFound`: the ids given that no dead letter has (a typo, or one redriven already).
   */
  redrive(messageIds?: string[]): Promise<{ moved: number | null; note: string; notFound: string[] }>;
}

/**
 * Announces outcomes to whoever listens (EventBridge on AWS, in-process listeners locally). Throws
 * when the event could not be delivered; the sender publishes through `publishOutcome`, which only
 * logs that, since a lost announcement must never fail or repeat a send.
 */
export interface EventPublisher {
  publish(event: WalletMessageEvent): Promise<void>;
}
