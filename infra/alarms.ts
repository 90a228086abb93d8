import { alarms as specs, type AlarmSpec } from "./manifest.js";
import { deadLetterQueue, queue } from "./queue.js";
import { senderFunctionName } from "./sender.js";

/**
 * CloudWatch alarms for the things a person must look at. They notify AlarmsTopic; subscribe
 * to it by hand, or deploy with ALARM_EMAIL=you@example.com to get an email subscription (AWS asks
 * the address to confirm once).
 */
export const alarmsTopic = new sst.aws.SnsTopic("Alarms");

const alarmEmail = process.env.ALARM_EMAIL?.trim();
if (alarmEmail) {
  new aws.sns.TopicSubscription("AlarmsEmail", {
    topic: alarmsTopic.arn,
    protocol: "email",
    endpoint: alarmEmail,
  });
}

function dimensions(subject: AlarmSpec["subject"]): Record<string, $util.Input<string>> | undefined {
  switch (subject) {
    case "deadLetterQueue":
      return { QueueName: deadLetterQueue.nodes.queue.name };
    case "messagesQueue":
      return { QueueName: queue.nodes.queue.name };
    case "sender":
      return { FunctionName: senderFunctionName };
    case "none":
      return undefined;
  }
}

export const alarms = specs.map(
  (spec) =>
    new aws.cloudwatch.MetricAlarm(spec.name, {
      name: `${$app.name}-${$app.stage}-${spec.name}`,
      alarmDescription: spec.description,
      namespace: spec.namespace,
      metricName: spec.metric,
      dimensions: dimensions(spec.subject),
      statistic: spec.statistic,
      period: spec.periodSeconds,
      evaluationPeriods: 1,
      threshold: spec.threshold,
      comparisonOperator: "GreaterThanThreshold",
      // No data means nothing failed (an empty DLQ and an idle sender publish nothing).
      treatMissingData: "notBreaching",
      alarmActions: [alarmsTopic.arn],
      okActions: [alarmsTopic.arn],
    }),
);
