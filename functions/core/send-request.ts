/**
 * Use case: deliver one send request to PassEntry, at most once per business key.
 *
 * Every POST is preceded by a claim in the send ledger keyed by (request id, chunk), never by the
 * queue message id, so redeliveries, racing workers and dead-letter redrives all meet the same key.
 * A claim that lapsed without an outcome (a crash or timeout after the POST left) is reconciled
 * against PassEntry's batch list, using the marker we put in every batch name, before anything is
 * posted again; when the list cannot decide, the send is recorded `unknown` and never re-sent.
 */
import { PassEntryError } from "./errors.js";
import { enqueueFollowUp, followUpDelaySeconds, SEND_NOW_LEAD_MS, type FollowUpSettings } from "./follow-up-schedule.js";
import { occurredAt, publishOutcome } from "./outcome-events.js";
import type { Clock, EventPublisher, Log, PassEntryClient, RequestStore, SendKey, SendLedger } from "./ports.js";
import { MAX_RECIPIENTS_PER_BATCH, type PassEntryBatchResource, type SendRecord, type SendRequest, type WalletMessageBatch } from "./schemas.js";

export interface SendDeps {
  store: RequestStore;
  ledger: SendLedger;
  passEntry: PassEntryClient;
  clock: Clock;
  log: Log;
  /** Identifies this worker in ledger claims. */
  owner: string;
  /** How long a claim protects a send in flight; must exceed the longest POST plus its waits. */
  leaseMs: number;
  /** Time left in this invocation (Lambda's getRemainingTimeInMillis); waits never go past it. */
  remainingMs: () => number;
  sleep: (ms: number) => Promise<void>;
  random?: () => number;
  /** Pages of PassEntry's batch list searched when reconciling (25 batches each). */
  reconcilePages?: number;
  /** Counts sends whose outcome could not be decided (an alarm watches it on AWS). */
  onUnknownOutcome?: (key: SendKey) => void;
  /** Where outcome events go. Absent: none are published. */
  events?: EventPublisher;
  /**
   * How created batches are followed up (send-now, status tracking, cancellation). Both homes wire
   * it; without it (tests of sending alone) batches are created but not tracked, and a send-now
   * batch goes out at its placeholder scheduledAt, an hour later.
   */
  followUps?: FollowUpSettings;
}

/** Thrown to keep the queue message for a later attempt. */
export class RetryLaterError extends Error {
  readonly retryable = true;
  constructor(message: string, readonly delaySeconds?: number) {
    super(message);
    this.name = "RetryLaterError";
  }
}

export type ChunkOutcome = { key: SendKey; state: "sent" | "failed" | "unknown" | "cancelled"; batchId?: string; reason?: string };

/** The marker that makes a batch findable in PassEntry's list; PassEntry keeps `name` as given. */
export function batchMarker(key: SendKey): string {
  return `[wm:${key.requestId}:${key.chunk}]`;
}

/** Splits a batch into PassEntry-sized calls: one per 500 recipients, or one for segments. */
export function splitIntoChunks(batch: WalletMessageBatch): WalletMessageBatch[] {
  const recipients = batch.recipients;
  if (!recipients || recipients.length <= MAX_RECIPIENTS_PER_BATCH) return [batch];
  const chunks: WalletMessageBatch[] = [];
  for (let i = 0; i < recipients.length; i += MAX_RECIPIENTS_PER_BATCH) {
    chunks.push({ ...batch, recipients: recipients.slice(i, i + MAX_RECIPIENTS_PER_BATCH) });
  }
  return chunks;
}

/** The caller's batch with the marker appended to its name. */
export function withMarker(batch: WalletMessageBatch, key: SendKey): WalletMessageBatch {
  return { ...batch, name: `${batch.name ?? "Wallet message"} ${batchMarker(key)}` };
}

/**
 * Whether a batch is to go out at once: it says `sendNow: true`, or it has no `scheduledAt` (and
 * does not say `sendNow: false`, which keeps PassEntry's own default of an hour from now).
 *
 * @example wantsSendNow({ message: "Hi", segments: [{ groupTag: "vip" }] }) // true
 */
