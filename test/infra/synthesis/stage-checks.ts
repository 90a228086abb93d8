/**
 * What `npm run check:infra` holds every synthesized stage to, read from the resources `sst deploy`
 * would create (never from the manifest alone): least privilege, trust, the queue's door, alarms
 * and their targets, and the stage's settings. Each check answers sentences naming what is wrong,
 * so a regression fails with the resource and the statement, and an empty list means the stage
 * passes.
 *
 * The manifest says what each function may do; these checks say what no stage may ever hold,
 * whatever the manifest says: a wildcard action, a role another principal can assume, a queue
 * anyone's EventBridge rule can write to, a function that may delete ledger entries, a token any
 * function but the sender can read, a failure that lands somewhere no alarm watches.
 *
 * @example
 *   const problems = stageProblems(await synthesize({ stage: "production", secrets: { AlarmEmail: "ops@example.com" } }), stageSettings("production"));
 *   // [] — or e.g. ["Role X trusts arn:aws:iam::123456789012:root: only lambda.amazonaws.com may assume a function's role."]
 */
import { REQUEST_CALLER_INDEX, REQUEST_LIST_INDEX } from "../../../functions/adapters/dynamodb-table-shape.js";
import {
  functionAlarms,
  functionName,
  functions,
  LOG_ACTIONS,
  SERVICE_NAME,
  TRACING_ACTIONS,
  unknownOutcomesMetric,
  type FunctionKey,
  type FunctionSpec,
} from "../../../infra/manifest.js";
import type { StageSettings } from "../../../infra/stage-config.js";
import {
  lambdaFunctions,
  queues,
  roles,
  type LambdaFunctionView,
  type PolicyDocument,
  type PolicyStatement,
  type RoleView,
} from "./stack-model.js";
import type { Synthesis, SynthesizedResource } from "./types.js";

const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];
const of = (synthesis: Synthesis, type: string) => synthesis.resources.filter((r) => r.custom && r.type === type);
const parse = <T>(value: unknown): T => (typeof value === "string" ? (JSON.parse(value) as T) : (value as T));

/** One (action, resource) a role's own policies allow. */
export interface Grant {
  action: string;
  resource: string;
}

export function grantsOf(role: RoleView): Grant[] {
  return role.policies.flatMap((p) =>
    (p.document.Statement ?? [])
      .filter((s) => s.Effect === "Allow")
      .flatMap((s) => list(s.Action).flatMap((action) => list(s.Resource).map((resource) => ({ action, resource })))),
  );
}

/** The manifest entry a synthesized function runs (a planner per promotion shares one entry). */
export function manifestKeyOf(fn: LambdaFunctionView): FunctionKey | undefined {
  return (Object.keys(functions) as FunctionKey[]).find((key) => functions[key].handler === fn.sourceHandler);
}

/** Actions no function of ours may ever hold, whatever the manifest says, and why. */
const FORBIDDEN_ACTIONS: { pattern: RegExp; why: string }[] = [
  {
    pattern: /^dynamodb:(DeleteItem|BatchWriteItem|DeleteTable|UpdateTable|CreateTable|PartiQLDelete)$/,
    why: "ledger entries and request records are never deleted",
  },
  {
    pattern: /^sqs:(PurgeQueue|DeleteQueue|SetQueueAttributes|CreateQueue|AddPermission|RemovePermission)$/,
    why: "no function may empty, delete or reconfigure a queue",
  },
  { pattern: /^secretsmanager:(?!GetSecretValue$)/, why: "functions only read secrets" },
  { pattern: /^events:(?!PutEvents$)/, why: "functions only publish events" },
  { pattern: /^iam:|^sts:|^lambda:/, why: "no function may change roles, assume others or touch functions" },
];

