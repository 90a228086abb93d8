/**
 * In-process workers for the embedded home: each takes messages from the SQLite queue, hands them
 * to the same sender handler Lambda runs on AWS (as an SQS event) and deletes what succeeded, as
 * the event source mapping would. What failed stays in flight until the handler's `retryAfter`
 * (the local ChangeMessageVisibility) or the visibility timeout makes it visible again. Each worker
 * has its own handler, so its own owner id in ledger claims, as each Lambda instance has.
 */
import type { SQSEvent } from "aws-lambda";
import type { SqliteMessageQueue, ReceivedMessage } from "../functions/adapters/sqlite-message-queue.js";
import type { Log } from "../functions/core/ports.js";
import { retryBackoffSeconds } from "../functions/core/retry-policy.js";
import type { makeSenderHandler } from "../functions/handlers/sender.js";

export interface QueueRunnerOptions {
  queue: SqliteMessageQueue;
  /** The handler worker `index` runs (each its own, with its own owner id). */
  handlerFor: (index: number) => ReturnType<typeof makeSenderHandler>;
  workers: number;
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
    for (let i = 0; i < this.options.workers; i++) this.loops.push(this.loop(this.options.handlerFor(i)));
  }

  /** New work arrived: idle workers look now instead of at their next poll. */
  wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    wakers.forEach((w) => w());
  }

  /** Stops taking messages and waits for in-flight ones to finish (or to fall back to the queue). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await Promise.all(this.loops.splice(0));
  }

  private async loop(handler: ReturnType<typeof makeSenderHandler>): Promise<void> {
    while (this.running) {
      const [message] = this.options.queue.receive(1, this.options.visibilityTimeoutMs);
      if (!message) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.idlePollMs ?? 200);
          this.wakers.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        continue;
      }
      await this.process(handler, message);
    }
  }

  private async process(handler: ReturnType<typeof makeSenderHandler>, message: ReceivedMessage): Promise<void> {
    const { queue, log } = this.options;
    try {
      // No Lambda context: nothing kills a local worker, so there is no deadline to keep (the
      // visibility timeout only lets another worker see the message, and the ledger stops it there).
      const answer = await handler(toSqsEvent([message]));
      if (answer.batchItemFailures.length === 0) queue.delete(message.receiptHandle);
    } catch (error) {
      // The handler itself threw (it should not): like Lambda, the whole message is retried.
      log.error("sender invocation failed", { messageId: message.messageId, error: (error as Error).message });
      queue.release(message.receiptHandle, retryBackoffSeconds(message.receiveCount), (error as Error).message);
    }
  }
}