export function wantsSendNow(batch: WalletMessageBatch): boolean {
  return batch.sendNow === true || (batch.sendNow === undefined && batch.scheduledAt === undefined);
}

/**
 * The body actually posted: our own `sendNow` removed, the marker appended to the name, and for a
 * send-now batch a `scheduledAt` PassEntry accepts (it wants an hour's lead); the send-now follow-up
 * then sends it as soon as PassEntry has validated it.
 */
export function toPassEntryBatch(batch: WalletMessageBatch, key: SendKey, sendNowScheduledAt?: string): WalletMessageBatch {
  const { sendNow: _ours, ...theirs } = withMarker(batch, key);
  return sendNowScheduledAt === undefined ? theirs : { ...theirs, scheduledAt: sendNowScheduledAt };
}

const MAX_RATE_LIMIT_WAITS = 3;
const MAX_RATE_LIMIT_WAIT_MS = 5_000;

export async function sendRequest(deps: SendDeps, request: SendRequest): Promise<ChunkOutcome[]> {
  await deps.store.ensure({
    requestId: request.requestId,
    entityId: request.entityId,
    source: request.source,
    createdAt: request.acceptedAt ?? new Date(deps.clock.now()).toISOString(),
    enqueuedAt: request.acceptedAt ?? new Date(deps.clock.now()).toISOString(),
    batch: request.batch,
    ...(wantsSendNow(request.batch) ? { sendNow: true } : {}),
  });
  const chunks = splitIntoChunks(request.batch);
  const outcomes: ChunkOutcome[] = [];
  for (const [chunk, batch] of chunks.entries()) {
    outcomes.push(await sendChunk(deps, request, { requestId: request.requestId, chunk }, batch));
  }
  return outcomes;
}

async function sendChunk(deps: SendDeps, request: SendRequest, key: SendKey, batch: WalletMessageBatch): Promise<ChunkOutcome> {
  const claimArgs = { owner: deps.owner, leaseMs: deps.leaseMs, now: deps.clock.now(), marker: batchMarker(key) };
  let claim = await deps.ledger.claim(key, claimArgs);

  if (claim.outcome === "done") {
    deps.log.info("send already decided; nothing sent", { ...key, state: claim.record.state, batchId: claim.record.batchId });
    return fromRecord(key, claim.record);
  }
  if (claim.outcome === "busy") {
    const waitSeconds = Math.ceil(Math.max(0, claim.record.leaseUntil - deps.clock.now()) / 1000);
    throw new RetryLaterError(`Another worker holds the send ${key.requestId}#${key.chunk}.`, waitSeconds);
  }
  if (claim.outcome === "lapsed") {
    const previous = claim.record;
    claim = await deps.ledger.reclaim(key, { ...claimArgs, previousOwner: previous.owner, previousAttempt: previous.attempt });
    if (claim.outcome !== "claimed") throw new RetryLaterError(`The send ${key.requestId}#${key.chunk} changed hands while reconciling.`);
    deps.log.warn("send outcome unknown; reconciling with PassEntry", { ...key, attempt: claim.record.attempt });
    const found = await reconcile(deps, key);
    if (found === "undecided") {
      const reason = "A previous attempt may have created the batch and PassEntry's batch list could not confirm it either way; not sending again.";
      await deps.ledger.markUnknown(key, deps.owner, reason);
      deps.log.error("send outcome unknown", { ...key, reason });
      deps.onUnknownOutcome?.(key);
      return { key, state: "unknown", reason };
    }
    if (found !== "absent") {
      await deps.ledger.markSent(key, deps.owner, { batchId: found.id, batchStatus: found.attributes.status ?? undefined, totalCount: found.attributes.totalCount });
      deps.log.info("request submitted (found by reconciliation)", { ...key, batchId: found.id, batchStatus: found.attributes.status });
      // The attempt that created it died before announcing it: announce and follow it up now.
      await afterCreated(deps, request, key, found);
      return { key, state: "sent", batchId: found.id };
    }
    if (claim.record.cancelRequestedAt !== undefined) {
      // Certainly not sent, and the request was cancelled meanwhile: give the claim back as cancelled.
      return cancelInFlight(deps, request, key);
    }
    deps.log.info("reconciliation found no batch; sending", { ...key });
  } else {
    deps.log.info("send claimed", { ...key, attempt: claim.record.attempt });
  }
  return post(deps, request, key, batch, claim.record.leaseUntil);
}