/** Where each function's grants must stay, beyond the manifest: the issue's list of what each one must not do. */
function functionRuleProblems(fn: LambdaFunctionView, grants: Grant[], arns: StageArns): string[] {
  const key = manifestKeyOf(fn);
  const problems: string[] = [];
  const on = (resource: string) => grants.filter((g) => g.resource === resource).map((g) => g.action);
  if (key !== "sender" && grants.some((g) => g.resource === arns.tokenSecret))
    problems.push(`${fn.label} may read the PassEntry token: only the sender may (it alone posts to PassEntry).`);
  if (key !== "sender" && grants.some((g) => g.action === "events:PutEvents"))
    problems.push(`${fn.label} may put events on the bus: only the sender publishes outcome events.`);
  // The console (issue 16) reads MessagesQueue's counts, peeks at the dead-letter queue and starts
  // SQS's move task back (receive and delete on the dead-letter queue): it consumes no live message.
  const consoleMay =
    key === "console"
      ? [
          `sqs:GetQueueAttributes ${arns.messagesQueue}`,
          ...["ReceiveMessage", "GetQueueAttributes", "StartMessageMoveTask", "DeleteMessage"].map(
            (a) => `sqs:${a} ${arns.deadLetterQueue}`,
          ),
        ]
      : [];
  const consumes = grants.filter(
    (g) =>
      g.action.startsWith("sqs:") &&
      g.action !== "sqs:SendMessage" &&
      !consoleMay.includes(`${g.action} ${g.resource}`),
  );
  if (key !== "sender" && consumes.length > 0) {
    problems.push(`${fn.label} may ${consumes.map((g) => g.action).join(", ")}: only the sender consumes the queue.`);
  }
  if (key === "requestStatus") {
    const writes = grants.filter(
      (g) =>
        !["secretsmanager:GetSecretValue", "dynamodb:GetItem", "dynamodb:Query", ...LOG_ACTIONS].includes(g.action),
    );
    if (writes.length > 0)
      problems.push(
        `${fn.label} (internet-facing status) may ${writes.map((g) => g.action).join(", ")}: it must only read.`,
      );
  }
  if (key === "requestCancel") {
    const extra = on(arns.table).filter(
      (a) => !["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"].includes(a),
    );
    if (extra.length > 0)
      problems.push(`${fn.label} may ${extra.join(", ")} on the table: a cancel only reads and moves ledger entries.`);
  }
  if (
    key === "health" &&
    grants.some(
      (g) =>
        !(LOG_ACTIONS as readonly string[]).includes(g.action) &&
        !(TRACING_ACTIONS as readonly string[]).includes(g.action),
    )
  ) {
    problems.push(`${fn.label} (health) may touch AWS resources: it answers from memory.`);
  }
  return problems;
}

interface StageArns {
  table: string;
  tokenSecret: string;
  messagesQueue: string | undefined;
  deadLetterQueue: string | undefined;
}

/**
 * Least privilege, as synthesized: per function exactly the manifest's actions on the exact ARNs
 * of our resources, its own log group, X-Ray only where the stage traces; no wildcard action
 * anywhere; no resource wildcard but X-Ray's; nothing on the forbidden list; no managed policy.
 */
