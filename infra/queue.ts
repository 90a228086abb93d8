import { queues } from "./manifest.js";

/**
 * MessagesQueue and its dead-letter queue. The sender subscribes in `infra/sender.ts`, the bus
 * forwards to it in `infra/bus.ts`.
 */
export const deadLetterQueue = new sst.aws.Queue(queues.deadLetter.name, {
  visibilityTimeout: `${queues.deadLetter.visibilityTimeoutSeconds} seconds`,
  transform: {
    queue: { messageRetentionSeconds: queues.deadLetter.retentionSeconds },
  },
});

export const queue = new sst.aws.Queue(queues.messages.name, {
  visibilityTimeout: `${queues.messages.visibilityTimeoutSeconds} seconds`,
  dlq: {
    queue: deadLetterQueue.arn,
    retry: queues.messages.deadLetter.retry,
  },
  transform: {
    queue: { messageRetentionSeconds: queues.messages.retentionSeconds },
  },
});
