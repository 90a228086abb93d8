/**
 * Use case: deliver one send request to PassEntry, at most once per part (request id + chunk).
 *
 * This module does what the send state machine (send-state-machine.ts) says and nothing it does not:
 * it claims the part, searches PassEntry for a batch an earlier attempt may have created
 * (reconcile.ts), asks `startPost` before every POST, records PassEntry's answer, and hands the
 * part back when it must wait. Parts are keyed by the request id, never the queue message id, so
 * redeliveries, racing workers and dead-letter redrives all meet the same entry.
 *
 * Early sends: a `scheduledAt` still ahead but closer than PassEntry's hour of notice is posted
 * like a send-now batch (a placeholder `scheduledAt` PassEntry accepts) and its send-now follow-up
 * carries `notBefore` = the requested time; the plan is written on the entry (`sendAt`, by an
 * `observed` move) so status pages say "will be sent at T", and a cancel before T cancels the
 * batch as for any created one. No new state: whether a part is early is decided from its POST's
 * own time (in its marker), so every redelivery agrees (batch-rules.ts `earlySendAt`).
 *
 * Timing: a 429 is waited out within the invocation (bounded); a 5xx means PassEntry answered, so
 * after a short settle the holder itself searches the list and posts again if nothing is there; a
 * timeout or dropped connection may leave PassEntry still working on our request, so the part is
 * handed back with a longer settle window before anyone searches.
 */
import {
  toPassEntryBatch,
  batchMarker,
  earlySendAt,
  parseBatchMarker,
  splitIntoChunks,
  wantsSendNow,
} from "./batch-rules.js";
import { PassEntryError, RetryLaterError } from "./errors.js";
import { enqueueFollowUp, followUpDelaySeconds, type FollowUpSettings } from "./follow-up-schedule.js";
import { MIN_LEAD_MS } from "./passentry-limits.js";
import { occurredAt, publishOutcome } from "./outcome-events.js";
import type { Clock, EventPublisher, Log, PassEntryClient, RequestStore, SendKey, SendLedger } from "./ports.js";
import { followGroup } from "./coalesce.js";
import { searchForBatch } from "./reconcile.js";
import type {
  FollowUpMessage,
  PassEntryBatchResource,
  SendRecord,
  SendRequest,
  WalletMessageBatch,
} from "./schemas.js";
import { transition, type ClaimToken, type SendEvent, type TransitionResult } from "./send-state-machine.js";

/** Settings come from functions/config.ts (DEFAULTS, senderSettings) through composeSender: none are defaulted here. */
export interface SendDeps {
  store: RequestStore;
  ledger: SendLedger;
  passEntry: PassEntryClient;
  clock: Clock;
  log: Log;
  /** Identifies this worker in ledger claims: one per Lambda instance, one per local worker. */
  owner: string;
  /** How long a claim protects a send in flight; must exceed the longest PassEntry call plus its waits. */
  leaseMs: number;
  /** Time left in this invocation (Lambda's getRemainingTimeInMillis); waits never go past it. */
  remainingMs: () => number;
  sleep: (ms: number) => Promise<void>;
  random?: () => number;
  /** Pages of PassEntry's batch list searched at most when reconciling (25 batches each). */
  reconcileMaxPages: number;
  /**
   * Time a PassEntry call may take (its client timeout, plus a margin): no call starts with less
   * left in the invocation. 0 in the embedded home, where nothing kills a worker mid-call.
   */
  callBudgetMs: number;
  /** Wait after a 5xx before searching for the batch. */
  serverErrorSettleMs: number;
  /** Wait after a timeout or dropped connection before anyone searches for the batch. */
  timeoutSettleMs: number;
  /** 5xx answers to one part handled within one invocation before the part is handed back. */
  maxServerErrorRetries: number;
  /** Requests of one caller that differ only in their recipients share PassEntry batches (coalesce.ts). */
  shareBatches: boolean;
  /** Top-level batch keys beyond our contract the operator allows (ALLOWED_BATCH_KEYS); others are refused at every door. */
  allowedBatchKeys: readonly string[];
  /** Counts sends whose outcome could not be decided (an alarm watches it on AWS). */
  onUnknownOutcome?: (key: SendKey) => void;
  /**
   * Receives before the queue dead-letters a message (SQS maxReceiveCount, the local MAX_RECEIVES):
   * a message handed back on this receive is recorded as dead-lettered on its request.
   */
  maxReceives: number;
  /** Where outcome events go. Absent: none are published. */
  events?: EventPublisher;
  /**
   * How created batches are followed up (send-now, status tracking, cancellation). Both homes wire
   * it; without it (tests of sending alone) batches are created but not tracked, and a send-now
   * batch goes out at its placeholder scheduledAt, an hour later.
   */
  followUps?: FollowUpSettings;
}

