/**
 * The console's queue figures on AWS: SQS's approximate counts (GetQueueAttributes) for the queue
 * and its dead-letter queue. SQS does not answer the oldest message's age; CloudWatch does
 * (ApproximateAgeOfOldestMessage, which the MessagesBacklogAge alarm watches), so the figure is
 * left out rather than guessed, and the page says where to find it.
 */
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { QueueStats } from "../core/ports.js";

export class SqsQueueStats {
  constructor(
    private readonly queueUrl: string,
    private readonly deadLetterQueueUrl: string,
    private readonly client: SQSClient = new SQSClient({}),
  ) {}

  async read(): Promise<QueueStats> {
    const attributes = (url: string) =>
      this.client
        .send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed",
            ],
          }),
        )
        .then((answer) => answer.Attributes ?? {});
    const [main, dead] = await Promise.all([attributes(this.queueUrl), attributes(this.deadLetterQueueUrl)]);
    const count = (value: string | undefined) => Number(value ?? 0);
    return {
      waiting: count(main.ApproximateNumberOfMessages),
      inFlight: count(main.ApproximateNumberOfMessagesNotVisible),
      delayed: count(main.ApproximateNumberOfMessagesDelayed),
      deadLettered: count(dead.ApproximateNumberOfMessages),
      oldestAgeSeconds: null,
      source:
        "Counts are SQS's approximate figures (GetQueueAttributes). SQS does not tell the oldest message's age: CloudWatch's ApproximateAgeOfOldestMessage does (the MessagesBacklogAge alarm watches it). Dead letters' last errors come from what the sender recorded on each request; SQS keeps none.",
    };
  }
}
