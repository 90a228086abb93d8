/**
 * Typed views over a synthesis: the functions with their roles and policies, tables, queues, event
 * source mappings, HTTP routes, bus rules and schedules, each read from the resources AWS would be
 * asked to create (never from the manifest or test code). The rehearsal builds its stand-ins from
 * these; `check:infra` assertions can read the same views.
 *
 * @example
 *   const synthesis = await synthesize();
 *   for (const fn of lambdaFunctions(synthesis)) console.log(fn.label, fn.role.statements.length);
 */
import path from "node:path";
import type { Synthesis, SynthesizedResource } from "./types.js";

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
}

export interface NamedPolicy {
  /** Where the policy comes from: `inline:<name>`, `RolePolicy:<logical name>` or a managed policy ARN. */
  source: string;
  document: PolicyDocument;
}

export interface RoleView {
  logicalName: string;
  name: string;
  arn: string;
  trustPolicy: PolicyDocument;
  /** Inline policies and RolePolicy resources: what the role's own statements allow. */
  policies: NamedPolicy[];
  /** AWS-managed or customer-managed policy ARNs attached to the role. */
  managedPolicyArns: string[];
}

export interface LambdaFunctionView {
  /** SST component name (`functionID` in SST's build), e.g. `MessagesQueueSubscriberXyzFunction`. */
  component: string;
  /** The handler as written in the infra: `functions/handlers/sender.handler`. */
  sourceHandler: string;
  /** How failures name the function: component plus source handler. */
  label: string;
  name: string;
  arn: string;
  runtime: string;
  architecture: string;
  timeoutSeconds: number;
  memoryMb: number;
  environment: Record<string, string>;
  /** The directory that is the Lambda's code, its entry module and the export Lambda calls. */
  bundle: { dir: string; entryFile: string; exportName: string };
  role: RoleView;
  resource: SynthesizedResource;
}

export interface TableView {
  logicalName: string;
  name: string;
  arn: string;
  hashKey: string;
  rangeKey?: string;
  attributes: { name: string; type: string }[];
  ttlAttribute?: string;
  globalSecondaryIndexes: { name: string; hashKey: string; rangeKey?: string; projectionType?: string }[];
  localSecondaryIndexes: { name: string; rangeKey: string; projectionType?: string }[];
  billingMode?: string;
  streamEnabled: boolean;
}

export interface QueueView {
  logicalName: string;
  name: string;
  arn: string;
  url: string;
  fifo: boolean;
  visibilityTimeoutSeconds: number;
  messageRetentionSeconds: number;
  delaySeconds: number;
  receiveWaitTimeSeconds: number;
  maxMessageSize?: number;
  redrivePolicy?: { deadLetterTargetArn: string; maxReceiveCount: number };
  /** The queue's resource policy, when a QueuePolicy resource sets one. */
  policy?: PolicyDocument;
}

export interface EventSourceMappingView {
  logicalName: string;
  eventSourceArn: string;
  functionArn: string;
  batchSize: number;
  maximumBatchingWindowSeconds: number;
  reportBatchItemFailures: boolean;
  maximumConcurrency?: number;
  enabled: boolean;
  filterPatterns: unknown[];
}

export interface HttpRouteView {
  apiId: string;
  routeKey: string;
  method: string;
  path: string;
  functionArn: string;
  payloadFormatVersion: string;
  authorizationType: string;
}

export interface HttpStageView {
  apiId: string;
  name: string;
  throttlingRateLimit?: number;
  throttlingBurstLimit?: number;
}

export interface BusRuleView {
  logicalName: string;
  name: string;
  busName: string;
  pattern: Record<string, unknown>;
  enabled: boolean;
  targets: { arn: string; input?: string; inputPath?: string; inputTransformer?: unknown; deadLetterArn?: string }[];
}

export interface ScheduleView {
  logicalName: string;
  name: string;
  expression: string;
  timezone: string;
  enabled: boolean;
  target: { arn: string; input?: string; roleArn?: string; maximumRetryAttempts?: number };
}