export { RetryLaterError } from "./errors.js";

export type ChunkOutcome = {
  key: SendKey;
  state: "sent" | "failed" | "unknown" | "cancelled";
  batchId?: string;
  reason?: string;
};

/** A move only the holder makes, before its token and time are added. */
type HolderEvent =
  Extract<SendEvent, { token: ClaimToken }> extends infer E
    ? E extends unknown
      ? Omit<E, "token" | "now">
      : never
    : never;

const MAX_RATE_LIMIT_WAITS = 3;
const MAX_LATE_STARTS = 2;
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
  const outcomes: ChunkOutcome[] = [];
  for (const [chunk, batch] of splitIntoChunks(request.batch).entries()) {
    outcomes.push(await sendPart(deps, request, { requestId: request.requestId, chunk }, batch));
  }
  return outcomes;
}

/**
 * What a shared batch's part posts: read afresh before every POST (a member cancelled meanwhile is
 * left out). `empty` when no member is left to send.
 */
export type PostPlan = () => Promise<{ batch: WalletMessageBatch; members: string[] } | { empty: string }>;

/**
 * Sends one part: claims it and drives it to a decision (or hands it back by throwing
 * RetryLaterError). A part that rides in a shared batch follows its group (coalesce.ts).
 */
export async function sendPart(
  deps: SendDeps,
  request: SendRequest,
  key: SendKey,
  batch: WalletMessageBatch,
  plan?: PostPlan,
): Promise<ChunkOutcome> {
  const claim = await transition(deps.ledger, key, {
    type: "claim",
    owner: deps.owner,
    now: deps.clock.now(),
    leaseMs: deps.leaseMs,
  });
  if (!claim.moved) {
    if (claim.refusal === "busy")
      throw new RetryLaterError(
        `Another worker holds the send ${key.requestId}#${key.chunk}, or it is settling after an unknown outcome.`,
        secondsUntil(deps, claim.retryAt),
      );
    if (claim.refusal === "grouped") return followGroup(deps, request, key, claim.entry!);
    const entry = claim.entry!;
    deps.log.info("send already decided; nothing sent", { ...key, state: entry.state, batchId: entry.batchId });
    // A redelivered message whose batch was recorded but not yet followed up: finish the send.
    if (entry.state === "sent") await queueFirstFollowUp(deps, request, key, entry);
    return outcomeOf(key, entry);
  }
  if (claim.then === "cancelled") return announceCancelled(deps, request, key, claim.entry);
  const token: ClaimToken = { owner: deps.owner, attempt: claim.entry.attempt };
  deps.log.info(
    claim.then === "reconcile" ? "send claimed; an earlier attempt may have created the batch" : "send claimed",
    { ...key, attempt: token.attempt },
  );
  return holdPart(
    deps,
    request,
    key,
    batch,
    token,
    claim.then === "reconcile" ? "reconcile" : "post",
    plan,
    claim.entry,
  );
}

