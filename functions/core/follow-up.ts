/**
 * Use case: the sender's follow-ups, the messages it leaves itself on its own queue after creating a
 * batch (functions/core/follow-up-schedule.ts says when):
 *
 * - `send-now`: PassEntry wants an hour's lead on `scheduledAt`, so a send-now batch is created an
 *   hour ahead; this polls it until it leaves `validating`, then calls send-now (or records that
 *   validation failed, with the errors CSV). An early send's (`notBefore`, the requested time) reads
 *   the batch only until validation is over, then waits for its time without calling PassEntry.
 * - `track`: PassEntry has no batch-finished event, so this re-reads the batch with backoff until it
 *   reaches a terminal status, recording status, recipient count and CSV links in the ledger and
 *   announcing the outcome. A batch scheduled later waits (no PassEntry call) until near its time;
 *   one scheduled more than `trackingHorizonMs` (7 days) ahead is not tracked at all (a note says so).
 * - `cancel`: cancels at PassEntry the batches of a cancelled request that were already created and
 *   can still be cancelled (`validating`, `scheduled`), and says which could not. Parts still being
 *   sent need no waiting for: their holder sees the cancel stamp and either cancels the part or,
 *   once it records the batch, queues this follow-up itself.
 * - A send-now or track follow-up that meets a cancel stamp cancels the batch too, so a cancel
 *   wins even after the cancel follow-up gave up.
 *
 * Every follow-up reads before it acts, so a redelivered or repeated one changes nothing twice.
 */
import { chunkCount } from "./batch-rules.js";
import { PassEntryError, RetryLaterError } from "./errors.js";
import {
  enqueueFollowUp,
  followUpDelaySeconds,
  MAX_QUEUE_DELAY_SECONDS,
  type FollowUpSettings,
} from "./follow-up-schedule.js";
import { occurredAt, publishOutcome } from "./outcome-events.js";
import type { SendKey } from "./ports.js";
import {
  TERMINAL_BATCH_STATUSES,
  type BatchStatus,
  type FollowUpMessage,
  type PassEntryBatchResource,
  type SendRecord,
} from "./schemas.js";
import type { SendDeps } from "./send-request.js";
import { transition, type BatchUpdate } from "./send-state-machine.js";

/** A follow-up about one created batch. */
type BatchFollowUp = FollowUpMessage & { chunk: number; batchId: string };

/** The sender's dependencies in a home that follows batches up. */
type FollowingDeps = SendDeps & { followUps: FollowUpSettings };

/**
 * Handles one follow-up message. Throws (RetryLaterError or our own failures) only when the message
 * itself should come back; PassEntry's failures are handled by scheduling the next attempt.
 */
export async function handleFollowUp(sendDeps: SendDeps, message: FollowUpMessage): Promise<void> {
  if (!sendDeps.followUps) {
    sendDeps.log.warn("follow-up dropped: this home does not follow up batches", {
      requestId: message.requestId,
      chunk: message.chunk,
      followUp: message.followUp,
    });
    return;
  }
  const deps: FollowingDeps = { ...sendDeps, followUps: sendDeps.followUps };
  if (message.notBefore !== undefined) {
    const waitMs = Date.parse(message.notBefore) - deps.clock.now();
    if (waitMs > 1_000) {
      if (message.followUp === "send-now" && message.chunk !== undefined && message.batchId !== undefined)
        return watchValidation(deps, { ...message, chunk: message.chunk, batchId: message.batchId }, waitMs);
      // A long wait is several hops: SQS holds a message back for at most 900 s.
      await reschedule(deps, message, Math.min(MAX_QUEUE_DELAY_SECONDS, waitMs / 1000));
      return;
    }
  }
  if (message.followUp === "cancel") return cancelAtPassEntry(deps, message);
  if (message.chunk === undefined || message.batchId === undefined) return; // the schema already refuses these
  const followUp: BatchFollowUp = { ...message, chunk: message.chunk, batchId: message.batchId };
  return message.followUp === "send-now" ? sendNow(deps, followUp) : track(deps, followUp);
}