export function policyProblems(synthesis: Synthesis, settings: StageSettings): string[] {
  const problems: string[] = [];
  const outputs = synthesis.outputs as Record<string, string>;
  const tableArn = of(synthesis, "aws:dynamodb/table:Table")[0]?.state.arn as string;
  const arns: StageArns = {
    table: tableArn,
    tokenSecret: outputs.PassEntryTokenSecretArn!,
    messagesQueue: outputs.MessagesQueueArn,
    deadLetterQueue: outputs.DeadLetterQueueArn,
  };
  const byOutput: Record<string, string | undefined> = {
    table: tableArn,
    requestListIndex: `${tableArn}/index/${REQUEST_LIST_INDEX.name}`,
    requestCallerIndex: `${tableArn}/index/${REQUEST_CALLER_INDEX.name}`,
    messagesQueue: outputs.MessagesQueueArn,
    deadLetterQueue: outputs.DeadLetterQueueArn,
    promotionFailuresQueue: queues(synthesis).find((q) => q.url === outputs.PromotionFailuresQueueUrl)?.arn,
    walletBus: outputs.WalletBusArn,
    passEntryToken: outputs.PassEntryTokenSecretArn,
    apiKeys: outputs.ApiKeysSecretArn,
    webhookSecrets: outputs.PassEntryWebhookSecretsSecretArn,
    webhookSigningSecrets: outputs.WebhookSigningSecretsSecretArn,
  };

  const functionRoles = new Set(lambdaFunctions(synthesis).map((f) => f.role.arn));
  for (const role of roles(synthesis)) {
    for (const policy of role.policies) {
      for (const statement of policy.document.Statement ?? []) {
        if (statement.NotAction || statement.NotResource)
          problems.push(
            `Role ${role.logicalName} has a NotAction/NotResource statement: grant explicit actions on explicit resources.`,
          );
        for (const action of list(statement.Action)) {
          if (action.includes("*"))
            problems.push(
              `Role ${role.logicalName} grants the wildcard action ${action} on ${list(statement.Resource).join(", ")}: spell out the actions the function uses.`,
            );
          if (functionRoles.has(role.arn))
            for (const rule of FORBIDDEN_ACTIONS)
              if (statement.Effect === "Allow" && rule.pattern.test(action))
                problems.push(`Role ${role.logicalName} grants ${action}: ${rule.why}.`);
        }
        for (const resource of list(statement.Resource)) {
          const xrayOnly = list(statement.Action).every((a) => (TRACING_ACTIONS as readonly string[]).includes(a));
          if (resource.includes("*") && !xrayOnly && !/:log-group:\/aws\/lambda\/[^*]+:\*$/.test(resource)) {
            problems.push(
              `Role ${role.logicalName} grants ${list(statement.Action).join(", ")} on ${resource}: name the exact resource.`,
            );
          }
        }
      }
    }
  }

  // A schedule's role may invoke its own planner and send to its own dead-letter queue, nothing else.
  for (const schedule of of(synthesis, "aws:scheduler/schedule:Schedule")) {
    const role = roles(synthesis).find((r) => r.arn === schedule.inputs.target?.roleArn);
    if (!role) continue;
    const allowed = new Set([
      `lambda:InvokeFunction ${schedule.inputs.target.arn}`,
      `sqs:SendMessage ${schedule.inputs.target.deadLetterConfig?.arn}`,
    ]);
    const extra = grantsOf(role).filter((g) => !allowed.has(`${g.action} ${g.resource}`));
    if (extra.length > 0)
      problems.push(
        `The schedule ${schedule.name}'s role is granted ${extra.map((g) => `${g.action} on ${g.resource}`).join("; ")}: it may only invoke its planner and send to its dead-letter queue.`,
      );
  }

  // Names are fixed (manifest `functionName`): two functions of one name cannot both be deployed.
  const names = lambdaFunctions(synthesis).map((fn) => fn.name);
  for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i)))
    problems.push(`Two functions are named ${name}: build a function several routes share once (infra/api.ts).`);

  for (const fn of lambdaFunctions(synthesis)) {
    const key = manifestKeyOf(fn);
    if (!key) {
      problems.push(`${fn.label} runs no handler the manifest knows: every function must come from infra/manifest.ts.`);
      continue;
    }
    if (fn.role.managedPolicyArns.length > 0)
      problems.push(
        `${fn.label}'s role has managed policies (${fn.role.managedPolicyArns.join(", ")}): AWSLambdaBasicExecutionRole writes to every log group; grant its own log group instead.`,
      );
    const spec: FunctionSpec = functions[key];
    const expected = new Set<string>();
    for (const [target, actions] of Object.entries(spec.access)) {
      const arn = byOutput[target];
      if (!arn) {
        problems.push(`The manifest grants ${fn.label} access to ${target}, which the synthesis has no ARN for.`);
        continue;
      }
      for (const action of actions ?? []) expected.add(`${action} ${arn}`);
    }
    const logGroup = `arn:aws:logs:${settings.region}:${synthesis.app.accountId}:log-group:/aws/lambda/${fn.name}:*`;
    for (const action of LOG_ACTIONS) expected.add(`${action} ${logGroup}`);
    if (settings.tracing) for (const action of TRACING_ACTIONS) expected.add(`${action} *`);
    const granted = new Set(grantsOf(fn.role).map((g) => `${g.action} ${g.resource}`));
    const extra = [...granted].filter((g) => !expected.has(g));
    const missing = [...expected].filter((g) => !granted.has(g));
    if (extra.length > 0) problems.push(`${fn.label} is granted what the manifest does not list: ${extra.join("; ")}.`);
    if (missing.length > 0) problems.push(`${fn.label} lacks what the manifest lists: ${missing.join("; ")}.`);
    problems.push(...functionRuleProblems(fn, grantsOf(fn.role), arns));
  }
  return problems;
}

