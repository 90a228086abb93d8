/**
 * Use case: what the sender does with one queue message, whatever home delivered it. It is a send
 * request (ours, an EventBridge event, or a raw message from another service), or one of the
 * sender's own follow-ups, or junk. The answer says whether the message is finished with, or must
 * come back, and when.
 */
import { describeIssues } from "./describe-issues.js";
import { isRetryable, RetryLaterError } from "./errors.js";
import { handleFollowUp } from "./follow-up.js";
import { rejectQueueMessage } from "./reject-message.js";
import { markDeadLettered, refreshSummary, withoutDeadLetter } from "./request-summary.js";
import { retryBackoffSeconds } from "./retry-policy.js";
import {
  isFollowUp,
  QueueMessageBody,
  toSendRequest,
  unknownBatchKeys,
  type SendRequest,
  type SendRequestMessage,
} from "./schemas.js";
import { packGroups, sendShared, shareKey, toShareable, type MemberResult, type Shareable } from "./coalesce.js";
import { wantsSendNow } from "./batch-rules.js";
import { sendRequest, type SendDeps } from "./send-request.js";

export interface QueueRecord {
  messageId: string;
  body: string;
  /** How many times the queue has delivered it, this time included. */
  receiveCount: number;
}

export type RecordOutcome =
  /** Finished with: delete it (sent, decided, or refused for good). */
  | { done: true }
  /** Keep it: it comes back after `delaySeconds`. */
  | { done: false; delaySeconds: number; reason: string };

/**
 * Handles one message. Never throws for a failure a later attempt may cure: it answers `done: false`
 * with the delay the failure asks for (PassEntry's retry-after, a lease's end, a settle window) or
 * the queue's exponential backoff.
 *
 * @example const outcome = await handleQueueRecord(deps, { messageId, body, receiveCount: 1 });
 */
export async function handleQueueRecord(deps: SendDeps, record: QueueRecord): Promise<RecordOutcome> {
  const body = safeJson(record.body);
  const parsed = QueueMessageBody.safeParse(body);
  if (!parsed.success) {
    // A poison message can never succeed: retrying it would only delay it into the dead-letter queue.
    const problems = describeIssues(parsed.error).slice(0, 10);
    deps.log.error("queue message rejected: not a wallet message request", { messageId: record.messageId, problems });
    await rejectQueueMessage(deps, { messageId: record.messageId, body, problems });
    return { done: true };
  }
  const message = parsed.data;
  if (!isFollowUp(message)) {
    // The HTTP door refuses top-level keys outside our contract (PassEntry might honour one and widen
    // who gets messaged); a request put straight on the queue or the bus meets the same rule here.
    const batch = "detail-type" in message ? message.detail.batch : message.batch;
    const unknown = unknownBatchKeys(batch, deps.allowedBatchKeys);
    if (unknown.length > 0) {
      const problems = unknown
        .slice(0, 10)
        .map(
          (key) =>
            `batch.${key.slice(0, 100)} is not a field we forward to PassEntry (allow it by name in ALLOWED_BATCH_KEYS if PassEntry documents it)`,
        );
      deps.log.error("queue message rejected: not a wallet message request", { messageId: record.messageId, problems });
      await rejectQueueMessage(deps, { messageId: record.messageId, body, problems });
      return { done: true };
    }
  }
  const requestId = isFollowUp(message) ? message.requestId : toSendRequest(message, record.messageId).requestId;
  const outcome = await handleRequestMessage(deps, record, message, requestId);
  await keepSummary(deps, record, requestId, isFollowUp(message) ? message.followUp : "send", outcome);
  return outcome;
}

/**
 * After each message: the request's summary follows its ledger, and a message handed back on its
 * last allowed receive (the queue dead-letters it next) is recorded on the request, since SQS tells
 * nobody when it moves one. A message of that kind handled again (redriven) clears the mark.
 */
