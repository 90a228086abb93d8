import {
  alarms as stageAlarms,
  functionAlarms,
  functionName,
  functions,
  SERVICE_NAME,
  unknownOutcomesMetric,
  type AlarmSpec,
  type FunctionKey,
} from "./manifest.js";
import { api } from "./api.js";
import { busDeadLetterQueue, deadLetterQueue, promotionFailuresQueue, queue } from "./queue.js";
import { promotions } from "./schedules.js";
import { isProduction } from "./stage.js";

/**
 * CloudWatch alarms for every way a message can stall or be lost (the manifest lists them with
 * their thresholds and why), all notifying one SNS topic.
 *
 * Who hears them is stage configuration, not a shell variable: the stage secret AlarmEmail
 * (`npx sst secret set AlarmEmail ops@example.com --stage production`). Production cannot deploy
 * without it (SST refuses a secret with no value and no placeholder); other stages may leave it
 * empty and subscribe by hand. AWS emails the address a confirmation link once.
 */
export const alarmsTopic = new sst.aws.SnsTopic("Alarms");

const alarmEmail = new sst.Secret("AlarmEmail", isProduction ? undefined : "");
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

alarmEmail.value.apply((email) => {
  const address = email.trim();
  if (!address) return undefined;
  if (!EMAIL.test(address))
    throw new Error(
      "The AlarmEmail secret is not an email address: set it with `npx sst secret set AlarmEmail ops@example.com --stage <stage>`.",
    );
  return new aws.sns.TopicSubscription("AlarmsEmail", { topic: alarmsTopic.arn, protocol: "email", endpoint: address });
});

function dimensions(spec: AlarmSpec, functionName?: $util.Input<string>): Record<string, $util.Input<string>> {
  switch (spec.subject) {
    case "deadLetterQueue":
      return { QueueName: deadLetterQueue.nodes.queue.name };
    case "messagesQueue":
      return { QueueName: queue.nodes.queue.name };
    case "busDeadLetterQueue":
      return { QueueName: busDeadLetterQueue.nodes.queue.name };
    case "promotionFailuresQueue":
      return { QueueName: promotionFailuresQueue.nodes.queue.name };
    case "api":
      return { ApiId: api.nodes.api.id };
    case "stage":
      // Exactly the dimensions the sender's Powertools Metrics writes: its service and the stage.
      return { service: SERVICE_NAME, [unknownOutcomesMetric.stageDimension]: $app.stage };
    case "function":
      if (!functionName) throw new Error(`The alarm ${spec.name} watches a function but none was given.`);
      return { FunctionName: functionName };
  }
}

function alarm(spec: AlarmSpec, functionName?: $util.Input<string>) {
  return new aws.cloudwatch.MetricAlarm(spec.name, {
    name: `${$app.name}-${$app.stage}-${spec.name}`,
    alarmDescription: spec.description,
    namespace: spec.namespace,
    metricName: spec.metric,
    dimensions: dimensions(spec, functionName),
    statistic: spec.statistic,
    period: spec.periodSeconds,
    evaluationPeriods: 1,
    threshold: spec.threshold,
    comparisonOperator: "GreaterThanThreshold",
    // No data means nothing failed (an empty queue and an idle function publish nothing).
    treatMissingData: "notBreaching",
    alarmActions: [alarmsTopic.arn],
    okActions: [alarmsTopic.arn],
  });
}

/** Every function of the stage by its component name: the manifest's, and one planner per promotion. */
const functionComponents: string[] = [
  ...(Object.keys(functions) as FunctionKey[]).filter((key) => key !== "planner").map((key) => functions[key].name),
  ...promotions.map((promotion) => promotion.name),
];

export const alarms = [
  ...stageAlarms.map((spec) => alarm(spec)),
  // Names are fixed (manifest `functionName`), so the alarms need not wait for the functions.
  ...functionComponents.flatMap((component) =>
    functionAlarms(component).map((spec) => alarm(spec, functionName($app.stage, component))),
  ),
];