export interface SecretView {
  logicalName: string;
  name: string;
  arn: string;
}

const of = (synthesis: Synthesis, type: string) => synthesis.resources.filter((r) => r.custom && r.type === type);
const lastSegment = (urn: string | undefined) => (urn ? urn.slice(urn.lastIndexOf("::") + 2) : "");
const parseJson = <T>(value: unknown, fallback: T): T =>
  typeof value === "string" ? (JSON.parse(value) as T) : ((value as T) ?? fallback);

/** Every IAM role, with its trust policy and the policies attached to it by any resource. */
export function roles(synthesis: Synthesis): RoleView[] {
  const rolePolicies = of(synthesis, "aws:iam/rolePolicy:RolePolicy");
  const attachments = of(synthesis, "aws:iam/rolePolicyAttachment:RolePolicyAttachment");
  return of(synthesis, "aws:iam/role:Role").map((role) => {
    const name = role.state.name as string;
    const attached = (ref: unknown) => ref === name || ref === role.state.arn;
    const policies: NamedPolicy[] = [
      ...((role.inputs.inlinePolicies ?? []) as { name?: string; policy?: string }[])
        .filter((p) => p.policy)
        .map((p) => ({
          source: `inline:${p.name ?? ""}`,
          document: parseJson<PolicyDocument>(p.policy, { Statement: [] }),
        })),
      ...rolePolicies
        .filter((p) => attached(p.inputs.role))
        .map((p) => ({
          source: `RolePolicy:${p.name}`,
          document: parseJson<PolicyDocument>(p.inputs.policy, { Statement: [] }),
        })),
    ];
    return {
      logicalName: role.name,
      name,
      arn: role.state.arn as string,
      trustPolicy: parseJson<PolicyDocument>(role.inputs.assumeRolePolicy, { Statement: [] }),
      policies,
      managedPolicyArns: [
        ...((role.inputs.managedPolicyArns ?? []) as string[]),
        ...attachments.filter((a) => attached(a.inputs.role)).map((a) => a.inputs.policyArn as string),
      ],
    };
  });
}

/** Every Lambda function with the code SST built for it and the role it runs as. */
export function lambdaFunctions(synthesis: Synthesis): LambdaFunctionView[] {
  const roleByArn = new Map(roles(synthesis).map((r) => [r.arn, r]));
  return of(synthesis, "aws:lambda/function:Function").map((fn) => {
    const component = lastSegment(fn.parent);
    const build = synthesis.builds.find((b) => b.functionId === component);
    if (!build)
      throw new Error(
        `No build was recorded for the Lambda ${fn.name} (component ${component}); the rehearsal runs only functions SST built from a handler.`,
      );
    const role = roleByArn.get(fn.inputs.role as string);
    if (!role) throw new Error(`The Lambda ${fn.name} runs as ${fn.inputs.role}, which the synthesis did not create.`);
    const handler = fn.inputs.handler as string;
    const dot = handler.lastIndexOf(".");
    return {
      component,
      sourceHandler: build.sourceHandler,
      label: `${component} (${build.sourceHandler})`,
      name: fn.state.name as string,
      arn: fn.state.arn as string,
      runtime: fn.inputs.runtime as string,
      architecture: ((fn.inputs.architectures as string[] | undefined) ?? ["x86_64"])[0]!,
      timeoutSeconds: Number(fn.inputs.timeout ?? 3),
      memoryMb: Number(fn.inputs.memorySize ?? 128),
      environment: { ...((fn.inputs.environment?.variables ?? {}) as Record<string, string>) },
      bundle: {
        dir: build.out,
        entryFile: path.join(build.out, `${handler.slice(0, dot)}.mjs`),
        exportName: handler.slice(dot + 1),
      },
      role,
      resource: fn,
    };
  });
}