async function sendNow(deps: FollowingDeps, message: BatchFollowUp): Promise<void> {
  const key = keyOf(message);
  const record = await sentRecord(deps, message);
  if (!record) return;
  // A repeated follow-up: send-now already happened. Whether its tracking was queued is not known (the
  // instance may have died right after recording send-now), so start tracking again: a second
  // tracking chain costs a few reads, a missing one leaves the batch's outcome unseen.
  if (record.sendNowAt !== undefined) return startTracking(deps, message);
  const batch = await readBatch(deps, message);
  if (batch === "gone") return;
  if (batch === "retry") return next(deps, message);
  const status = await observe(deps, key, record, batch);
  if (record.cancelRequestedAt !== undefined && isCancellable(status)) {
    deps.log.info("send-now replaced by a cancellation: the request was cancelled", {
      ...key,
      batchId: message.batchId,
    });
    return cancelThenTrack(deps, message, record);
  }

  if (status === "scheduled") {
    try {
      await deps.passEntry.sendNow(message.batchId);
    } catch (error) {
      if (!(error instanceof PassEntryError)) throw error;
      if (error.kind !== "permanent") {
        // It may have taken effect; the next attempt reads the batch before anything else.
        deps.log.warn("send-now failed; will look again", { ...key, batchId: message.batchId, reason: error.message });
        return next(deps, message, error);
      }
      // PassEntry refused (the batch moved on meanwhile): tracking will tell what became of it.
      deps.log.warn("PassEntry refused send-now", { ...key, batchId: message.batchId, reason: error.message });
      await recordBatch(deps, key, { note: `PassEntry refused send-now: ${error.message}` });
      return startTracking(deps, message);
    }
    await recordBatch(deps, key, { sendNowAt: new Date(deps.clock.now()).toISOString() });
    deps.log.info("batch sent now", { ...key, batchId: message.batchId });
    return startTracking(deps, message);
  }
  if (status !== undefined && isTerminal(status)) return; // failed validation (announced by observe), or cancelled
  if (status === "sending") return startTracking(deps, message); // already going (sent by schedule, or a send-now whose answer was lost)
  // Still validating (or a status we do not know yet): look again.
  if (message.attempt >= deps.followUps.maxChecks) {
    const note = `Send-now gave up after ${message.attempt} checks: PassEntry was still validating the batch. It goes out at its scheduledAt unless sent or cancelled at PassEntry.`;
    await recordBatch(deps, key, { note });
    deps.log.error("send-now gave up", { ...key, batchId: message.batchId, status });
    return;
  }
  return next(deps, message);
}

/**
 * An early send's send-now before its time: PassEntry validates the batch long before then, so look
 * until validation is over (the track follow-up's backoff) and a refusal shows, with its errors
 * CSV, within seconds instead of at the send time. Reads only, and only while the batch was last
 * seen validating: once it is scheduled (or a cancel was asked for, which the cancel follow-up
 * handles) the message waits for its time without calling PassEntry, and send-now goes as before.
 */
async function watchValidation(deps: FollowingDeps, message: BatchFollowUp, waitMs: number): Promise<void> {
  const waitForTheTime = () =>
    reschedule(deps, { ...message, attempt: 1 }, Math.min(MAX_QUEUE_DELAY_SECONDS, waitMs / 1000));
  const record = await sentRecord(deps, message);
  if (!record) return;
  const validating = record.batchStatus === undefined || record.batchStatus === "validating";
  if (!validating || record.cancelRequestedAt !== undefined || message.attempt >= deps.followUps.maxChecks)
    return waitForTheTime();
  const batch = await readBatch(deps, message);
  if (batch === "gone") return;
  const status = batch === "retry" ? undefined : await observe(deps, keyOf(message), record, batch);
  if (status !== undefined && isTerminal(status)) return; // refused at validation (announced by observe), or cancelled
  if (batch !== "retry" && status !== "validating") return waitForTheTime();
  const backoff = followUpDelaySeconds(message.attempt + 1, deps.followUps, deps.random);
  if (backoff * 1000 >= waitMs) return waitForTheTime();
  return reschedule(deps, { ...message, attempt: message.attempt + 1 }, backoff);
}

