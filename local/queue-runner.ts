/**
 * In-process workers for the embedded home: each takes messages from the SQLite queue, hands them
 * to the same sender handler Lambda runs on AWS (as an SQS event), deletes what succeeded and
 * returns the rest to the queue with a backoff, as SQS and the event source mapping would.
 */
import type { SQSEvent } from "aws-lambda";
import type { SqliteMessageQueue, ReceivedMessage } from "../functions/adapters/sqlite-message-queue.js";
import type { Log } from "../functions/core/ports.js";
import type { makeSenderHandler } from "../functions/handlers/sender.js";

export interface QueueRunnerOptions {
  queue: SqliteMessageQueue;
  handler: ReturnType<typeof makeSenderHandler>;
  /** Reasons for retries, reported by the handler's onRetry hook. */
  retryNotes: Map<string, { error: string; delaySeconds?: number | undefined }>;
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

/** Retry delay when the handler gives none: 1, 2, 4 … seconds with jitter, never past the visibility timeout. */
export function backoffSeconds(receiveCount: number, visibilityTimeoutSeconds: number): number {
  const base = Math.min(visibilityTimeoutSeconds, 2 ** Math.max(0, receiveCount - 1));
  return Math.max(0.2, base * (0.5 + Math.random() / 2));
}

export class QueueRunner {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private wakers: (() => void)[] = [];

  constructor(private readonly options: QueueRunnerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.options.workers; i++) this.loops.push(this.loop());
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

  private async loop(): Promise<void> {
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
      await this.process(message);
    }
  }

  private async process(message: ReceivedMessage): Promise<void> {
    const { queue, handler, visibilityTimeoutMs, log, retryNotes } = this.options;
    const deadline = Date.now() + visibilityTimeoutMs;
    try {
      const answer = await handler(toSqsEvent([message]), { getRemainingTimeInMillis: () => deadline - Date.now() });
      if (answer.batchItemFailures.length === 0) {
        queue.delete(message.receiptHandle);
        return;
      }
      const note = retryNotes.get(message.messageId);
      retryNotes.delete(message.messageId);
      const delay = note?.delaySeconds ?? backoffSeconds(message.receiveCount, visibilityTimeoutMs / 1000);
      queue.release(message.receiptHandle, delay, note?.error);
    } catch (error) {
      // The handler itself threw (it should not): like Lambda, the whole message is retried.
      log.error("sender invocation failed", { messageId: message.messageId, error: (error as Error).message });
      queue.release(message.receiptHandle, backoffSeconds(message.receiveCount, visibilityTimeoutMs / 1000), (error as Error).message);
    }
  }
}