/** Every role trusts exactly one AWS service, and no account, user or role: Lambda for a function, Scheduler (this account's schedules only) for a schedule. */
export function trustProblems(synthesis: Synthesis): string[] {
  const problems: string[] = [];
  const functionRoles = new Set(lambdaFunctions(synthesis).map((f) => f.role.arn));
  const scheduleRoles = new Set(
    of(synthesis, "aws:scheduler/schedule:Schedule").map((s) => s.inputs.target?.roleArn as string),
  );
  for (const role of roles(synthesis)) {
    const service = functionRoles.has(role.arn)
      ? "lambda.amazonaws.com"
      : scheduleRoles.has(role.arn)
        ? "scheduler.amazonaws.com"
        : undefined;
    if (!service) {
      problems.push(
        `Role ${role.logicalName} is used by neither a function nor a schedule: remove it, or add its expected trust to test/infra/synthesis/stage-checks.ts.`,
      );
      continue;
    }
    const statements = role.trustPolicy.Statement ?? [];
    for (const statement of statements) {
      const principal = (statement.Principal ?? {}) as Record<string, string | string[]> | string;
      const principals =
        typeof principal === "string"
          ? [`* ${principal}`]
          : Object.entries(principal).flatMap(([type, ids]) => list(ids).map((id) => `${type} ${id}`));
      for (const p of principals) {
        if (p !== `Service ${service}`)
          problems.push(`Role ${role.logicalName} trusts ${p.replace(/^\w+ /, "")}: only ${service} may assume it.`);
      }
      if (list(statement.Action).some((a) => a !== "sts:AssumeRole"))
        problems.push(
          `Role ${role.logicalName}'s trust allows ${list(statement.Action).join(", ")}: only sts:AssumeRole.`,
        );
    }
    if (statements.length !== 1)
      problems.push(`Role ${role.logicalName} has ${statements.length} trust statements: one, for ${service}.`);
    if (
      service === "scheduler.amazonaws.com" &&
      !JSON.stringify(statements).includes(`"aws:SourceAccount":"${synthesis.app.accountId}"`)
    ) {
      problems.push(
        `Role ${role.logicalName} lets Scheduler assume it for any account's schedules: add the aws:SourceAccount condition.`,
      );
    }
  }
  return problems;
}

/**
 * The queues' doors: a queue policy may admit an AWS service only for one of our own EventBridge
 * rules (`aws:SourceArn`), never a principal `*` or another account. MessagesQueue's policy admits
 * exactly the WalletMessageRequested rule; the rule's target has a dead-letter queue admitting it too.
 */