async function track(deps: FollowingDeps, message: BatchFollowUp): Promise<void> {
  const key = keyOf(message);
  const record = await sentRecord(deps, message);
  if (!record) return;
  // Already final and seen (e.g. cancelled by us). A final status only recorded at creation or by
  // reconciliation has not been announced yet: read it below, which announces it.
  if (record.batchStatus !== undefined && isTerminal(record.batchStatus) && record.statusCheckedAt !== undefined)
    return;
  const batch = await readBatch(deps, message);
  if (batch === "gone") return;
  if (batch === "retry") return next(deps, message);
  const status = await observe(deps, key, record, batch);
  if (status !== undefined && isTerminal(status)) return;
  if (record.cancelRequestedAt !== undefined && isCancellable(status)) return cancelThenTrack(deps, message, record);

  const now = deps.clock.now();
  const scheduledAt = Date.parse(batch.attributes.scheduledAt ?? "");
  if (status === "scheduled" && record.sendNowAt === undefined && Number.isFinite(scheduledAt)) {
    const aheadMs = scheduledAt - now;
    const horizonMs = deps.followUps.trackingHorizonMs;
    if (aheadMs > horizonMs) {
      const days = Math.round(horizonMs / 86_400_000);
      const note = `Not tracked: the batch is scheduled for ${batch.attributes.scheduledAt}, more than ${days} days ahead; its status here stays as last seen.`;
      await recordBatch(deps, key, { note });
      deps.log.info("batch not tracked: scheduled beyond the tracking horizon", {
        ...key,
        batchId: message.batchId,
        scheduledAt: batch.attributes.scheduledAt,
      });
      return;
    }
    if (aheadMs > followUpDelaySeconds(message.attempt + 1, deps.followUps, () => 1) * 1000) {
      // Nothing will change before scheduledAt: wait for it without calling PassEntry, then poll afresh.
      const waiting: FollowUpMessage = { ...message, attempt: 1, notBefore: new Date(scheduledAt).toISOString() };
      return reschedule(deps, waiting, Math.min(MAX_QUEUE_DELAY_SECONDS, aheadMs / 1000));
    }
  }
  if (message.attempt >= deps.followUps.maxChecks) {
    const note = `Tracking gave up after ${message.attempt} checks; the status shown is the last PassEntry reported.`;
    await recordBatch(deps, key, { note });
    deps.log.error("batch tracking gave up", { ...key, batchId: message.batchId, status });
    return;
  }
  return next(deps, message);
}