export function tables(synthesis: Synthesis): TableView[] {
  return of(synthesis, "aws:dynamodb/table:Table").map((t) => ({
    logicalName: t.name,
    name: t.state.name as string,
    arn: t.state.arn as string,
    hashKey: t.inputs.hashKey as string,
    rangeKey: (t.inputs.rangeKey as string | undefined) || undefined,
    attributes: (t.inputs.attributes ?? []) as { name: string; type: string }[],
    ttlAttribute: t.inputs.ttl?.enabled ? (t.inputs.ttl.attributeName as string) : undefined,
    globalSecondaryIndexes: ((t.inputs.globalSecondaryIndexes ?? []) as any[]).map((i) => ({
      name: i.name,
      hashKey: i.hashKey,
      rangeKey: i.rangeKey || undefined,
      projectionType: i.projectionType,
    })),
    localSecondaryIndexes: ((t.inputs.localSecondaryIndexes ?? []) as any[]).map((i) => ({
      name: i.name,
      rangeKey: i.rangeKey,
      projectionType: i.projectionType,
    })),
    billingMode: t.inputs.billingMode as string | undefined,
    streamEnabled: Boolean(t.inputs.streamEnabled),
  }));
}

export function queues(synthesis: Synthesis): QueueView[] {
  const policies = of(synthesis, "aws:sqs/queuePolicy:QueuePolicy");
  return of(synthesis, "aws:sqs/queue:Queue").map((q) => {
    const redrive = q.inputs.redrivePolicy
      ? parseJson<{ deadLetterTargetArn: string; maxReceiveCount: number | string }>(
          q.inputs.redrivePolicy,
          undefined as never,
        )
      : undefined;
    const policy = policies.find((p) => p.inputs.queueUrl === q.state.url);
    return {
      logicalName: q.name,
      name: q.state.name as string,
      arn: q.state.arn as string,
      url: q.state.url as string,
      fifo: Boolean(q.inputs.fifoQueue),
      // AWS's defaults where the program leaves an attribute out.
      visibilityTimeoutSeconds: Number(q.inputs.visibilityTimeoutSeconds ?? 30),
      messageRetentionSeconds: Number(q.inputs.messageRetentionSeconds ?? 345_600),
      delaySeconds: Number(q.inputs.delaySeconds ?? 0),
      receiveWaitTimeSeconds: Number(q.inputs.receiveWaitTimeSeconds ?? 0),
      maxMessageSize: q.inputs.maxMessageSize === undefined ? undefined : Number(q.inputs.maxMessageSize),
      redrivePolicy: redrive
        ? { deadLetterTargetArn: redrive.deadLetterTargetArn, maxReceiveCount: Number(redrive.maxReceiveCount) }
        : undefined,
      policy: policy ? parseJson<PolicyDocument>(policy.inputs.policy, { Statement: [] }) : undefined,
    };
  });
}

export function eventSourceMappings(synthesis: Synthesis): EventSourceMappingView[] {
  return of(synthesis, "aws:lambda/eventSourceMapping:EventSourceMapping").map((m) => ({
    logicalName: m.name,
    eventSourceArn: m.inputs.eventSourceArn as string,
    functionArn: m.inputs.functionName as string,
    // AWS's defaults for an SQS source.
    batchSize: Number(m.inputs.batchSize ?? 10),
    maximumBatchingWindowSeconds: Number(m.inputs.maximumBatchingWindowInSeconds ?? 0),
    reportBatchItemFailures: ((m.inputs.functionResponseTypes ?? []) as string[]).includes("ReportBatchItemFailures"),
    maximumConcurrency: m.inputs.scalingConfig?.maximumConcurrency,
    enabled: m.inputs.enabled !== false,
    filterPatterns: ((m.inputs.filterCriteria?.filters ?? []) as { pattern: string }[]).map((f) =>
      JSON.parse(f.pattern),
    ),
  }));
}

