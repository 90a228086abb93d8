/**
 * SQS → PassEntry. The records go to the queue-record use case (core/queue-record.ts): send
 * requests (those that may share a PassEntry batch are sent together), the sender's own follow-ups,
 * or junk. The answer lists only the records worth retrying (`batchItemFailures`), each made visible again when its failure asks (ChangeMessageVisibility)
 * rather than after the queue's whole visibility timeout.
 *
 * Records are handled one after the other, not with Powertools' BatchProcessor: that runs records
 * in parallel by default and treats each alone, while the sender paces its PassEntry calls
 * sequentially and must stop starting records when the invocation's time runs short.
 */
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { handleQueueRecords } from "../core/queue-record.js";
import type { SenderDeps } from "../handler-deps.js";
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
    const records = event.Records.map((r) => ({
      messageId: r.messageId,
      body: r.body,
      receiveCount: Number(r.attributes?.ApproximateReceiveCount ?? 1),
    }));
    const outcomes = await handleQueueRecords(send, records);
    for (const record of event.Records) {
      const outcome = outcomes.get(record.messageId);
      if (!outcome || outcome.done) continue;
      batchItemFailures.push({ itemIdentifier: record.messageId });
      try {
        await deps.retries?.retryAfter(record.receiptHandle, outcome.delaySeconds, outcome.reason);
      } catch (error) {
        // Only slower: the message comes back when the queue's visibility timeout ends.
        deps.log.warn("retry delay not set; the message returns after the visibility timeout", {
          messageId: record.messageId,
          error: (error as Error).message,
        });
      }
    }
    return { batchItemFailures };
  };
}

export const handler = withLambdaContext(makeSenderHandler(awsSenderDeps));
