/**
 * SQS → PassEntry. Each record goes to the queue-record use case (core/queue-record.ts): a send
 * request, one of the sender's own follow-ups, or junk. The answer lists only the records worth
 * retrying (`batchItemFailures`), each made visible again when its failure asks (ChangeMessageVisibility)
 * rather than after the queue's whole visibility timeout.
 *
 * Records are handled one after the other, not with Powertools' BatchProcessor: that runs records
 * in parallel by default and treats each alone, while the sender paces its PassEntry calls
 * sequentially and must stop starting records when the invocation's time runs short.
 */
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { handleQueueRecord } from "../core/queue-record.js";
import type { SenderDeps } from "../wiring.js";
import { awsSenderDeps } from "../wiring/sender.js";
import { withLambdaContext } from "../wiring/aws-base.js";

/** Without a Lambda context (tests, the embedded home) assume a generous budget. */
const DEFAULT_REMAINING_MS = 60_000;

export function makeSenderHandler(getDeps: () => SenderDeps) {
  return async (event: SQSEvent, context?: Pick<Context, "getRemainingTimeInMillis">): Promise<SQSBatchResponse> => {
    const deps = getDeps();
    const remainingMs = () => context?.getRemainingTimeInMillis() ?? DEFAULT_REMAINING_MS;
    const send = { ...deps.send, remainingMs };
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    for (const record of event.Records) {
      const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
      // Starting a record the Lambda may not live to finish would leave its outcome unknown: hand it
      // back untouched instead (a large audience is many paced POSTs).
      const outcome =
        remainingMs() < (send.callBudgetMs ?? 0)
          ? { done: false as const, delaySeconds: 0, reason: "Too little time was left in this invocation to start the message." }
          : await handleQueueRecord(send, { messageId: record.messageId, body: record.body, receiveCount });
      if (outcome.done) continue;
      batchItemFailures.push({ itemIdentifier: record.messageId });
      try {
        await deps.retries?.retryAfter(record.receiptHandle, outcome.delaySeconds, outcome.reason);
      } catch (error) {
        // Only slower: the message comes back when the queue's visibility timeout ends.
        deps.log.warn("retry delay not set; the message returns after the visibility timeout", { messageId: record.messageId, error: (error as Error).message });
      }
    }
    return { batchItemFailures };
  };
}

export const handler = withLambdaContext(makeSenderHandler(awsSenderDeps));