/** Drives a claimed part until it is decided or handed back (by throwing RetryLaterError). */
export async function holdPart(
  deps: SendDeps,
  request: SendRequest,
  key: SendKey,
  ownBatch: WalletMessageBatch,
  token: ClaimToken,
  first: "post" | "reconcile",
  plan?: PostPlan,
  held?: SendRecord,
): Promise<ChunkOutcome> {
  const random = deps.random ?? Math.random;
  // The entry as this holder last wrote it: its next move is decided on it without a read (see transition).
  let latest = held;
  let step = first;
  let serverErrors = 0;
  let rateLimitWaits = 0;
  let lateStarts = 0;
  const move = async (event: HolderEvent) => {
    const result = await transition(deps.ledger, key, { ...event, token, now: deps.clock.now() } as SendEvent, latest);
    latest = result.moved ? result.entry : undefined;
    return result;
  };

  for (;;) {
    if (step === "reconcile") {
      latest = undefined; // reconciliation moves the entry itself
      const settled = await reconcilePart(deps, request, key, token);
      if (settled !== "post") return settled;
      step = "post";
    }

    if (!hasTimeForCall(deps))
      return handBack(
        deps,
        request,
        key,
        token,
        "Too little time was left in this invocation to post; the part is handed back.",
      );
    // A shared batch carries whichever members are still in it: decided now, recorded with the POST.
    const planned = plan ? await plan() : { batch: ownBatch };
    if ("empty" in planned) {
      await expectMoved(key, await move({ type: "failed", reason: planned.empty }));
      return { key, state: "failed", reason: planned.empty };
    }
    const batch = planned.batch;
    const now = deps.clock.now();
    const marker = batchMarker(key, now);
    const start = await move({
      type: "startPost",
      leaseMs: deps.leaseMs,
      marker,
      ...("members" in planned ? { members: planned.members } : {}),
    });
    if (!start.moved) {
      if (start.refusal === "cancelRequested") return handBack(deps, request, key, token, "The request was cancelled.");
      if (start.refusal === "mustReconcile") {
        step = "reconcile";
        continue;
      }
      throw new RetryLaterError(`The send ${key.requestId}#${key.chunk} changed hands before it was posted.`);
    }

    let created: PassEntryBatchResource;
    try {
      // A send-now batch, or an early send (scheduledAt closer than PassEntry's hour of notice), is
      // created for the earliest time PassEntry accepts; its send-now follow-up sends it when due.
      const sendNowScheduledAt =
        wantsSendNow(request.batch) || earlySendAt(request.batch, now) !== undefined
          ? new Date(now + MIN_LEAD_MS).toISOString()
          : undefined;
      // The POST must leave while the claim still protects it: within half the lease, so that it
      // also finishes inside it (config: the client's timeout is under half the lease).
      const mayStillSend = () => deps.clock.now() <= now + deps.leaseMs / 2;
      created = (
        await deps.passEntry.createBatch({
          entityId: request.entityId,
          batch: toPassEntryBatch(batch, marker, sendNowScheduledAt),
          mayStillSend,
        })
      ).data;
    } catch (error) {
      // Our own failure (not PassEntry's answer): the POST may have left. `inFlight` stays set, so
      // whoever claims the part after the lease searches for the batch first.
      if (!(error instanceof PassEntryError)) throw error;

      if (error.kind === "permanent") {
        await expectMoved(key, await move({ type: "failed", reason: error.message }));
        deps.log.warn("send failed", { ...key, status: error.details.status, reason: error.message });
        // A shared batch's members are told by coalesce.ts (a refused shared batch is split and sent again).
        if (request.source !== "group") {
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
        }
        return { key, state: "failed", reason: error.message };
      }

      if (!error.details.outcomeKnown) {
        await expectMoved(key, await move({ type: "outcomeUnknown", reason: error.message }));
        // PassEntry answered (a 5xx, or a 2xx we could not read): it is done with our request, so a
        // short settle is enough before looking. A timeout or dropped connection gets a longer one.
        const answered = error.details.status !== undefined;
        const settleMs = answered ? deps.serverErrorSettleMs : deps.timeoutSettleMs;
        if (answered && serverErrors < deps.maxServerErrorRetries && fitsInInvocation(deps, settleMs)) {
          serverErrors++;
          deps.log.warn("PassEntry failed the POST; looking for the batch after a short settle", {
            ...key,
            status: error.details.status,
            settleMs,
          });
          await deps.sleep(settleMs);
          step = "reconcile";
          continue;
        }
        deps.log.warn("send outcome unknown; the batch is looked for before any new POST", {
          ...key,
          reason: error.message,
          settleMs,
        });
        return handBack(deps, request, key, token, error.message, {
          reconcileAfterMs: settleMs,
          delaySeconds: answered ? undefined : Math.ceil(settleMs / 1000),
        });
      }

      // PassEntry certainly did not create the batch (429, circuit open, a refused token, held back too long).
      await expectMoved(key, await move({ type: "notCreated" }));
      if (error.details.lateStart && lateStarts++ < MAX_LATE_STARTS) continue; // claim (and re-check) afresh, then send
      const waitMs =
        error.details.status === 429
          ? rateLimitWait(error.details.retryAfterSeconds, rateLimitWaits, random)
          : undefined;
      if (waitMs !== undefined && rateLimitWaits < MAX_RATE_LIMIT_WAITS && fitsInInvocation(deps, waitMs)) {
        rateLimitWaits++;
        deps.log.info("rate limited by PassEntry; waiting", { ...key, waitMs: Math.round(waitMs) });
        await deps.sleep(waitMs);
        continue;
      }
      const retryAfterMs =
        waitMs ?? (error.details.circuitOpen ? (error.details.retryAfterSeconds ?? 0) * 1000 : undefined);
      deps.log.warn("send handed back for retry", {
        ...key,
        kind: error.kind,
        status: error.details.status,
        reason: error.message,
      });
      return handBack(deps, request, key, token, error.message, {
        delaySeconds: retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000),
      });
    }

    const recorded = await transition(
      deps.ledger,
      key,
      { type: "created", token, now: deps.clock.now(), batch: factsOf(created) },
      latest,
    );
    if (recorded.moved && recorded.then === "sent") {
      deps.log.info("request submitted", { ...key, batchId: created.id, batchStatus: created.attributes.status });
      await afterSent(deps, request, key, recorded.entry, created);
      return { key, state: "sent", batchId: created.id };
    }
    // Already recorded (or, if a lease was outlived, a second batch noted as evidence).
    if (recorded.row === "created-duplicate")
      deps.log.error("PassEntry created a second batch for a part", {
        ...key,
        batchId: created.id,
        firstBatchId: recorded.entry?.batchId,
      });
    return outcomeOf(key, recorded.entry!);
  }
}

