/**
 * SQS → PassEntry. Each record is parsed and sent through the ledger (a send request), or handled as
 * the sender's own follow-up (send-now, track, cancel); the answer lists only the records worth
 * retrying (`batchItemFailures`), so a permanent failure or a poison message is not retried while a
 * 429 or an outage keeps its message. Records are handled one after the other: the pacer allows one
 * POST at a time per endpoint anyway, and order keeps the log readable.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { describeIssues } from "../core/accept-request.js";
import { isRetryable } from "../core/errors.js";
import { handleFollowUp } from "../core/follow-up.js";
import { rejectQueueMessage } from "../core/reject-message.js";
import { isFollowUp, QueueMessageBody, toSendRequest } from "../core/schemas.js";
import { sendRequest } from "../core/send-request.js";
import type { SenderDeps } from "../wiring.js";
import { awsSenderDeps } from "../wiring/sender.js";

/** Without a Lambda context (tests, local) assume a generous budget. */
const DEFAULT_REMAINING_MS = 60_000;
/** Enough for one POST at its client timeout plus a reconciliation read. */
export const MIN_REMAINING_TO_START_MS = 15_000;

/** Lets the embedded home see why a record will be retried (SQS keeps no such note; the local queue does). */
export interface SenderHooks {
  onRetry?: (messageId: string, error: Error, delaySeconds: number | undefined) => void;
  /**
   * Below this remaining time no new record is started (default 15 s). The embedded home passes 0:
   * its "remaining time" is a visibility deadline, and nothing kills a local worker when it passes.
   */
  minRemainingToStartMs?: number;
}

export function makeSenderHandler(getDeps: () => SenderDeps, hooks: SenderHooks = {}) {
  return async (event: SQSEvent, context?: Pick<Context, "getRemainingTimeInMillis">): Promise<SQSBatchResponse> => {
    const deps = getDeps();
    const remainingMs = () => context?.getRemainingTimeInMillis() ?? DEFAULT_REMAINING_MS;
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    for (const record of event.Records) {
      // Starting a send the Lambda may not live to finish would leave its outcome unknown: hand the
      // rest of the batch back instead (a large audience is many paced POSTs).
      if (remainingMs() < (hooks.minRemainingToStartMs ?? MIN_REMAINING_TO_START_MS)) {
        deps.log.warn("too little time left in this invocation; returning the record to the queue", { messageId: record.messageId, remainingMs: remainingMs() });
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      if (!(await handleRecord(deps, record, remainingMs, hooks))) batchItemFailures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures };
  };
}

/** True when the record is finished with (sent, decided, or refused for good); false to retry it. */
async function handleRecord(deps: SenderDeps, record: SQSRecord, remainingMs: () => number, hooks: SenderHooks): Promise<boolean> {
  const body = safeJson(record.body);
  const parsed = QueueMessageBody.safeParse(body);
  if (!parsed.success) {
    // A poison message can never succeed: retrying it would only delay it into the dead-letter queue.
    const problems = describeIssues(parsed.error).slice(0, 10);
    deps.log.error("queue message rejected: not a wallet message request", { messageId: record.messageId, problems });
    await rejectQueueMessage(deps.send, { messageId: record.messageId, body, problems });
    return true;
  }
  const message = parsed.data;
  const request = isFollowUp(message) ? message : toSendRequest(message, record.messageId);
  try {
    if (isFollowUp(message)) {
      // The sender's own note to look at a batch again: send it now, track it, or cancel it.
      await handleFollowUp({ ...deps.send, remainingMs }, message);
      return true;
    }
    const outcomes = await sendRequest({ ...deps.send, remainingMs }, toSendRequest(message, record.messageId));
    deps.log.info("queue message done", { messageId: record.messageId, requestId: request.requestId, outcomes: outcomes.map((o) => o.state) });
    return true;
  } catch (error) {
    const retry = isRetryable(error) || (error as { retryable?: boolean }).retryable === true;
    deps.log.warn(retry ? "queue message will be retried" : "queue message dropped", {
      messageId: record.messageId,
      requestId: request.requestId,
      receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 0),
      error: (error as Error).message,
    });
    if (retry) hooks.onRetry?.(record.messageId, error as Error, (error as { delaySeconds?: number }).delaySeconds);
    return !retry;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const handler = makeSenderHandler(awsSenderDeps);