async function post(deps: SendDeps, request: SendRequest, key: SendKey, batch: WalletMessageBatch, leaseUntil: number): Promise<ChunkOutcome> {
  const random = deps.random ?? Math.random;
  for (let wait = 0; ; wait++) {
    try {
      const sendNowScheduledAt = wantsSendNow(request.batch) ? new Date(deps.clock.now() + SEND_NOW_LEAD_MS).toISOString() : undefined;
      const created = await deps.passEntry.createBatch({ entityId: request.entityId, batch: toPassEntryBatch(batch, key, sendNowScheduledAt) });
      const attributes = created.data.attributes;
      await deps.ledger.markSent(key, deps.owner, { batchId: created.data.id, batchStatus: attributes.status ?? undefined, totalCount: attributes.totalCount });
      deps.log.info("request submitted", { ...key, batchId: created.data.id, batchStatus: attributes.status });
      await afterCreated(deps, request, key, created.data);
      return { key, state: "sent", batchId: created.data.id };
    } catch (error) {
      if (!(error instanceof PassEntryError)) {
        // Our own failure (e.g. the ledger write after a 202): keep the claim; its lapse triggers reconciliation.
        throw error;
      }
      if (error.kind === "permanent") {
        await deps.ledger.markFailed(key, deps.owner, error.message);
        deps.log.warn("send failed", { ...key, status: error.details.status, reason: error.message });
        await publishOutcome(deps, {
          type: "WalletMessageBatchFailed",
          ...key,
          entityId: request.entityId,
          batchId: null,
          status: "failed",
          reason: error.message,
          errorsCsvUrl: null,
          occurredAt: occurredAt(deps.clock),
        });
        return { key, state: "failed", reason: error.message };
      }
      if (!error.details.outcomeKnown) {
        // Keep the claim AND its lease: PassEntry may still be creating the batch, and its list may not
        // show it yet. Reconciling only after the lease lapses is the window the README promises; ending
        // the lease here let an immediate retry find nothing and post a second batch.
        deps.log.warn("send outcome unknown; will reconcile before any new attempt", { ...key, reason: error.message });
        throw new RetryLaterError(error.message, Math.ceil(Math.max(0, leaseUntil - deps.clock.now()) / 1000));
      }
      // PassEntry certainly did not create the batch. On 429 wait here, within our time, rather than
      // burning a receive of the message; otherwise give the claim back and let the queue retry.
      const waitMs = error.details.status === 429 ? rateLimitWait(error.details.retryAfterSeconds, wait, random) : undefined;
      // The wait and the next POST must also fit in our claim's lease: a POST on a lapsed claim could
      // race a worker that has meanwhile reconciled and posted.
      const leaseLeftMs = leaseUntil - deps.clock.now() - Math.min(15_000, deps.leaseMs / 4);
      if (waitMs !== undefined && wait < MAX_RATE_LIMIT_WAITS && waitMs + 15_000 < deps.remainingMs() && waitMs < leaseLeftMs) {
        deps.log.info("rate limited by PassEntry; waiting", { ...key, waitMs: Math.round(waitMs) });
        await deps.sleep(waitMs);
        continue;
      }
      await deps.ledger.release(key, deps.owner);
      deps.log.warn("send released for retry", { ...key, kind: error.kind, status: error.details.status, reason: error.message });
      const retryAfterMs = waitMs ?? (error.details.circuitOpen ? (error.details.retryAfterSeconds ?? 0) * 1000 : undefined);
      throw new RetryLaterError(error.message, retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000));
    }
  }
}

