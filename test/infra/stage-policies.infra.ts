/**
 * The production stage as `sst deploy` would create it (sst.config.ts under Pulumi's mocks, from a
 * shell that holds a different AWS_REGION, PASSENTRY_BASE_URL and ALARM_EMAIL, which must change
 * nothing), held to stage-checks.ts: least privilege, trust, the queue's door, alarms and stage
 * settings. Then each rule is shown to bite: the synthesis is changed back the way SST 4.17 or a
 * careless edit would leave it, and the check must name what came back.
 *
 * Run by `npm run check:infra` (needs `.sst/platform`).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { functions } from "../../infra/manifest.js";
import { stageSettings } from "../../infra/stage-config.js";
import { lambdaFunctions, queues, roles, type PolicyDocument } from "./synthesis/stack-model.js";
import {
  alarmProblems,
  grantsOf,
  policyProblems,
  queuePolicyProblems,
  stageProblems,
  stageSettingProblems,
  trustProblems,
} from "./synthesis/stage-checks.js";
import { synthesize, type Synthesis } from "./synthesis/synthesize.js";
import { deployerProblems } from "./synthesis/deployer-checks.js";
import { readProjectFile } from "./support/infra-sources.js";

const PRODUCTION = stageSettings("production");
/** What a careless deploying shell holds; none of it may reach the stage. */
const HOSTILE_SHELL = {
  AWS_REGION: "ap-southeast-2",
  AWS_DEFAULT_REGION: "ap-southeast-2",
  PASSENTRY_BASE_URL: "https://sandbox.passentry.invalid",
  ALARM_EMAIL: "someone@shell.invalid",
};

let production: Synthesis;

beforeAll(async () => {
  production = await synthesize({
    stage: "production",
    secrets: { AlarmEmail: "ops@example.com" },
    shell: HOSTILE_SHELL,
  });
});

const copy = (synthesis: Synthesis): Synthesis => structuredClone(synthesis);
const fnByHandler = (synthesis: Synthesis, handler: string) =>
  lambdaFunctions(synthesis).find((f) => f.sourceHandler === handler)!;
const roleResource = (synthesis: Synthesis, roleArn: string) =>
  synthesis.resources.find((r) => r.type === "aws:iam/role:Role" && r.state.arn === roleArn)!;
/** Adds a statement to the inline policy of the role `handler`'s function runs as. */
function grant(synthesis: Synthesis, handler: string, statement: PolicyDocument["Statement"][number]): Synthesis {
  const changed = copy(synthesis);
  const role = roleResource(changed, fnByHandler(changed, handler).role.arn);
  const inline = role.inputs.inlinePolicies[0];
  const document = JSON.parse(inline.policy) as PolicyDocument;
  document.Statement.push(statement);
  inline.policy = JSON.stringify(document);
  return changed;
}
const outputs = () => production.outputs as Record<string, string>;
const tableArn = () => production.resources.find((r) => r.type === "aws:dynamodb/table:Table")!.state.arn as string;

describe("the production stage, synthesized", () => {
  it("meets every rule of stage-checks.ts", () => {
    expect(stageProblems(production, PRODUCTION)).toEqual([]);
  });

  it("gives each function exactly the manifest's actions on our own resources, and the sender alone the token", () => {
    const table = tableArn();
    const status = grantsOf(fnByHandler(production, functions.requestStatus.handler).role).map(
      (g) => `${g.action} ${g.resource}`,
    );
    const senderSecrets = grantsOf(fnByHandler(production, functions.sender.handler).role).filter(
      (g) => g.action === "secretsmanager:GetSecretValue",
    );

    expect(status.filter((g) => !g.startsWith("logs:"))).toEqual([
      `secretsmanager:GetSecretValue ${outputs().ApiKeysSecretArn}`,
      `dynamodb:GetItem ${table}`,
      `dynamodb:Query ${table}`,
    ]);
    expect(senderSecrets.map((g) => g.resource)).toEqual([outputs().PassEntryTokenSecretArn]);
    for (const fn of lambdaFunctions(production)) {
      expect(fn.role.managedPolicyArns, fn.label).toEqual([]);
      if (fn.sourceHandler !== functions.sender.handler)
        expect(
          grantsOf(fn.role).map((g) => g.resource),
          fn.label,
        ).not.toContain(outputs().PassEntryTokenSecretArn);
    }
  });

  it("lets each role be assumed by its one AWS service and nobody in the account", () => {
    const trusted = new Set(
      roles(production).map((r) =>
        JSON.stringify((r.trustPolicy.Statement[0]!.Principal as Record<string, string>).Service),
      ),
    );

    expect([...trusted].sort()).toEqual(['"lambda.amazonaws.com"', '"scheduler.amazonaws.com"']);
    expect(JSON.stringify(roles(production).map((r) => r.trustPolicy))).not.toContain(":root");
  });

  it("admits EventBridge to MessagesQueue only for the WalletMessageRequested rule", () => {
    const rule = production.resources.find((r) => r.type === "aws:cloudwatch/eventRule:EventRule")!;
    const messages = queues(production).find((q) => q.url === outputs().MessagesQueueUrl)!;

    expect(messages.policy!.Statement).toEqual([
      {
        Sid: "OnlyTheWalletBusRule",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: messages.arn,
        Condition: { ArnEquals: { "aws:SourceArn": rule.state.arn } },
      },
    ]);
    expect(JSON.parse(rule.inputs.eventPattern)).toEqual({ "detail-type": ["WalletMessageRequested"] });
  });

  it("subscribes the AlarmEmail stage secret to the one alarms topic, not the shell's ALARM_EMAIL", () => {
    const subscriptions = production.resources.filter((r) => r.type === "aws:sns/topicSubscription:TopicSubscription");

    expect(subscriptions.map((s) => [s.inputs.protocol, s.inputs.endpoint])).toEqual([["email", "ops@example.com"]]);
  });

  it("lives in the stage's region and posts to the stage's PassEntry, whatever the shell says", () => {
    expect(production.app.region).toBe("eu-west-2");
    expect(PRODUCTION.region).toBe("eu-west-2");
    for (const fn of lambdaFunctions(production))
      expect(fn.environment.PASSENTRY_BASE_URL, fn.label).toBe("https://api.passentry.com");
    expect(JSON.stringify(production.resources)).not.toContain("ap-southeast-2");
  });
});

