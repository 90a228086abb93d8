/**
 * Whether a deployer holding docs/deployer-policy.json may create what a synthesized stage creates:
 * for each resource, the action AWS authorizes when Pulumi creates it, on the ARN AWS checks,
 * evaluated offline by `@cloud-copilot/iam-simulate` as IAM would. A resource type without an entry
 * here is reported, so a new kind of resource cannot slip past the docs unchecked.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { Synthesis, SynthesizedResource } from "./types.js";

interface Request {
  action: string;
  resource: string;
  context?: Record<string, string>;
}

const queueArnOf = (url: string, region: string, account: string) =>
  `arn:aws:sqs:${region}:${account}:${url.split("/").pop()}`;

/** What creating each resource type asks IAM for. */
function requestsFor(
  r: SynthesizedResource,
  region: string,
  account: string,
  synthesis: Synthesis,
): Request[] | "none" | undefined {
  const fnArn = (name: string) =>
    name.startsWith("arn:") ? name : `arn:aws:lambda:${region}:${account}:function:${name}`;
  switch (r.type) {
    case "aws:lambda/function:Function":
      return [{ action: "lambda:CreateFunction", resource: r.state.arn }];
    case "aws:lambda/permission:Permission":
      return [{ action: "lambda:AddPermission", resource: fnArn(r.inputs.function) }];
    case "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig":
      return [{ action: "lambda:PutFunctionEventInvokeConfig", resource: fnArn(r.inputs.functionName) }];
    case "aws:lambda/eventSourceMapping:EventSourceMapping":
      return [{ action: "lambda:CreateEventSourceMapping", resource: "*" }];
    case "aws:iam/role:Role": {
      const service = String(r.inputs.assumeRolePolicy).includes("scheduler.amazonaws.com")
        ? "scheduler.amazonaws.com"
        : "lambda.amazonaws.com";
      return [
        { action: "iam:CreateRole", resource: r.state.arn },
        { action: "iam:PutRolePolicy", resource: r.state.arn },
        { action: "iam:PassRole", resource: r.state.arn, context: { "iam:PassedToService": service } },
      ];
    }
    case "aws:sqs/queue:Queue":
      return [{ action: "sqs:CreateQueue", resource: r.state.arn }];
    case "aws:sqs/queuePolicy:QueuePolicy":
      return [{ action: "sqs:SetQueueAttributes", resource: queueArnOf(r.inputs.queueUrl, region, account) }];
    case "aws:dynamodb/table:Table":
      return [{ action: "dynamodb:CreateTable", resource: r.state.arn }];
    case "aws:secretsmanager/secret:Secret":
      return [{ action: "secretsmanager:CreateSecret", resource: r.state.arn }];
    case "aws:cloudwatch/eventBus:EventBus":
      return [{ action: "events:CreateEventBus", resource: r.state.arn }];
    case "aws:cloudwatch/eventRule:EventRule":
      return [{ action: "events:PutRule", resource: r.state.arn }];
    case "aws:cloudwatch/eventTarget:EventTarget": {
      const rule = synthesis.resources.find(
        (x) => x.type === "aws:cloudwatch/eventRule:EventRule" && x.state.name === r.inputs.rule,
      );
      return [{ action: "events:PutTargets", resource: rule?.state.arn ?? `rule ${r.inputs.rule}` }];
    }
    case "aws:cloudwatch/logGroup:LogGroup":
      return [
        { action: "logs:CreateLogGroup", resource: `arn:aws:logs:${region}:${account}:log-group:${r.state.name}` },
      ];
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return [
        {
          action: "cloudwatch:PutMetricAlarm",
          resource: `arn:aws:cloudwatch:${region}:${account}:alarm:${r.state.name}`,
        },
      ];
    case "aws:sns/topic:Topic":
      return [{ action: "sns:CreateTopic", resource: r.state.arn }];
    case "aws:sns/topicSubscription:TopicSubscription":
      return [{ action: "sns:Subscribe", resource: r.inputs.topic }];
    case "aws:scheduler/schedule:Schedule":
      return [{ action: "scheduler:CreateSchedule", resource: r.state.arn }];
    case "aws:apigatewayv2/api:Api":
      return [{ action: "apigateway:POST", resource: `arn:aws:apigateway:${region}::/apis` }];
    case "aws:apigatewayv2/stage:Stage":
    case "aws:apigatewayv2/route:Route":
    case "aws:apigatewayv2/integration:Integration":
      return [
        {
          action: "apigateway:POST",
          resource: `arn:aws:apigateway:${region}::/apis/${r.inputs.apiId}/${r.type.split(":").pop()!.toLowerCase()}s`,
        },
      ];
    case "aws:s3/bucketObjectv2:BucketObjectv2":
      return [{ action: "s3:PutObject", resource: `arn:aws:s3:::${r.inputs.bucket}/${r.inputs.key}` }];
    case "random:index/randomBytes:RandomBytes":
    case "pulumi:pulumi:Stack":
      return "none";
    default:
      return r.custom ? undefined : "none";
  }
}

/** Sentences naming each creation the policy would refuse, and each resource type this file does not know. */
export async function deployerProblems(policyText: string, synthesis: Synthesis): Promise<string[]> {
  const { accountId, region } = synthesis.app;
  const policy = JSON.parse(policyText.replaceAll("<ACCOUNT_ID>", accountId).replaceAll("<REGION>", region));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const r of synthesis.resources) {
    const requests = requestsFor(r, region, accountId, synthesis);
    if (requests === "none") continue;
    if (!requests) {
      problems.push(
        `The deployer check does not know how AWS authorizes creating ${r.type} (${r.name}): add it to test/infra/synthesis/deployer-checks.ts and docs/deployer-policy.json.`,
      );
      continue;
    }
    for (const request of requests) {
      const key = `${request.action} ${request.resource}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (request.action.startsWith("apigateway:")) {
        // The simulator's IAM data has two services named `apigateway` (REST and HTTP APIs' management)
        // and resolves no resource type for HTTP API paths: match the statement by hand, as IAM would.
        if (!allowsByPattern(policy, request))
          problems.push(
            `docs/deployer-policy.json does not allow ${request.action} on ${request.resource}, which creating ${r.name} needs.`,
          );
        continue;
      }
      const result: any = await runSimulation(
        {
          identityPolicies: [{ name: "deployer", policy }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          request: {
            action: request.action,
            principal: `arn:aws:iam::${accountId}:user/deployer`,
            resource: { accountId, resource: request.resource },
            contextVariables: request.context ?? {},
          },
        } as any,
        {},
      );
      const decision =
        result.resultType === "error" ? `error ${JSON.stringify(result.errors).slice(0, 200)}` : result.overallResult;
      if (decision !== "Allowed")
        problems.push(
          `docs/deployer-policy.json does not allow ${request.action} on ${request.resource} (${decision}), which creating ${r.name} needs.`,
        );
    }
  }
  return problems;
}

const glob = (pattern: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`);
const listOf = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** An unconditioned Allow statement whose action and resource patterns both match (no Deny statements are written). */
function allowsByPattern(
  policy: {
    Statement: { Effect: string; Action?: string | string[]; Resource?: string | string[]; Condition?: unknown }[];
  },
  request: Request,
): boolean {
  return policy.Statement.some(
    (s) =>
      s.Effect === "Allow" &&
      !s.Condition &&
      listOf(s.Action).some((a) => glob(a).test(request.action)) &&
      listOf(s.Resource).some((r) => glob(r).test(request.resource)),
  );
}
