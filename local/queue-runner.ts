/**
 * In-process workers for the embedded home, behaving as Lambda's SQS event source mapping does:
 * each takes up to `batchSize` messages, waiting up to the gathering window for more when what it
 * took may share a PassEntry batch, hands them to the same sender handler Lambda runs (as one SQS
 * event), deletes what succeeded, and makes each failure visible again when the handler asked
 * (its `retryAfter`, the local ChangeMessageVisibility) or after the visibility timeout. While a
 * batch is being handled its messages' visibility is extended, as a long-running SQS consumer
 * does, so no other worker takes them meanwhile. Each worker has its own handler, so its own owner
 * id in ledger claims, as each Lambda instance has.
 */
import type { SQSEvent } from "aws-lambda";
import type { SqliteMessageQueue, ReceivedMessage } from "../functions/adapters/sqlite-message-queue.js";
import { mayShareBatch } from "../functions/core/coalesce.js";
import type { Log, RetryScheduler } from "../functions/core/ports.js";
import { retryBackoffSeconds } from "../functions/core/retry-policy.js";
import type { makeSenderHandler } from "../functions/handlers/sender.js";

export interface QueueRunnerOptions {
  queue: SqliteMessageQueue;
  /** The handler worker `index` runs (each its own, with its own owner id), asking `retries` for each failure's delay. */
  handlerFor: (index: number, retries: RetryScheduler) => ReturnType<typeof makeSenderHandler>;
  workers: number;
  /** Messages handed to one invocation at most (the event source mapping's batch size). Default 1. */
  batchSize?: number;
  /** How long a worker waits for more messages when those it took may share a batch (the batching window). Default 0. */
  gatherWindowMs?: number;
  visibilityTimeoutMs: number;
  log: Log;
  /** How often an idle worker looks again; `wake()` cuts the wait short. Default 200 ms. */
  idlePollMs?: number;
}

export function toSqsEvent(messages: ReceivedMessage[]): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.messageId,
      receiptHandle: m.receiptHandle,
      body: m.body,
      attributes: {
        ApproximateReceiveCount: String(m.receiveCount),
        SentTimestamp: String(m.sentAt),
        SenderId: "local",
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:local:000000000000:MessagesQueue",
      awsRegion: "local",
    })),
  };
}

export class QueueRunner {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private wakers: (() => void)[] = [];

  constructor(private readonly options: QueueRunnerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.options.workers; i++) this.loops.push(this.loop(i));
  }

  /** New work arrived: idle workers look now instead of at their next poll. */
  wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  /** Stops taking messages and waits for in-flight ones to finish (or to fall back to the queue). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await Promise.all(this.loops.splice(0));
  }

  private async loop(index: number): Promise<void> {
    // The delays the handler asks for in one invocation, applied once it has returned.
    let asked = new Map<string, { seconds: number; reason: string }>();
    const handler = this.options.handlerFor(index, {
      retryAfter: async (receiptHandle, seconds, reason) => void asked.set(receiptHandle, { seconds, reason }),
    });
    while (this.running) {
      const batch = await this.take();
      if (batch.length === 0) {
        await this.idle();
        continue;
      }
      asked = new Map();
      await this.process(handler, batch, asked);
    }
  }

  /** Up to `batchSize` messages; when some may share a batch, more are gathered for up to the window. */
  private async take(): Promise<ReceivedMessage[]> {
    const { queue, visibilityTimeoutMs } = this.options;
    const size = this.options.batchSize ?? 1;
    const batch = queue.receive(size, visibilityTimeoutMs);
    const windowMs = this.options.gatherWindowMs ?? 0;
    if (batch.length === 0 || batch.length >= size || windowMs <= 0 || !batch.some((m) => mayShareBatch(m.body)))
      return batch;
    const until = Date.now() + windowMs;
    while (this.running && batch.length < size && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, until - Date.now())));
      batch.push(...queue.receive(size - batch.length, visibilityTimeoutMs));
    }
    return batch;
  }

  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.options.idlePollMs ?? 200);
      this.wakers.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async process(
    handler: ReturnType<typeof makeSenderHandler>,
    batch: ReceivedMessage[],
    asked: Map<string, { seconds: number; reason: string }>,
  ): Promise<void> {
    const { queue, log, visibilityTimeoutMs } = this.options;
    const handles = batch.map((m) => m.receiptHandle);
    const heartbeat = setInterval(
      () => queue.extend(handles, visibilityTimeoutMs),
      Math.max(100, visibilityTimeoutMs / 3),
    );
    try {
      // No Lambda context: nothing kills a local worker, so there is no deadline to keep.
      const answer = await handler(toSqsEvent(batch));
      clearInterval(heartbeat);
      const failed = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
      queue.deleteMany(batch.filter((m) => !failed.has(m.messageId)).map((m) => m.receiptHandle));
      for (const message of batch.filter((m) => failed.has(m.messageId))) {
        const delay = asked.get(message.receiptHandle);
        queue.release(
          message.receiptHandle,
          delay?.seconds ?? retryBackoffSeconds(message.receiveCount),
          delay?.reason,
        );
      }
    } catch (error) {
      clearInterval(heartbeat);
      // The handler itself threw (it should not): like Lambda, the whole batch is retried.
      log.error("sender invocation failed", {
        messageIds: batch.map((m) => m.messageId),
        error: (error as Error).message,
      });
      for (const message of batch)
        queue.release(message.receiptHandle, retryBackoffSeconds(message.receiveCount), (error as Error).message);
    }
  }
}
