/** The AWS home's queue: one SendMessage per request; ChangeMessageVisibility to time a retry. */
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { MessageQueue, RetryScheduler } from "../core/ports.js";

/** SQS's longest visibility timeout: 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

export class SqsMessageQueue implements MessageQueue, RetryScheduler {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = new SQSClient({}),
  ) {}

  async send(body: unknown, options: { delaySeconds?: number } = {}): Promise<string> {
    const delay =
      options.delaySeconds === undefined ? undefined : Math.min(900, Math.max(0, Math.round(options.delaySeconds)));
    const answer = await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(body), DelaySeconds: delay }),
    );
    if (!answer.MessageId) throw new Error("SQS accepted the message without a message id.");
    return answer.MessageId;
  }

  /** SQS keeps no note of why: the reason is only logged by the caller. */
  async retryAfter(receiptHandle: string, seconds: number, _reason: string): Promise<void> {
    const visibility = Math.min(MAX_VISIBILITY_SECONDS, Math.max(0, Math.round(seconds)));
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: visibility,
      }),
    );
  }
}