/** A claimed part that PassEntry certainly does not have, of a request cancelled meanwhile: cancel it instead of posting. */
async function cancelInFlight(deps: SendDeps, request: SendRequest, key: SendKey): Promise<ChunkOutcome> {
  await deps.ledger.release(key, deps.owner);
  const cancelled = await deps.ledger.cancel(key, { now: deps.clock.now(), marker: batchMarker(key) });
  if (cancelled.outcome !== "cancelled") throw new RetryLaterError(`The send ${key.requestId}#${key.chunk} changed hands while being cancelled.`);
  const reason = cancelled.record.reason ?? "The request was cancelled before this part was sent.";
  deps.log.info("send cancelled before it was sent", { ...key });
  await publishOutcome(deps, { type: "WalletMessageBatchFailed", ...key, entityId: request.entityId, batchId: null, status: "cancelled", reason, errorsCsvUrl: null, occurredAt: occurredAt(deps.clock) });
  return { key, state: "cancelled", reason };
}

/** Announces a batch just recorded as sent, and leaves the first follow-up: send it now, or track it. */
async function afterCreated(deps: SendDeps, request: SendRequest, key: SendKey, batch: PassEntryBatchResource): Promise<void> {
  const sendNow = wantsSendNow(request.batch);
  await publishOutcome(deps, {
    type: "WalletMessageBatchCreated",
    ...key,
    entityId: request.entityId,
    batchId: batch.id,
    status: batch.attributes.status ?? "unknown",
    totalCount: batch.attributes.totalCount ?? null,
    sendNow,
    occurredAt: occurredAt(deps.clock),
  });
  if (sendNow && !deps.followUps) {
    deps.log.warn("send-now asked but this home cannot follow up; the batch goes out at its placeholder scheduledAt", { ...key, batchId: batch.id });
  }
  const delay = followUpDelaySeconds(1, deps.followUps ?? {}, deps.random);
  await enqueueFollowUp(deps, { followUp: sendNow ? "send-now" : "track", ...key, batchId: batch.id, attempt: 1 }, delay);
}

/**
 * How long to wait after a 429: PassEntry's retry-after when it is sane, bounded, plus jitter so
 * that workers told the same number do not return together; exponential backoff when it is absent.
 */
export function rateLimitWait(retryAfterSeconds: number | undefined, attempt: number, random: () => number): number {
  const base = retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : 250 * 2 ** attempt;
  const bounded = Math.min(base, MAX_RATE_LIMIT_WAIT_MS);
  return bounded + random() * Math.min(250, bounded / 2 + 50);
}

/** Looks for our marker in PassEntry's batch list, newest first. */
async function reconcile(deps: SendDeps, key: SendKey): Promise<PassEntryBatchResource | "absent" | "undecided"> {
  const marker = batchMarker(key);
  const maxPages = deps.reconcilePages ?? 8;
  for (let page = 1; page <= maxPages; page++) {
    let list;
    try {
      list = await deps.passEntry.listBatches(page);
    } catch (error) {
      // Could not look: give the claim back as lapsed and try again later rather than guess.
      await deps.ledger.expire(key, deps.owner, `Reconciliation could not read PassEntry's batch list: ${(error as Error).message}`);
      throw new RetryLaterError("Reconciliation could not read PassEntry's batch list.");
    }
    const hit = list.data.find((b) => (b.attributes.name ?? "").includes(marker));
    if (hit) return hit;
    const totalPages = list.meta?.totalPages;
    const lastPage = list.data.length === 0 || (totalPages != null ? page >= totalPages : !list.links?.next);
    if (lastPage) return "absent";
  }
  return "undecided";
}

function fromRecord(key: SendKey, record: SendRecord): ChunkOutcome {
  const state = record.state === "claimed" ? "unknown" : record.state;
  return { key, state, ...(record.batchId ? { batchId: record.batchId } : {}), ...(record.reason ? { reason: record.reason } : {}) };
}