async function cancelAtPassEntry(deps: FollowingDeps, message: FollowUpMessage): Promise<void> {
  const request = await deps.store.get(message.requestId);
  if (!request) {
    deps.log.warn("cancel follow-up dropped: no such request", { requestId: message.requestId });
    return;
  }
  const announceStopped = (chunk: number) =>
    publishOutcome(deps, {
      type: "WalletMessageBatchFailed",
      requestId: request.requestId,
      chunk,
      entityId: request.entityId,
      batchId: null,
      status: "cancelled",
      reason: "The request was cancelled before this part was sent.",
      errorsCsvUrl: null,
      occurredAt: occurredAt(deps.clock),
    });
  // The HTTP handler stopped these before they were sent; it cannot publish, so the first attempt announces them.
  if (message.attempt === 1) for (const chunk of message.cancelledChunks ?? []) await announceStopped(chunk);

  const waitingFor: SendKey[] = [];
  for (let chunk = 0; chunk < chunkCount(request.batch); chunk++) {
    const key = { requestId: request.requestId, chunk };
    const entry = await deps.ledger.get(key);
    // Only created batches are this follow-up's: a part still being sent is its holder's (it sees the stamp).
    if (entry?.state !== "sent" || entry.cancelRequestedAt === undefined) continue;
    const outcome =
      entry.groupId !== undefined
        ? await cancelShared(deps, key, entry)
        : await cancelBatch(deps, key, entry, request.entityId);
    if (outcome === "retry") waitingFor.push(key);
  }
  if (waitingFor.length === 0) {
    deps.log.info("request cancellation finished", { requestId: request.requestId, attempt: message.attempt });
    return;
  }
  if (message.attempt >= deps.followUps.maxCancelAttempts) {
    const note = `Cancellation gave up after ${message.attempt} attempts: PassEntry could not be reached. Tracking cancels the batch if it still can; check it at PassEntry.`;
    for (const key of waitingFor) await recordBatch(deps, key, { note });
    deps.log.error("request cancellation gave up", {
      requestId: request.requestId,
      chunks: waitingFor.map((k) => k.chunk),
    });
    return;
  }
  const { cancelledChunks: _announced, ...rest } = message;
  return next(deps, rest);
}

/**
 * A member's cancel after its shared batch was posted: PassEntry cannot cancel part of a batch, so
 * the batch is cancelled only once every request it carries asked; until then the member says why.
 */
async function cancelShared(deps: FollowingDeps, key: SendKey, member: SendRecord): Promise<"done" | "retry"> {
  const groupKey = { requestId: member.groupId!, chunk: 0 };
  const group = await deps.ledger.get(groupKey);
  const carried = group?.members ?? [];
  const notCancelled: string[] = [];
  for (const id of carried)
    if ((await deps.ledger.get({ requestId: id, chunk: 0 }))?.cancelRequestedAt === undefined) notCancelled.push(id);
  if (!group || notCancelled.length > 0) {
    const note = `Not cancelled: this request shares PassEntry batch ${member.batchId} with ${carried.length - 1} other request(s), ${notCancelled.length} of which were not cancelled; PassEntry cannot cancel part of a batch, so it goes out as scheduled.`;
    await recordBatch(deps, key, { note });
    deps.log.info("shared batch not cancelled: other requests in it were not", {
      ...key,
      batchId: member.batchId,
      notCancelled: notCancelled.length,
    });
    return "done";
  }
  const outcome = await cancelBatch(deps, groupKey, group);
  if (outcome === "done") {
    const note = (await deps.ledger.get(groupKey))?.note;
    if (note !== undefined) for (const id of carried) await recordBatch(deps, { requestId: id, chunk: 0 }, { note });
  }
  return outcome;
}

/** Cancels one created batch at PassEntry, if it still can be; "retry" when PassEntry could not say. */
async function cancelBatch(
  deps: FollowingDeps,
  key: SendKey,
  record: SendRecord,
  entityId?: string,
): Promise<"done" | "retry"> {
  const batchId = record.batchId;
  if (batchId === undefined || record.batchStatus === "cancelled") return "done";
  if (record.batchStatus !== undefined && isTerminal(record.batchStatus)) {
    if (record.note?.startsWith("Not cancelled") !== true)
      await recordBatch(deps, key, { note: notCancelledNote(record.batchStatus) });
    return "done";
  }
  try {
    const answer = await deps.passEntry.cancelBatch(batchId);
    const status = answer.data.attributes.status ?? "cancelled";
    await recordBatch(deps, key, {
      batchStatus: status,
      statusCheckedAt: new Date(deps.clock.now()).toISOString(),
      note: "Cancelled at PassEntry before it was sent.",
    });
    deps.log.info("batch cancelled at PassEntry", { ...key, batchId, status });
    if (status === "cancelled") await announceTerminal(deps, key, batchId, "cancelled", answer.data, entityId);
    return "done";
  } catch (error) {
    if (!(error instanceof PassEntryError)) throw error;
    if (error.kind !== "permanent") {
      deps.log.warn("batch cancellation failed; will try again", { ...key, batchId, reason: error.message });
      return "retry";
    }
    // PassEntry refused: the batch has most likely moved past `scheduled`. Read it to say what it is.
    let batch: PassEntryBatchResource;
    try {
      batch = (await deps.passEntry.getBatch(batchId)).data;
    } catch (readError) {
      if (!(readError instanceof PassEntryError)) throw readError;
      return "retry";
    }
    const status = await observe(deps, key, record, batch, entityId);
    if (status === "cancelled") return "done";
    await recordBatch(deps, key, { note: notCancelledNote(status) });
    deps.log.info("batch could not be cancelled", { ...key, batchId, status, reason: error.message });
    return "done";
  }
}