/** Searches PassEntry for the part's batch and records what was found: "post" when nothing was. */
async function reconcilePart(
  deps: SendDeps,
  request: SendRequest,
  key: SendKey,
  token: ClaimToken,
): Promise<"post" | ChunkOutcome> {
  const entry = await deps.ledger.get(key);
  if (!entry) throw new RetryLaterError(`The send ${key.requestId}#${key.chunk} has no ledger entry to reconcile.`);
  deps.log.warn("send outcome unknown; reconciling with PassEntry", { ...key, attempt: token.attempt });
  const search = await searchForBatch(
    {
      passEntry: deps.passEntry,
      ledger: deps.ledger,
      clock: deps.clock,
      leaseMs: deps.leaseMs,
      reconcileMaxPages: deps.reconcileMaxPages,
      hasTimeForCall: () => hasTimeForCall(deps),
    },
    key,
    entry,
    token,
    { message: request.batch.message, entityId: request.entityId },
  );
  if ("lost" in search)
    throw new RetryLaterError(`The send ${key.requestId}#${key.chunk} changed hands while reconciling.`);
  if ("interrupted" in search) return handBack(deps, request, key, token, search.interrupted);

  const found = "found" in search ? factsOf(search.found) : "absent" in search ? "absent" : "undecided";
  const reason = "undecided" in search ? search.undecided : undefined;
  const result = await transition(deps.ledger, key, {
    type: "reconciled",
    token,
    now: deps.clock.now(),
    found,
    ...(reason ? { reason } : {}),
  });
  if (!result.moved)
    throw new RetryLaterError(`The send ${key.requestId}#${key.chunk} changed hands while reconciling.`);
  switch (result.then) {
    case "sent": {
      const batch = (search as { found: PassEntryBatchResource }).found;
      deps.log.info("request submitted (found by reconciliation)", {
        ...key,
        batchId: batch.id,
        batchStatus: batch.attributes.status,
      });
      // The attempt that created it never recorded it: announce and follow it up now.
      await afterSent(deps, request, key, result.entry, batch);
      return { key, state: "sent", batchId: batch.id };
    }
    case "cancelled":
      return announceCancelled(deps, request, key, result.entry);
    case "unknown":
      deps.log.error("send outcome unknown", { ...key, reason: result.entry.reason });
      deps.onUnknownOutcome?.(key);
      return { key, state: "unknown", ...(result.entry.reason ? { reason: result.entry.reason } : {}) };
    default:
      deps.log.info("reconciliation found no batch; sending", {
        ...key,
        pages: "absent" in search ? search.pages : undefined,
      });
      return "post";
  }
}