export function httpRoutes(synthesis: Synthesis): HttpRouteView[] {
  const integrations = of(synthesis, "aws:apigatewayv2/integration:Integration");
  return of(synthesis, "aws:apigatewayv2/route:Route").map((r) => {
    const routeKey = r.inputs.routeKey as string;
    const integrationId = String(r.inputs.target ?? "").replace(/^integrations\//, "");
    const integration = integrations.find((i) => i.id === integrationId);
    if (!integration)
      throw new Error(`Route ${routeKey} targets ${r.inputs.target}, which the synthesis did not create.`);
    const uri = integration.inputs.integrationUri as string;
    // An invoke ARN wraps the function ARN: arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations.
    const functionArn = uri.includes("/functions/")
      ? uri.slice(uri.indexOf("/functions/") + 11).replace(/\/invocations$/, "")
      : uri;
    const [method, ...rest] = routeKey.split(" ");
    return {
      apiId: r.inputs.apiId as string,
      routeKey,
      method: method!,
      path: rest.join(" "),
      functionArn,
      payloadFormatVersion: (integration.inputs.payloadFormatVersion as string) ?? "1.0",
      authorizationType: (r.inputs.authorizationType as string) ?? "NONE",
    };
  });
}

export function httpStages(synthesis: Synthesis): HttpStageView[] {
  return of(synthesis, "aws:apigatewayv2/stage:Stage").map((s) => ({
    apiId: s.inputs.apiId as string,
    name: s.inputs.name as string,
    throttlingRateLimit: s.inputs.defaultRouteSettings?.throttlingRateLimit,
    throttlingBurstLimit: s.inputs.defaultRouteSettings?.throttlingBurstLimit,
  }));
}

export function busRules(synthesis: Synthesis): BusRuleView[] {
  const targets = of(synthesis, "aws:cloudwatch/eventTarget:EventTarget");
  return of(synthesis, "aws:cloudwatch/eventRule:EventRule").map((rule) => ({
    logicalName: rule.name,
    name: rule.state.name as string,
    busName: (rule.inputs.eventBusName as string) ?? "default",
    pattern: parseJson<Record<string, unknown>>(rule.inputs.eventPattern, {}),
    enabled: (rule.inputs.state ?? "ENABLED") === "ENABLED" && rule.inputs.isEnabled !== false,
    targets: targets
      .filter(
        (t) =>
          t.inputs.rule === rule.state.name &&
          (t.inputs.eventBusName ?? "default") === (rule.inputs.eventBusName ?? "default"),
      )
      .map((t) => ({
        arn: t.inputs.arn as string,
        input: t.inputs.input,
        inputPath: t.inputs.inputPath,
        inputTransformer: t.inputs.inputTransformer,
        deadLetterArn: t.inputs.deadLetterConfig?.arn,
      })),
  }));
}

export function schedules(synthesis: Synthesis): ScheduleView[] {
  return of(synthesis, "aws:scheduler/schedule:Schedule").map((s) => ({
    logicalName: s.name,
    name: s.state.name as string,
    expression: s.inputs.scheduleExpression as string,
    timezone: (s.inputs.scheduleExpressionTimezone as string) ?? "UTC",
    enabled: (s.inputs.state ?? "ENABLED") === "ENABLED",
    target: {
      arn: s.inputs.target?.arn as string,
      input: s.inputs.target?.input as string | undefined,
      roleArn: s.inputs.target?.roleArn as string | undefined,
      maximumRetryAttempts: s.inputs.target?.retryPolicy?.maximumRetryAttempts,
    },
  }));
}

export function secrets(synthesis: Synthesis): SecretView[] {
  return of(synthesis, "aws:secretsmanager/secret:Secret").map((s) => ({
    logicalName: s.name,
    name: s.state.name as string,
    arn: s.state.arn as string,
  }));
}

export function eventBuses(synthesis: Synthesis): { logicalName: string; name: string; arn: string }[] {
  return of(synthesis, "aws:cloudwatch/eventBus:EventBus").map((b) => ({
    logicalName: b.name,
    name: b.state.name as string,
    arn: b.state.arn as string,
  }));
}

/** Every statement a role's own policies hold (managed policies are listed by ARN only). */
export function statementsOf(role: RoleView): PolicyStatement[] {
  return role.policies.flatMap((p) => p.document.Statement ?? []);
}