async function keepSummary(
  deps: SendDeps,
  record: QueueRecord,
  requestId: string,
  kind: string,
  outcome: RecordOutcome,
): Promise<void> {
  const summaryDeps = { store: deps.store, ledger: deps.ledger, log: deps.log, clock: deps.clock };
  if (!outcome.done && record.receiveCount >= deps.maxReceives) {
    await markDeadLettered(summaryDeps, requestId, {
      kind,
      messageId: record.messageId,
      receiveCount: record.receiveCount,
      lastError: outcome.reason,
    });
    return;
  }
  await refreshSummary(summaryDeps, requestId, (request) => withoutDeadLetter(request, kind, deps));
}

async function handleRequestMessage(
  deps: SendDeps,
  record: QueueRecord,
  message: QueueMessageBody,
  requestId: string,
): Promise<RecordOutcome> {
  try {
    if (isFollowUp(message)) {
      await handleFollowUp(deps, message);
      return { done: true };
    }
    if (!("detail-type" in message) && message.requestId === undefined && deps.followUps) {
      await stampIdentity(deps, message, record.messageId);
      return { done: true };
    }
    const outcomes = await sendRequest(deps, toSendRequest(message, record.messageId));
    deps.log.info("queue message done", {
      messageId: record.messageId,
      requestId,
      outcomes: outcomes.map((o) => o.state),
    });
    return { done: true };
  } catch (error) {
    const retry = isRetryable(error);
    const reason = (error as Error).message;
    deps.log.warn(retry ? "queue message will be retried" : "queue message dropped", {
      messageId: record.messageId,
      requestId,
      receiveCount: record.receiveCount,
      error: reason,
    });
    if (!retry) return { done: true };
    const asked = error instanceof RetryLaterError ? error.delaySeconds : undefined;
    return { done: false, delaySeconds: asked ?? retryBackoffSeconds(record.receiveCount, deps.random), reason };
  }
}

/**
 * Handles one delivery's messages. Requests that may share a PassEntry batch (coalesce.ts) are
 * gathered across the delivery and sent together; every other message is handled on its own, in
 * order. No message is started with less than the call budget left: those are handed back at once.
 *
 * @example const outcomes = await handleQueueRecords(deps, records); // outcomes.get(messageId)
 */
export async function handleQueueRecords(
  deps: SendDeps,
  records: readonly QueueRecord[],
): Promise<Map<string, RecordOutcome>> {
  const outcomes = new Map<string, RecordOutcome>();
  const outOfTime = (): RecordOutcome => ({
    done: false,
    delaySeconds: 0,
    reason: "Too little time was left in this invocation to start the message.",
  });
  const hasTime = () => deps.remainingMs() >= deps.callBudgetMs;

  const shareable = !deps.shareBatches
    ? new Map<string, { record: QueueRecord; item: Shareable }[]>()
    : await gatherShareable(deps, records);
  const gathered = new Set([...shareable.values()].flat().map(({ record }) => record.messageId));
  for (const items of shareable.values()) {
    for (const group of packGroups(items.map((i) => i.item))) {
      const recordOf = new Map(
        items.filter((i) => group.includes(i.item)).map((i) => [i.item.request.requestId, i.record]),
      );
      if (!hasTime()) {
        for (const record of recordOf.values()) outcomes.set(record.messageId, outOfTime());
        continue;
      }
      let results: Map<string, MemberResult>;
      try {
        results = await sendShared(deps, group);
      } catch (error) {
        // Our own failure (a ledger write that kept losing, the store): every member comes back.
        for (const [requestId, record] of recordOf) {
          const outcome = failedOutcome(deps, record, error);
          outcomes.set(record.messageId, outcome);
          await keepSummary(deps, record, requestId, "send", outcome);
        }
        continue;
      }
      for (const [requestId, record] of recordOf) {
        const result = results.get(requestId);
        let outcome: RecordOutcome;
        if (!result)
          outcome = {
            done: false,
            delaySeconds: retryBackoffSeconds(record.receiveCount, deps.random),
            reason: "Not settled by its shared batch.",
          };
        else if ("retry" in result) outcome = failedOutcome(deps, record, result.retry);
        else {
          deps.log.info("queue message done", {
            messageId: record.messageId,
            requestId,
            outcomes: [result.outcome.state],
          });
          outcome = { done: true };
        }
        outcomes.set(record.messageId, outcome);
        await keepSummary(deps, record, requestId, "send", outcome);
      }
    }
  }
  for (const record of records) {
    if (gathered.has(record.messageId)) continue;
    outcomes.set(record.messageId, hasTime() ? await handleQueueRecord(deps, record) : outOfTime());
  }
  return outcomes;
}