export function queuePolicyProblems(synthesis: Synthesis): string[] {
  const problems: string[] = [];
  const outputs = synthesis.outputs as Record<string, string>;
  const ruleArns = new Set(of(synthesis, "aws:cloudwatch/eventRule:EventRule").map((r) => r.state.arn as string));
  const policies = of(synthesis, "aws:sqs/queuePolicy:QueuePolicy");
  const urls = policies.map((p) => p.inputs.queueUrl as string);
  for (const url of new Set(urls))
    if (urls.filter((u) => u === url).length > 1)
      problems.push(
        `${url} has ${urls.filter((u) => u === url).length} queue policies: SQS keeps one, the last deploy's.`,
      );
  for (const policy of policies) {
    const document = parse<PolicyDocument>(policy.inputs.policy);
    for (const statement of document.Statement ?? []) {
      if (statement.Effect !== "Allow") continue;
      const principal = statement.Principal as Record<string, string | string[]> | string | undefined;
      if (
        principal === "*" ||
        (typeof principal === "object" && (list(principal.AWS).length > 0 || list(principal.AWS).includes("*")))
      ) {
        problems.push(
          `The queue policy ${policy.name} admits ${JSON.stringify(principal)}: same-account senders use their own IAM; admit only our rule's EventBridge.`,
        );
      }
      const sourceArns = [
        ...list(statement.Condition?.ArnEquals?.["aws:SourceArn"]),
        ...list(statement.Condition?.ArnLike?.["aws:SourceArn"]),
      ];
      if (sourceArns.length === 0)
        problems.push(
          `The queue policy ${policy.name} lets ${JSON.stringify(principal)} ${list(statement.Action).join(", ")} with no aws:SourceArn condition: any account's rule that learns the queue's ARN could send.`,
        );
      for (const arn of sourceArns)
        if (!ruleArns.has(arn))
          problems.push(
            `The queue policy ${policy.name} admits EventBridge for ${arn}, which is not a rule of this stage.`,
          );
      for (const action of list(statement.Action))
        if (action !== "sqs:SendMessage")
          problems.push(`The queue policy ${policy.name} grants ${action}: EventBridge only sends.`);
    }
  }
  const messagesPolicy = policies.find((p) => p.inputs.queueUrl === outputs.MessagesQueueUrl);
  if (!messagesPolicy)
    problems.push("MessagesQueue has no queue policy: EventBridge could not deliver WalletMessageRequested events.");
  const targets = of(synthesis, "aws:cloudwatch/eventTarget:EventTarget").filter(
    (t) => t.inputs.arn === outputs.MessagesQueueArn,
  );
  if (targets.length === 0) problems.push("No EventBridge target delivers to MessagesQueue.");
  for (const target of targets) {
    const dlq = target.inputs.deadLetterConfig?.arn as string | undefined;
    if (!dlq)
      problems.push(
        `The bus target ${target.name} has no dead-letter queue: an event EventBridge cannot deliver would be dropped unseen.`,
      );
    const dlqUrl = queues(synthesis).find((q) => q.arn === dlq)?.url;
    if (dlq && !policies.some((p) => p.inputs.queueUrl === dlqUrl))
      problems.push(
        `The bus target ${target.name}'s dead-letter queue has no policy admitting EventBridge for the rule.`,
      );
  }
  return problems;
}

interface AlarmView {
  name: string;
  namespace: string;
  metric: string;
  dimensions: Record<string, string>;
  alarmActions: string[];
  okActions: string[];
}

function alarmViews(synthesis: Synthesis): AlarmView[] {
  return of(synthesis, "aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => ({
    name: a.name,
    namespace: a.inputs.namespace,
    metric: a.inputs.metricName,
    dimensions: a.inputs.dimensions ?? {},
    alarmActions: a.inputs.alarmActions ?? [],
    okActions: a.inputs.okActions ?? [],
  }));
}

/**
 * Alarms for every way a message can stall, each notifying the stage's one topic: every function's
 * errors and throttles, every failure queue (dead letters, the bus target's DLQ, the planners'
 * failure destination and the schedules' DLQ), the backlog's age, API 5xx, and the unknown-outcome
 * metric with exactly the dimensions the sender writes (service, Stage).
 */
