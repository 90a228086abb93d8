import { queues } from "./manifest.js";

/**
 * MessagesQueue and the queues that hold failures. The sender subscribes in `infra/sender.ts`, the
 * bus forwards to MessagesQueue in `infra/bus.ts` (which also writes its queue policy), the
 * promotion schedules and planners report failed triggers in `infra/schedules.ts`.
 */
function failureQueue(spec: { name: string; visibilityTimeoutSeconds: number; retentionSeconds: number }) {
  return new sst.aws.Queue(spec.name, {
    visibilityTimeout: `${spec.visibilityTimeoutSeconds} seconds`,
    transform: { queue: { messageRetentionSeconds: spec.retentionSeconds } },
  });
}

export const deadLetterQueue = failureQueue(queues.deadLetter);
export const busDeadLetterQueue = failureQueue(queues.busDeadLetter);
export const promotionFailuresQueue = failureQueue(queues.promotionFailures);

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