/**
 * Gives the part back. A part cancelled meanwhile (and certainly not at PassEntry) ends `cancelled`
 * here; otherwise the message is handed back to the queue to come again after `delaySeconds`.
 */
async function handBack(
  deps: SendDeps,
  request: SendRequest,
  key: SendKey,
  token: ClaimToken,
  reason: string,
  options: { reconcileAfterMs?: number; delaySeconds?: number | undefined } = {},
): Promise<ChunkOutcome> {
  const now = deps.clock.now();
  const released = await transition(deps.ledger, key, {
    type: "release",
    token,
    now,
    reason,
    ...(options.reconcileAfterMs !== undefined ? { reconcileNotBefore: now + options.reconcileAfterMs } : {}),
  });
  if (released.moved && released.then === "cancelled") return announceCancelled(deps, request, key, released.entry);
  throw new RetryLaterError(reason, options.delaySeconds);
}

/** Announces a batch just recorded as sent, and queues its first follow-up. */
async function afterSent(
  deps: SendDeps,
  request: SendRequest,
  key: SendKey,
  entry: SendRecord,
  batch: PassEntryBatchResource,
): Promise<void> {
  // A shared batch is announced per member request by coalesce.ts, each with its own request id.
  if (request.source !== "group")
    await publishOutcome(deps, {
      type: "WalletMessageBatchCreated",
      ...key,
      entityId: request.entityId,
      batchId: batch.id,
      status: batch.attributes.status ?? "unknown",
      totalCount: batch.attributes.totalCount ?? null,
      sendNow: wantsSendNow(request.batch),
      occurredAt: occurredAt(deps.clock),
    });
  await queueFirstFollowUp(deps, request, key, entry);
}

/**
 * A sent part is finished only once its first follow-up is on the queue: send it now, track it, or
 * (cancelled meanwhile) cancel it at PassEntry. If that cannot be queued the message is kept, and
 * its redelivery, meeting the sent part, queues it then.
 *
 * A member of a shared batch is sent now and tracked through its group's own part; its only
 * follow-up is its own cancel (cancelShared decides whether the batch stops or the member is told
 * why not). Following the batch up under the member's key would treat the batch as the member's
 * alone: a cancel stamp of that one member would cancel everyone's messages.
 */
