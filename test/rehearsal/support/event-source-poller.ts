/**
 * Lambda's SQS event source mapping, as synthesized: up to `maximumConcurrency` pollers, each
 * gathering up to `batchSize` messages for at most the batching window, invoking the function with
 * SQS's event, then deleting what succeeded. With ReportBatchItemFailures the function's
 * `batchItemFailures` stay in the queue (an answer naming a message not in the batch fails the whole
 * batch, as Lambda treats it); without it, or when the invocation fails, the whole batch stays.
 *
 * Time is compressed in one place only: a message left in the queue becomes visible again at once
 * instead of after the queue's visibility timeout (361 s here), so the receive counts, the redrive
 * policy and the dead-letter queue are exercised in seconds. Everything else runs in real time.
 *
 * Lambda polls with the function's execution role, and AWS refuses to create the mapping unless
 * that role may ReceiveMessage, DeleteMessage and GetQueueAttributes on the queue: the poller
 * checks the same before it starts.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type Message,
} from "@aws-sdk/client-sqs";
import type { EventSourceMappingView, LambdaFunctionView } from "../../infra/synthesis/stack-model.js";
import type { Denial } from "./aws-gateway.js";
import type { IamChecker } from "./iam-check.js";
import type { InvocationResult, LambdaHost } from "./lambda-host.js";
import type { SqsStandIn } from "./standins/sqs.js";

export const EVENT_SOURCE_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"] as const;

/** Lambda's default concurrency for an SQS source without a maximum is far higher; five is plenty here. */
const DEFAULT_POLLERS = 5;

export interface BatchInvocation {
  function: string;
  messageIds: string[];
  failedIds: string[];
  error?: string;
}

export class EventSourcePoller {
  readonly invocations: BatchInvocation[] = [];
  private running = false;
  private active = 0;
  private loops: Promise<void>[] = [];

  constructor(
    readonly mapping: EventSourceMappingView,
    readonly fn: LambdaFunctionView,
    private readonly sqs: SqsStandIn,
    private readonly host: LambdaHost,
    private readonly region: string,
  ) {}

  /** The denials AWS would raise when the mapping is created, if any. */
  async permissionProblems(iam: IamChecker): Promise<Denial[]> {
    const problems: Denial[] = [];
    for (const action of EVENT_SOURCE_ACTIONS) {
      const { decision } = await iam.check(this.fn.role, action, this.mapping.eventSourceArn);
      if (decision !== "Allowed")
        problems.push({ function: this.fn.label, action, resource: this.mapping.eventSourceArn, decision });
    }
    return problems;
  }

  start(): void {
    if (!this.mapping.enabled || this.running) return;
    this.running = true;
    const pollers = this.mapping.maximumConcurrency ?? DEFAULT_POLLERS;
    this.loops = Array.from({ length: pollers }, () => this.loop());
  }

  /** True while an invocation is running. */
  get busy(): boolean {
    return this.active > 0;
  }

  private async loop(): Promise<void> {
    const queue = this.sqs.queue(this.mapping.eventSourceArn);
    while (this.running) {
      const batch: Message[] = [];
      let windowEnds = 0;
      while (this.running && batch.length < this.mapping.batchSize) {
        const waiting = batch.length === 0;
        const answer = await this.sqs.client
          .send(
            new ReceiveMessageCommand({
              QueueUrl: queue.url,
              MaxNumberOfMessages: Math.min(10, this.mapping.batchSize - batch.length),
              WaitTimeSeconds: waiting ? 1 : 0,
              MessageSystemAttributeNames: ["All"],
              MessageAttributeNames: ["All"],
            }),
          )
          .catch(() => ({ Messages: [] as Message[] }));
        const received = answer.Messages ?? [];
        if (received.length > 0 && batch.length === 0)
          windowEnds = Date.now() + this.mapping.maximumBatchingWindowSeconds * 1000;
        batch.push(...received);
        if (batch.length === 0) continue;
        if (Date.now() >= windowEnds) break;
        if (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (batch.length === 0) continue;
      this.active++;
      try {
        await this.deliver(queue.url, batch);
      } finally {
        this.active--;
      }
    }
  }

  private async deliver(queueUrl: string, batch: Message[]): Promise<void> {
    const event = {
      Records: batch.map((m) => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body ?? "",
        attributes: m.Attributes ?? {},
        messageAttributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
            k,
            {
              stringValue: v.StringValue,
              binaryValue: v.BinaryValue,
              stringListValues: [],
              binaryListValues: [],
              dataType: v.DataType,
            },
          ]),
        ),
        md5OfBody: m.MD5OfBody ?? "",
        eventSource: "aws:sqs",
        eventSourceARN: this.mapping.eventSourceArn,
        awsRegion: this.region,
      })),
    };
    const result: InvocationResult = await this.host.invoke(this.fn, event);
    const ids = batch.map((m) => m.MessageId!);
    let failed: Set<string>;
    let error: string | undefined;
    if (!result.ok) {
      failed = new Set(ids);
      error = `${result.error?.errorType}: ${result.error?.errorMessage}`;
    } else if (this.mapping.reportBatchItemFailures) {
      const reported = (
        (result.result as { batchItemFailures?: { itemIdentifier?: string }[] } | null)?.batchItemFailures ?? []
      ).map((f) => f.itemIdentifier);
      // Lambda fails the whole batch when the answer names a message that was not in it.
      failed = reported.every((id) => typeof id === "string" && ids.includes(id))
        ? new Set(reported as string[])
        : new Set(ids);
    } else {
      failed = new Set();
    }
    this.invocations.push({
      function: this.fn.label,
      messageIds: ids,
      failedIds: [...failed],
      ...(error ? { error } : {}),
    });
    for (const m of batch) {
      if (failed.has(m.MessageId!)) {
        // The one compression of time (see above): visible again now, not after the visibility timeout.
        await this.sqs.client
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queueUrl,
              ReceiptHandle: m.ReceiptHandle!,
              VisibilityTimeout: 0,
            }),
          )
          .catch(() => undefined);
      } else {
        await this.sqs.client
          .send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }))
          .catch(() => undefined);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}