export function alarmProblems(synthesis: Synthesis, settings: StageSettings): string[] {
  const problems: string[] = [];
  const outputs = synthesis.outputs as Record<string, string>;
  const topics = of(synthesis, "aws:sns/topic:Topic");
  if (topics.length !== 1) problems.push(`The stage has ${topics.length} SNS topics: alarms notify one.`);
  const topicArn = topics[0]?.state.arn as string | undefined;
  const alarms = alarmViews(synthesis);
  for (const alarm of alarms) {
    if (alarm.alarmActions.length !== 1 || alarm.alarmActions[0] !== topicArn)
      problems.push(
        `The alarm ${alarm.name} notifies ${JSON.stringify(alarm.alarmActions)}, not the stage's alarms topic.`,
      );
    if (alarm.okActions.length !== 1 || alarm.okActions[0] !== topicArn)
      problems.push(`The alarm ${alarm.name} does not say on the alarms topic when it is OK again.`);
  }
  const watching = (namespace: string, metric: string, dimensions: Record<string, string>) =>
    alarms.some(
      (a) =>
        a.namespace === namespace &&
        a.metric === metric &&
        JSON.stringify(Object.entries(a.dimensions).sort()) === JSON.stringify(Object.entries(dimensions).sort()),
    );

  for (const fn of lambdaFunctions(synthesis)) {
    for (const metric of ["Errors", "Throttles"])
      if (!watching("AWS/Lambda", metric, { FunctionName: fn.name }))
        problems.push(`No alarm watches ${fn.label}'s ${metric}.`);
  }
  const queueByArn = new Map(queues(synthesis).map((q) => [q.arn, q]));
  const failureQueues = new Map<string, string>();
  for (const q of queues(synthesis))
    if (q.redrivePolicy) failureQueues.set(q.redrivePolicy.deadLetterTargetArn, `${q.logicalName}'s dead-letter queue`);
  for (const t of of(synthesis, "aws:cloudwatch/eventTarget:EventTarget"))
    if (t.inputs.deadLetterConfig?.arn)
      failureQueues.set(t.inputs.deadLetterConfig.arn, `the bus target ${t.name}'s dead-letter queue`);
  for (const s of of(synthesis, "aws:scheduler/schedule:Schedule")) {
    const dlq = s.inputs.target?.deadLetterConfig?.arn as string | undefined;
    if (!dlq)
      problems.push(
        `The schedule ${s.name} has no dead-letter queue: a trigger Scheduler cannot deliver would be dropped unseen.`,
      );
    else failureQueues.set(dlq, `the schedule ${s.name}'s dead-letter queue`);
  }
  const invokeConfigs = of(synthesis, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig");
  for (const fn of lambdaFunctions(synthesis).filter((f) => manifestKeyOf(f) === "planner")) {
    const config = invokeConfigs.find((c) => c.inputs.functionName === fn.name || c.inputs.functionName === fn.arn);
    const destination = config?.inputs.destinationConfig?.onFailure?.destination as string | undefined;
    if (!destination)
      problems.push(
        `${fn.label} is invoked asynchronously by Scheduler but has no on-failure destination: a trigger it throws on would be dropped after Lambda's retries.`,
      );
    else {
      failureQueues.set(destination, `${fn.label}'s on-failure destination`);
      if (!grantsOf(fn.role).some((g) => g.action === "sqs:SendMessage" && g.resource === destination))
        problems.push(
          `${fn.label} may not send to its on-failure destination ${destination}: Lambda sends with the function's role.`,
        );
    }
  }
  for (const [arn, what] of failureQueues) {
    const q = queueByArn.get(arn);
    if (!q) problems.push(`${what} is ${arn}, which the stage does not create.`);
    else if (!watching("AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName: q.name }))
      problems.push(`No alarm watches ${what} (${q.name}): what lands there would go unseen.`);
  }
  const messages = queues(synthesis).find((q) => q.url === outputs.MessagesQueueUrl);
  if (messages && !watching("AWS/SQS", "ApproximateAgeOfOldestMessage", { QueueName: messages.name }))
    problems.push("No alarm watches the age of MessagesQueue's oldest message: a backlog would build unseen.");
  for (const apiResource of of(synthesis, "aws:apigatewayv2/api:Api"))
    if (!watching("AWS/ApiGateway", "5xx", { ApiId: apiResource.id }))
      problems.push(`No alarm watches the 5xx answers of the API ${apiResource.name}.`);
  const sender = lambdaFunctions(synthesis).find((f) => manifestKeyOf(f) === "sender");
  const metricDimensions = {
    service: sender?.environment.POWERTOOLS_SERVICE_NAME ?? "",
    [unknownOutcomesMetric.stageDimension]: sender?.environment.WALLET_STAGE ?? "",
  };
  if (metricDimensions[unknownOutcomesMetric.stageDimension] !== settings.stage)
    problems.push(
      `The sender writes its metrics for the stage ${JSON.stringify(metricDimensions.Stage)}, not ${settings.stage}.`,
    );
  if (metricDimensions.service !== SERVICE_NAME)
    problems.push(
      `The sender writes its metrics for the service ${JSON.stringify(metricDimensions.service)}, not ${SERVICE_NAME}.`,
    );
  if (!watching(unknownOutcomesMetric.namespace, unknownOutcomesMetric.name, metricDimensions)) {
    problems.push(
      `No alarm watches ${unknownOutcomesMetric.namespace}/${unknownOutcomesMetric.name} with the dimensions the sender writes (${JSON.stringify(metricDimensions)}): unknown outcomes would go unseen, or page another stage.`,
    );
  }
  const subscriptions = of(synthesis, "aws:sns/topicSubscription:TopicSubscription").filter(
    (s) => s.inputs.topic === topicArn,
  );
  if (
    settings.protected &&
    !subscriptions.some((s) => s.inputs.protocol === "email" && /@/.test(String(s.inputs.endpoint)))
  )
    problems.push(
      `The protected stage ${settings.stage} has no email subscription on its alarms topic: nobody would hear an alarm.`,
    );
  return problems;
}

/** Everything in the stage's region, from stages.json (never the shell's), and the stage's PassEntry and tracing on every function. */
export function stageSettingProblems(synthesis: Synthesis, settings: StageSettings): string[] {
  const problems: string[] = [];
  if (synthesis.app.region !== settings.region)
    problems.push(
      `The stage is synthesized in ${synthesis.app.region}, not in its stages.json region ${settings.region}.`,
    );
  const elsewhere = new Set<string>();
  const visit = (value: unknown, where: SynthesizedResource) => {
    if (typeof value === "string") {
      for (const match of value.matchAll(/arn:aws:([a-z0-9-]+):([a-z0-9-]*):/g))
        if (match[2] && match[2] !== settings.region) elsewhere.add(`${where.name} (${match[0]}…)`);
      for (const match of value.matchAll(/https:\/\/[a-z0-9.-]*?\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com/g))
        if (match[1] !== settings.region) elsewhere.add(`${where.name} (${match[0]})`);
    } else if (Array.isArray(value)) for (const v of value) visit(v, where);
    else if (value && typeof value === "object") for (const v of Object.values(value)) visit(v, where);
  };
  for (const resource of synthesis.resources) visit(resource.inputs, resource);
  if (elsewhere.size > 0)
    problems.push(
      `Resources point outside the stage's region ${settings.region}: ${[...elsewhere].slice(0, 5).join(", ")}.`,
    );
  for (const fn of lambdaFunctions(synthesis)) {
    if (fn.environment.PASSENTRY_BASE_URL !== settings.passEntryBaseUrl)
      problems.push(
        `${fn.label} posts to ${fn.environment.PASSENTRY_BASE_URL}, not the stage's PassEntry ${settings.passEntryBaseUrl}.`,
      );
    if (!fn.name.startsWith(functionName(settings.stage, "")))
      problems.push(
        `${fn.label} is named ${fn.name}, not after the service and stage: its log-group grant and alarms would miss it.`,
      );
    const mode = (fn.resource.inputs.tracingConfig as { mode?: string } | undefined)?.mode ?? "PassThrough";
    if (mode !== (settings.tracing ? "Active" : "PassThrough"))
      problems.push(`${fn.label} traces ${mode}, but the stage's tracing is ${settings.tracing ? "on" : "off"}.`);
  }
  return problems;
}

/** All of the above. */
export function stageProblems(synthesis: Synthesis, settings: StageSettings): string[] {
  return [
    ...policyProblems(synthesis, settings),
    ...trustProblems(synthesis),
    ...queuePolicyProblems(synthesis),
    ...alarmProblems(synthesis, settings),
    ...stageSettingProblems(synthesis, settings),
  ];
}

/** The names of the alarms a function gets, for tests that look one up. */
export const functionAlarmNames = (component: string) => functionAlarms(component).map((a) => a.name);
export type { PolicyStatement };