export async function queueFirstFollowUp(
  deps: SendDeps,
  request: SendRequest,
  key: SendKey,
  entry: SendRecord,
): Promise<void> {
  if (entry.followUpQueuedAt !== undefined || entry.batchId === undefined) return;
  if (entry.groupId !== undefined && entry.cancelRequestedAt === undefined) return;
  // Early or not was decided at the POST, whose time the marker keeps: the same answer on every redelivery.
  const postedAt = parseBatchMarker(entry.marker)?.postedAt;
  const sendAt = postedAt === undefined ? undefined : earlySendAt(request.batch, postedAt);
  const sendNow = wantsSendNow(request.batch) || sendAt !== undefined;
  if (!deps.followUps) {
    if (sendNow)
      deps.log.warn(
        "send-now asked but this home cannot follow up; the batch goes out at its placeholder scheduledAt",
        { ...key, batchId: entry.batchId },
      );
    return;
  }
  const cancelled = entry.cancelRequestedAt !== undefined;
  const followUp: FollowUpMessage = cancelled
    ? { followUp: "cancel", requestId: key.requestId, attempt: 1 }
    : {
        followUp: sendNow ? "send-now" : "track",
        ...key,
        batchId: entry.batchId,
        attempt: 1,
        ...(sendAt !== undefined ? { notBefore: sendAt } : {}),
      };
  const delay = cancelled ? 0 : followUpDelaySeconds(1, deps.followUps, deps.random);
  // The plan, where status pages show it: "will be sent at T". Cancelling before T cancels the batch.
  // `entry` is what stood when the caller read or wrote it: the moves below are decided on it first (see transition).
  let known: SendRecord | undefined = entry;
  if (sendAt !== undefined && !cancelled && entry.sendAt === undefined) {
    const observed = await transition(
      deps.ledger,
      key,
      { type: "observed", now: deps.clock.now(), update: { sendAt } },
      known,
    );
    known = observed.moved ? observed.entry : undefined;
  }
  if (!(await enqueueFollowUp(deps, followUp, delay))) {
    throw new RetryLaterError(
      `The batch of ${key.requestId}#${key.chunk} was created but its ${followUp.followUp} follow-up could not be queued; the message comes back to queue it.`,
    );
  }
  await transition(deps.ledger, key, { type: "followUpQueued", now: deps.clock.now() }, known);
}

export async function announceCancelled(
  deps: SendDeps,
  request: SendRequest,
  key: SendKey,
  entry: SendRecord,
): Promise<ChunkOutcome> {
  const reason = entry.reason ?? "The request was cancelled before this part was sent.";
  deps.log.info("send cancelled before it was sent", { ...key });
  if (request.source !== "group")
    await publishOutcome(deps, {
      type: "WalletMessageBatchFailed",
      ...key,
      entityId: request.entityId,
      batchId: null,
      status: "cancelled",
      reason,
      errorsCsvUrl: null,
      occurredAt: occurredAt(deps.clock),
    });
  return { key, state: "cancelled", reason };
}

async function expectMoved(key: SendKey, result: TransitionResult): Promise<void> {
  if (!result.moved)
    throw new RetryLaterError(`The send ${key.requestId}#${key.chunk} changed hands while its POST was answered.`);
}

function hasTimeForCall(deps: SendDeps): boolean {
  return deps.remainingMs() >= deps.callBudgetMs;
}

/** Whether waiting `ms` still leaves time for the call that follows. */
function fitsInInvocation(deps: SendDeps, ms: number): boolean {
  return ms + deps.callBudgetMs < deps.remainingMs();
}

function secondsUntil(deps: SendDeps, at: number | undefined): number | undefined {
  return at === undefined ? undefined : Math.max(1, Math.ceil((at - deps.clock.now()) / 1000));
}

function factsOf(batch: PassEntryBatchResource) {
  return {
    batchId: batch.id,
    batchStatus: batch.attributes.status ?? undefined,
    totalCount: batch.attributes.totalCount,
  };
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

export function outcomeOf(key: SendKey, entry: SendRecord): ChunkOutcome {
  const state =
    entry.state === "claimed" || entry.state === "open" || entry.state === "shared" ? "unknown" : entry.state;
  return {
    key,
    state,
    ...(entry.batchId ? { batchId: entry.batchId } : {}),
    ...(entry.reason ? { reason: entry.reason } : {}),
  };
}