/**
 * The delivery's requests that may share a batch, by sharing key; only keys that at least two
 * requests share (one request alone gains nothing from the group's extra writes). Each request's
 * stored record is ensured first: its caller, recorded at the door, is what sharing is keyed on.
 */
async function gatherShareable(
  deps: SendDeps,
  records: readonly QueueRecord[],
): Promise<Map<string, { record: QueueRecord; item: Shareable }[]>> {
  const byKey = new Map<string, { record: QueueRecord; item: Shareable }[]>();
  const seen = new Set<string>();
  for (const record of records) {
    const parsed = QueueMessageBody.safeParse(safeJson(record.body));
    if (!parsed.success || isFollowUp(parsed.data)) continue;
    const message = parsed.data;
    const batch = "detail-type" in message ? message.detail.batch : message.batch;
    if (batch.recipients === undefined || unknownBatchKeys(batch, deps.allowedBatchKeys).length > 0) continue;
    if (!("detail-type" in message) && message.requestId === undefined) continue; // gets its request id first
    const request = toSendRequest(message, record.messageId);
    if (seen.has(request.requestId)) continue; // a duplicate copy: handled on its own (it finds the first)
    seen.add(request.requestId);
    const stored = await ensureStored(deps, request);
    const key = shareKey(request, stored);
    if (key === undefined) continue;
    const list = byKey.get(key) ?? [];
    list.push({ record, item: toShareable(request, stored, key) });
    byKey.set(key, list);
  }
  for (const [key, list] of byKey) if (list.length < 2) byKey.delete(key);
  return byKey;
}

async function ensureStored(deps: SendDeps, request: SendRequest) {
  // Our own door stored it already (the usual case): a read, no write.
  const stored = await deps.store.get(request.requestId);
  if (stored) return stored;
  const at = request.acceptedAt ?? new Date(deps.clock.now()).toISOString();
  return deps.store.ensure({
    requestId: request.requestId,
    entityId: request.entityId,
    source: request.source,
    createdAt: at,
    enqueuedAt: at,
    batch: request.batch,
    ...(wantsSendNow(request.batch) ? { sendNow: true } : {}),
  });
}

function failedOutcome(deps: SendDeps, record: QueueRecord, error: unknown): RecordOutcome {
  const reason = (error as Error).message;
  const retry = isRetryable(error);
  deps.log.warn(retry ? "queue message will be retried" : "queue message dropped", {
    messageId: record.messageId,
    receiveCount: record.receiveCount,
    error: reason,
  });
  if (!retry) return { done: true };
  const asked = error instanceof RetryLaterError ? error.delaySeconds : undefined;
  return { done: false, delaySeconds: asked ?? retryBackoffSeconds(record.receiveCount, deps.random), reason };
}

/**
 * A raw message from another service without `requestId` is keyed by its SQS message id, which a
 * dead-letter redrive replaces. Before anything is sent, it is put back on the queue with that id
 * written into it, so every later copy (redelivered, redriven, moved) carries the same key. A crash
 * between the two steps redelivers the original under the same message id: the same key again.
 */
async function stampIdentity(deps: SendDeps, message: SendRequestMessage, messageId: string): Promise<void> {
  const stamped: SendRequestMessage = {
    ...message,
    requestId: `sqs-${messageId}`,
    source: message.source ?? "sqs",
    acceptedAt: message.acceptedAt ?? new Date(deps.clock.now()).toISOString(),
  };
  try {
    await deps.followUps!.queue.send(stamped);
  } catch (error) {
    throw new RetryLaterError(`The message could not be given its request id (${(error as Error).message}).`);
  }
  deps.log.info("queue message given its request id", { messageId, requestId: stamped.requestId });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