function notCancelledNote(status: string | undefined): string {
  if (status === "sending") return "Not cancelled: PassEntry had already started sending this batch.";
  return `Not cancelled: the batch had already finished (${status ?? "status unknown"}).`;
}

// ---------------------------------------------------------------------------------------------

const keyOf = (message: BatchFollowUp): SendKey => ({ requestId: message.requestId, chunk: message.chunk });

function isTerminal(status: string): boolean {
  return (TERMINAL_BATCH_STATUSES as readonly string[]).includes(status);
}

function isCancellable(status: string | undefined): boolean {
  return status === undefined || status === "validating" || status === "scheduled";
}

/** Records what was learned about a sent part's batch. */
async function recordBatch(deps: FollowingDeps, key: SendKey, update: BatchUpdate): Promise<void> {
  await transition(deps.ledger, key, { type: "observed", now: deps.clock.now(), update });
}

/** A cancelled request's batch met by send-now or tracking: cancel it at PassEntry, then track what it became. */
async function cancelThenTrack(deps: FollowingDeps, message: BatchFollowUp, entry: SendRecord): Promise<void> {
  if ((await cancelBatch(deps, keyOf(message), entry)) === "retry") return next(deps, message);
  return startTracking(deps, message);
}

/** The ledger entry the follow-up is about, if it is still the sent batch it names. */
async function sentRecord(deps: FollowingDeps, message: BatchFollowUp): Promise<SendRecord | undefined> {
  const record = await deps.ledger.get(keyOf(message));
  if (record?.state === "sent" && record.batchId === message.batchId) return record;
  deps.log.warn("follow-up dropped: no sent batch matches it", {
    requestId: message.requestId,
    chunk: message.chunk,
    batchId: message.batchId,
    followUp: message.followUp,
  });
  return undefined;
}

/** GET the batch. "gone" when PassEntry refuses for good (e.g. 404, noted), "retry" when it could not answer now. */
async function readBatch(
  deps: FollowingDeps,
  message: BatchFollowUp,
): Promise<PassEntryBatchResource | "gone" | "retry"> {
  try {
    return (await deps.passEntry.getBatch(message.batchId)).data;
  } catch (error) {
    if (!(error instanceof PassEntryError)) throw error;
    if (error.kind === "permanent") {
      await recordBatch(deps, keyOf(message), {
        note: `Not tracked further: PassEntry would not show the batch (${error.message})`,
      });
      deps.log.error("batch could not be read; follow-up stopped", {
        ...keyOf(message),
        batchId: message.batchId,
        followUp: message.followUp,
        reason: error.message,
      });
      return "gone";
    }
    deps.log.warn("batch could not be read; will look again", {
      ...keyOf(message),
      batchId: message.batchId,
      followUp: message.followUp,
      reason: error.message,
    });
    return "retry";
  }
}

/**
 * Records what PassEntry said about the batch; announces a move into a terminal status once: on the
 * change, or on the first look at a batch that was already final when it was recorded.
 */
