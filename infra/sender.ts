import { functions, senderSubscription } from "./manifest.js";
import { lambda } from "./lambda.js";
import { queue } from "./queue.js";

/**
 * The sender consumes MessagesQueue. Its pace (PASSENTRY_RATE_PER_SECOND) and the event source
 * mapping's maximum concurrency both come from the manifest, so together they keep the account
 * at or under PassEntry's budget.
 */
export const senderSubscriber = queue.subscribe(lambda(functions.sender), {
  batch: {
    size: senderSubscription.batchSize,
    window: `${senderSubscription.batchWindowSeconds} seconds`,
    // Off by default in SST: without it one failed message would send the whole batch back.
    partialResponses: senderSubscription.partialResponses,
  },
  transform: {
    eventSourceMapping: {
      scalingConfig: { maximumConcurrency: senderSubscription.maxConcurrency },
    },
  },
});

/** The sender's Lambda function name, for alarms. */
export const senderFunctionName = senderSubscriber.nodes.function.name;
