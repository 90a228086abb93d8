/** The AWS home's queue: one SendMessage per request. */
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { MessageQueue } from "../core/ports.js";

export class SqsMessageQueue implements MessageQueue {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = new SQSClient({}),
  ) {}

  async send(body: unknown, options: { delaySeconds?: number } = {}): Promise<string> {
    const delay = options.delaySeconds === undefined ? undefined : Math.min(900, Math.max(0, Math.round(options.delaySeconds)));
    const answer = await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(body), DelaySeconds: delay }));
    if (!answer.MessageId) throw new Error("SQS accepted the message without a message id.");
    return answer.MessageId;
  }
}