async function observe(
  deps: FollowingDeps,
  key: SendKey,
  record: SendRecord,
  batch: PassEntryBatchResource,
  entityId?: string,
): Promise<string | undefined> {
  const attributes = batch.attributes;
  const status = attributes.status ?? undefined;
  await recordBatch(deps, key, {
    batchStatus: status,
    totalCount: attributes.totalCount,
    errorsCsvUrl: attributes.errorsCsvUrl,
    deliveryCsvUrl: attributes.deliveryCsvUrl,
    scheduledAt: attributes.scheduledAt,
    statusCheckedAt: new Date(deps.clock.now()).toISOString(),
  });
  const firstLook = record.statusCheckedAt === undefined;
  if (status !== undefined && isTerminal(status) && (status !== record.batchStatus || firstLook)) {
    await announceTerminal(deps, key, batch.id, status as BatchStatus, batch, entityId);
  }
  return status;
}

async function announceTerminal(
  deps: FollowingDeps,
  key: SendKey,
  batchId: string,
  status: BatchStatus,
  batch: PassEntryBatchResource,
  knownEntityId?: string,
): Promise<void> {
  const attributes = batch.attributes;
  deps.log.info("batch finished", { ...key, batchId, status, totalCount: attributes.totalCount ?? undefined });
  const request = await deps.store.get(key.requestId);
  if (request?.source === "group") {
    // A shared batch is announced to each request it carries, under that request's own id and count.
    const carried = (await deps.ledger.get(key))?.members ?? request.members ?? [];
    for (const id of carried) {
      const member = await deps.ledger.get({ requestId: id, chunk: 0 });
      if (member?.state !== "sent") continue;
      const memberBatch = { ...batch, attributes: { ...attributes, totalCount: member.recipientCount ?? null } };
      await announceTerminal(deps, { requestId: id, chunk: 0 }, batchId, status, memberBatch, request.entityId);
    }
    return;
  }
  const entityId = knownEntityId ?? request?.entityId ?? null;
  const common = {
    ...key,
    entityId,
    batchId,
    occurredAt: occurredAt(deps.clock),
    errorsCsvUrl: attributes.errorsCsvUrl ?? null,
  };
  if (status === "successful" || status === "completedWithErrors") {
    await publishOutcome(deps, {
      type: "WalletMessageBatchCompleted",
      ...common,
      status,
      totalCount: attributes.totalCount ?? null,
      deliveryCsvUrl: attributes.deliveryCsvUrl ?? null,
    });
  } else if (status === "failed") {
    await publishOutcome(deps, {
      type: "WalletMessageBatchFailed",
      ...common,
      status,
      reason: "PassEntry's validation of the batch failed; see errorsCsvUrl.",
    });
  } else if (status === "cancelled") {
    await publishOutcome(deps, {
      type: "WalletMessageBatchFailed",
      ...common,
      status,
      reason: "The batch was cancelled before it was sent.",
    });
  }
}

/** The first `track` after creation or send-now. */
function startTracking(deps: FollowingDeps, message: BatchFollowUp): Promise<void> {
  const { notBefore: _none, ...rest } = message;
  return reschedule(
    deps,
    { ...rest, followUp: "track", attempt: 1 },
    followUpDelaySeconds(1, deps.followUps, deps.random),
  );
}

/** The same follow-up again, one attempt later (and no sooner than an open circuit allows). */
function next(deps: FollowingDeps, message: FollowUpMessage, error?: PassEntryError): Promise<void> {
  const backoff = followUpDelaySeconds(message.attempt + 1, deps.followUps, deps.random);
  const delay = Math.max(backoff, error?.details.retryAfterSeconds ?? 0);
  return reschedule(deps, { ...message, attempt: message.attempt + 1 }, delay);
}

/** Queues the follow-up; when that fails, keeps the current message instead (every follow-up is safe to repeat). */
async function reschedule(deps: FollowingDeps, message: FollowUpMessage, delaySeconds: number): Promise<void> {
  if (!(await enqueueFollowUp(deps, message, delaySeconds))) {
    throw new RetryLaterError(`The ${message.followUp} follow-up of ${message.requestId} could not be rescheduled.`);
  }
}