describe("the deployer's IAM policy (docs/deployer-policy.json)", () => {
  it("allows creating every resource the production stage creates", async () => {
    expect(await deployerProblems(readProjectFile("docs/deployer-policy.json"), production)).toEqual([]);
  });

  it("would refuse a stage whose names leave the app's prefix", async () => {
    const renamed = JSON.parse(
      JSON.stringify(production).replaceAll("wallet-messaging-production-", "other-app-production-"),
    ) as Synthesis;

    expect((await deployerProblems(readProjectFile("docs/deployer-policy.json"), renamed)).join("\n")).toMatch(
      /does not allow lambda:CreateFunction on arn:aws:lambda:eu-west-2:123456789012:function:other-app-production-Accept \(ImplicitlyDenied\)/,
    );
  });
});

describe("stage-checks.ts on a production stage changed back", () => {
  it("names a wildcard action a link would grant", () => {
    const changed = grant(production, functions.accept.handler, {
      Effect: "Allow",
      Action: ["sqs:*"],
      Resource: [outputs().MessagesQueueArn!],
    });

    expect(policyProblems(changed, PRODUCTION).join("\n")).toMatch(
      /grants the wildcard action sqs:\* on .*MessagesQueue/,
    );
  });

  it("names a status function that may delete ledger entries", () => {
    const changed = grant(production, functions.requestStatus.handler, {
      Effect: "Allow",
      Action: ["dynamodb:DeleteItem"],
      Resource: [tableArn()],
    });
    const problems = policyProblems(changed, PRODUCTION).join("\n");

    expect(problems).toMatch(/grants dynamodb:DeleteItem: ledger entries and request records are never deleted/);
    expect(problems).toMatch(/internet-facing status\) may dynamodb:DeleteItem: it must only read/);
  });

  it("names the console consuming MessagesQueue's live messages, beyond reading its counts", () => {
    const changed = grant(production, functions.console.handler, {
      Effect: "Allow",
      Action: ["sqs:ReceiveMessage"],
      Resource: [outputs().MessagesQueueArn!],
    });

    expect(policyProblems(changed, PRODUCTION).join("\n")).toMatch(
      /console\.handler\) may sqs:ReceiveMessage: only the sender consumes the queue/,
    );
  });

  it("names two functions of one name, as one function per console route would be", () => {
    const changed = copy(production);
    const [first, second] = changed.resources.filter((r) => r.type === "aws:lambda/function:Function");
    second!.state.name = first!.state.name;

    expect(policyProblems(changed, PRODUCTION).join("\n")).toContain(
      `Two functions are named ${first!.state.name}: build a function several routes share once (infra/api.ts).`,
    );
  });

  it("names any function but the sender that may read the token", () => {
    const changed = grant(production, functions.requestCancel.handler, {
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: [outputs().PassEntryTokenSecretArn!],
    });

    expect(policyProblems(changed, PRODUCTION).join("\n")).toMatch(
      /request-cancel\.handler\) may read the PassEntry token: only the sender may/,
    );
  });

  it("names a permission the manifest does not list, and one it lists that is missing", () => {
    const changed = grant(production, functions.accept.handler, {
      Effect: "Allow",
      Action: ["dynamodb:Query"],
      Resource: [tableArn()],
    });
    const problems = policyProblems(changed, PRODUCTION).join("\n");

    expect(problems).toMatch(/accept\.handler\) is granted what the manifest does not list: dynamodb:Query/);
  });

  it("names AWS's managed execution policy, which writes to every log group", () => {
    const changed = copy(production);
    roleResource(changed, fnByHandler(changed, functions.health.handler).role.arn).inputs.managedPolicyArns = [
      "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    ];

    expect(policyProblems(changed, PRODUCTION).join("\n")).toMatch(/health\.handler\)'s role has managed policies/);
  });

  it("names a role that trusts the account root besides Lambda, as SST 4.17 writes it", () => {
    const changed = copy(production);
    const role = roleResource(changed, fnByHandler(changed, functions.sender.handler).role.arn);
    role.inputs.assumeRolePolicy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: "sts:AssumeRole",
          Principal: { Service: "lambda.amazonaws.com", AWS: "arn:aws:iam::123456789012:root" },
        },
      ],
    });

    expect(trustProblems(changed).join("\n")).toMatch(
      /trusts arn:aws:iam::123456789012:root: only lambda\.amazonaws\.com may assume it/,
    );
  });

  it("names a queue policy without a source condition, as bus.subscribeQueue writes it", () => {
    const changed = copy(production);
    const policy = changed.resources.find(
      (r) => r.type === "aws:sqs/queuePolicy:QueuePolicy" && r.inputs.queueUrl === outputs().MessagesQueueUrl,
    )!;
    policy.inputs.policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: "sqs:SendMessage",
          Resource: outputs().MessagesQueueArn,
          Principal: { Service: ["sns.amazonaws.com", "s3.amazonaws.com", "events.amazonaws.com"] },
        },
      ],
    });

    expect(queuePolicyProblems(changed).join("\n")).toMatch(
      /with no aws:SourceArn condition: any account's rule that learns the queue's ARN could send/,
    );
  });

  it("names a bus target without a dead-letter queue", () => {
    const changed = copy(production);
    delete changed.resources.find((r) => r.type === "aws:cloudwatch/eventTarget:EventTarget")!.inputs.deadLetterConfig;

    expect(queuePolicyProblems(changed).join("\n")).toMatch(
      /has no dead-letter queue: an event EventBridge cannot deliver would be dropped unseen/,
    );
  });

  it("names a function left without its errors alarm, and an alarm that notifies nobody", () => {
    const changed = copy(production);
    changed.resources = changed.resources.filter(
      (r) => !(r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && r.name === "SenderErrors"),
    );
    changed.resources.find(
      (r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && r.name === "Api5xx",
    )!.inputs.alarmActions = [];
    const problems = alarmProblems(changed, PRODUCTION).join("\n");

    expect(problems).toMatch(
      /No alarm watches MessagesQueueSubscriber\w+ \(functions\/handlers\/sender\.handler\)'s Errors/,
    );
    expect(problems).toMatch(/The alarm Api5xx notifies \[\], not the stage's alarms topic/);
  });

  it("names a planner without a failure destination, and the backlog age left unwatched", () => {
    const changed = copy(production);
    changed.resources = changed.resources.filter(
      (r) =>
        r.type !== "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig" &&
        !(r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && r.name === "MessagesBacklogAge"),
    );
    const problems = alarmProblems(changed, PRODUCTION).join("\n");

    expect(problems).toMatch(
      /planner\.handler\) is invoked asynchronously by Scheduler but has no on-failure destination/,
    );
    expect(problems).toMatch(/No alarm watches the age of MessagesQueue's oldest message/);
  });

  it("names an unknown-outcomes alarm without the stage dimension, which would page every stage of the account", () => {
    const changed = copy(production);
    changed.resources.find(
      (r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" && r.name === "UnknownOutcomes",
    )!.inputs.dimensions = undefined;

    expect(alarmProblems(changed, PRODUCTION).join("\n")).toMatch(
      /No alarm watches WalletMessaging\/UnknownOutcomes with the dimensions the sender writes/,
    );
  });

  it("names a production stage nobody would hear", () => {
    const changed = copy(production);
    changed.resources = changed.resources.filter((r) => r.type !== "aws:sns/topicSubscription:TopicSubscription");

    expect(alarmProblems(changed, PRODUCTION).join("\n")).toMatch(
      /The protected stage production has no email subscription/,
    );
  });

  it("names a stage synthesized in the shell's region or posting to the shell's PassEntry", () => {
    const changed = JSON.parse(
      JSON.stringify(production)
        .replaceAll("eu-west-2", "ap-southeast-2")
        .replaceAll("https://api.passentry.com", HOSTILE_SHELL.PASSENTRY_BASE_URL),
    ) as Synthesis;
    const problems = stageSettingProblems(changed, PRODUCTION).join("\n");

    expect(problems).toMatch(/synthesized in ap-southeast-2, not in its stages\.json region eu-west-2/);
    expect(problems).toMatch(/Resources point outside the stage's region eu-west-2/);
    expect(problems).toMatch(
      /posts to https:\/\/sandbox\.passentry\.invalid, not the stage's PassEntry https:\/\/api\.passentry\.com/,
    );
  });
});
