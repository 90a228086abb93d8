/**
 * Dead letters of the AWS queue. Listing peeks with a zero visibility timeout, so looking never
 * hides a message from a redrive. Redriving everything uses SQS's own message-move task (back to the
 * queue the messages came from); redriving chosen ids re-sends those bodies and deletes them.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  type Message,
} from "@aws-sdk/client-sqs";
import { redriveNote, requestIdOf } from "../core/dead-letters.js";
import type { DeadLetterQueue, DeadLetterView } from "../core/ports.js";

export class SqsDeadLetterQueue implements DeadLetterQueue {
  constructor(
    private readonly deadLetterQueueUrl: string,
    private readonly sourceQueueUrl: string,
    private readonly client: SQSClient = new SQSClient({}),
  ) {}

  async list(limit: number): Promise<DeadLetterView[]> {
    const seen = new Map<string, Message>();
    // SQS returns a sample per receive: a few empty-handed rounds mean we have seen what there is.
    for (let round = 0, idle = 0; round < 20 && idle < 3 && seen.size < limit; round++) {
      const answer = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 0,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
        }),
      );
      const before = seen.size;
      for (const m of answer.Messages ?? []) if (m.MessageId) seen.set(m.MessageId, m);
      idle = seen.size === before ? idle + 1 : 0;
    }
    return [...seen.values()].slice(0, limit).map((m) => ({
      messageId: m.MessageId!,
      requestId: requestIdOf(m.Body ?? "", m.MessageId!),
      body: m.Body ?? "",
      receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
      lastError: null,
      sentAt: m.Attributes?.SentTimestamp ? new Date(Number(m.Attributes.SentTimestamp)).toISOString() : null,
    }));
  }

  async redrive(messageIds?: string[]) {
    if (messageIds === undefined) {
      const attributes = await this.client.send(
        new GetQueueAttributesCommand({ QueueUrl: this.deadLetterQueueUrl, AttributeNames: ["QueueArn"] }),
      );
      const arn = attributes.Attributes?.QueueArn;
      if (!arn) throw new Error("Could not read the dead-letter queue's ARN.");
      const task = await this.client.send(new StartMessageMoveTaskCommand({ SourceArn: arn }));
      return {
        moved: null,
        note: `SQS message-move task started (${task.TaskHandle ?? "no handle"}); messages return to their source queue.`,
        notFound: [],
      };
    }
    const wanted = new Set(messageIds);
    let moved = 0;
    for (let round = 0, idle = 0; round < 30 && idle < 3 && wanted.size > 0; round++) {
      const answer = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 30,
          WaitTimeSeconds: 0,
        }),
      );
      const messages = answer.Messages ?? [];
      idle = messages.length === 0 ? idle + 1 : 0;
      for (const m of messages) {
        if (!m.MessageId || !wanted.has(m.MessageId)) {
          // Not ours to move: make it visible again at once.
          if (m.ReceiptHandle)
            await this.client.send(
              new ChangeMessageVisibilityCommand({
                QueueUrl: this.deadLetterQueueUrl,
                ReceiptHandle: m.ReceiptHandle,
                VisibilityTimeout: 0,
              }),
            );
          continue;
        }
        await this.client.send(new SendMessageCommand({ QueueUrl: this.sourceQueueUrl, MessageBody: m.Body ?? "" }));
        await this.client.send(
          new DeleteMessageCommand({ QueueUrl: this.deadLetterQueueUrl, ReceiptHandle: m.ReceiptHandle! }),
        );
        wanted.delete(m.MessageId);
        moved++;
      }
    }
    // SQS answers samples: an id still wanted after the rounds above was not seen in the queue.
    const notFound = [...wanted];
    return { moved, note: redriveNote(moved, notFound), notFound };
  }
}
