import { functions, senderSubscription } from "./manifest.js";
import { lambda } from "./lambda.js";
import { queue } from "./queue.js";

/**
 * The sender consumes MessagesQueue. Its pace (PASSENTRY_RATE_PER_SECOND) and the event source
 * mapping's maximum concurrency both come from the manifest, so together they keep the account
 * at or under PassEntry's budget.
 */
const senderArgs = lambda(functions.sender);

export const senderSubscriber = queue.subscribe(senderArgs, {
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
    // SST's subscription adds its own queue statement (with sqs:GetQueueUrl, which the sender never
    // calls); the manifest's list, which already holds what the mapping needs, is the whole grant.
    function: (args) => {
      args.permissions = senderArgs.permissions;
    },
  },
});

/** The sender's Lambda function name, for alarms. */
export const senderFunctionName = senderSubscriber.nodes.function.name;
