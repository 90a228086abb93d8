import { bus as spec, busTargetQueuePolicy } from "./manifest.js";
import { busDeadLetterQueue, queue } from "./queue.js";

/**
 * WalletBus: other AWS services put `WalletMessageRequested` events here and they land in
 * MessagesQueue as full EventBridge envelopes, which the sender unwraps.
 *
 * The rule, its target and the queue's policy are written here rather than with
 * `bus.subscribeQueue`: SST's subscription writes a queue policy letting EventBridge, SNS and S3
 * send from anywhere (no `aws:SourceArn` condition) and offers no transform for it. SQS keeps one
 * policy per queue: do not add another QueuePolicy for MessagesQueue.
 */
export const walletBus = new sst.aws.Bus(spec.name);

export const walletMessageRequestedRule = new aws.cloudwatch.EventRule("WalletMessageRequestedRule", {
  eventBusName: walletBus.name,
  description: `${spec.requestDetailType} events of ${$app.name} ${$app.stage} to MessagesQueue`,
  eventPattern: JSON.stringify({ "detail-type": [spec.requestDetailType] }),
});

new aws.cloudwatch.EventTarget("WalletMessageRequestedTarget", {
  rule: walletMessageRequestedRule.name,
  eventBusName: walletBus.name,
  arn: queue.arn,
  // What EventBridge could not deliver after its retries (or at once, when the queue refused it)
  // goes here, and the BusDeliveryFailed alarm says so: a request is never dropped unseen.
  deadLetterConfig: { arn: busDeadLetterQueue.arn },
  // AWS's defaults, written down: 185 attempts over 24 hours ride out any SQS hiccup.
  retryPolicy: { maximumEventAgeInSeconds: 24 * 60 * 60, maximumRetryAttempts: 185 },
});

/** MessagesQueue and the bus's dead-letter queue accept EventBridge only for this rule. */
for (const [name, target] of [
  ["MessagesQueuePolicy", queue],
  ["BusDeadLetterQueuePolicy", busDeadLetterQueue],
] as const) {
  new aws.sqs.QueuePolicy(name, {
    queueUrl: target.url,
    policy: $resolve([target.arn, walletMessageRequestedRule.arn]).apply(([queueArn, ruleArn]) =>
      JSON.stringify(busTargetQueuePolicy(queueArn, ruleArn)),
    ),
  });
}
