/**
 * Pulumi's unit-testing mocks, answering what AWS would answer when `sst deploy` creates each
 * resource: a physical name (Pulumi's auto-name: logical name + 7 hex characters, unless the program
 * chose one), an ARN of the shape AWS gives that type, and the few computed attributes the program
 * reads back (queue URL, API endpoint, invoke ARN). Lookups the components make (caller identity,
 * region, partition, policy documents) are answered too; any other lookup fails the synthesis by
 * name, so a new dependency on AWS state cannot slip through as `undefined`.
 */
import { createHash } from "node:crypto";

export interface MockAccount {
  accountId: string;
  region: string;
}

export interface RecordedResource {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
  id: string;
  state: Record<string, unknown>;
}

interface ResourceArgs {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom?: boolean;
  id?: string;
}

/** Deterministic, so two syntheses of the same program name resources identically. */
function suffix(name: string, length = 7): string {
  return createHash("sha256").update(name).digest("hex").slice(0, length);
}

/** Pulumi's auto-naming: the logical name plus a random suffix, within the type's length limit. */
function autoName(logical: string, maxLength = 64): string {
  return `${logical.slice(0, maxLength - 8)}-${suffix(logical)}`;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

export function createMocks(account: MockAccount) {
  const { accountId, region } = account;
  const resources: RecordedResource[] = [];

  function stateFor(args: ResourceArgs): { id: string; state: Record<string, unknown> } {
    const inputs = args.inputs ?? {};
    const physical =
      text(inputs.name) ??
      (text(inputs.namePrefix) ? `${inputs.namePrefix}${suffix(args.name, 26)}` : autoName(args.name));
    const extra: Record<string, unknown> = {};
    let id = physical;
    switch (args.type) {
      case "aws:sqs/queue:Queue":
        extra.arn = `arn:aws:sqs:${region}:${accountId}:${physical}`;
        extra.url = `https://sqs.${region}.amazonaws.com/${accountId}/${physical}`;
        id = extra.url as string;
        break;
      case "aws:dynamodb/table:Table":
        extra.arn = `arn:aws:dynamodb:${region}:${accountId}:table/${physical}`;
        if (inputs.streamEnabled) extra.streamArn = `${extra.arn}/stream/2030-01-01T00:00:00.000`;
        break;
      case "aws:lambda/function:Function": {
        const arn = `arn:aws:lambda:${region}:${accountId}:function:${physical}`;
        Object.assign(extra, {
          arn,
          qualifiedArn: `${arn}:$LATEST`,
          invokeArn: `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${arn}/invocations`,
          version: "$LATEST",
        });
        break;
      }
      case "aws:iam/role:Role":
        extra.arn = `arn:aws:iam::${accountId}:role/${physical}`;
        extra.uniqueId = `AROA${suffix(physical, 17).toUpperCase()}`;
        break;
      case "aws:iam/policy:Policy":
        extra.arn = `arn:aws:iam::${accountId}:policy/${physical}`;
        break;
      case "aws:secretsmanager/secret:Secret":
        // Secrets Manager appends six random characters to every secret's ARN.
        extra.arn = `arn:aws:secretsmanager:${region}:${accountId}:secret:${physical}-${suffix(physical, 6)}`;
        id = extra.arn as string;
        break;
      case "aws:cloudwatch/eventBus:EventBus":
        extra.arn = `arn:aws:events:${region}:${accountId}:event-bus/${physical}`;
        break;
      case "aws:cloudwatch/eventRule:EventRule": {
        const bus = text(inputs.eventBusName) ?? "default";
        extra.arn = `arn:aws:events:${region}:${accountId}:rule/${bus === "default" ? "" : `${bus}/`}${physical}`;
        id = `${bus}/${physical}`;
        break;
      }
      case "aws:sns/topic:Topic":
        extra.arn = `arn:aws:sns:${region}:${accountId}:${physical}`;
        id = extra.arn as string;
        break;
      case "aws:scheduler/schedule:Schedule":
        extra.arn = `arn:aws:scheduler:${region}:${accountId}:schedule/${text(inputs.groupName) ?? "default"}/${physical}`;
        break;
      case "aws:cloudwatch/logGroup:LogGroup":
        extra.arn = `arn:aws:logs:${region}:${accountId}:log-group:${physical}`;
        break;
      case "aws:cloudwatch/metricAlarm:MetricAlarm":
        extra.arn = `arn:aws:cloudwatch:${region}:${accountId}:alarm:${physical}`;
        break;
      case "aws:apigatewayv2/api:Api": {
        id = suffix(args.name, 10);
        extra.apiEndpoint = `https://${id}.execute-api.${region}.amazonaws.com`;
        extra.executionArn = `arn:aws:execute-api:${region}:${accountId}:${id}`;
        extra.arn = `arn:aws:apigateway:${region}::/apis/${id}`;
        break;
      }
      case "aws:apigatewayv2/stage:Stage":
        extra.invokeUrl = `https://${text(inputs.apiId) ?? "api"}.execute-api.${region}.amazonaws.com/${text(inputs.name) ?? "$default"}`;
        break;
      case "aws:apigatewayv2/integration:Integration":
      case "aws:apigatewayv2/route:Route":
      case "aws:lambda/eventSourceMapping:EventSourceMapping":
        id = suffix(args.name, 7);
        extra.uuid = id;
        break;
      case "aws:s3/bucketV2:BucketV2":
      case "aws:s3/bucket:Bucket":
        extra.arn = `arn:aws:s3:::${physical}`;
        extra.bucket = physical;
        break;
      default:
        if (args.type.startsWith("aws:")) {
          const service = args.type.split(":")[1]!.split("/")[0]!;
          extra.arn = `arn:aws:${service}:${region}:${accountId}:${physical}`;
        }
    }
    // Only custom resources get a physical name; components (custom: false) keep their inputs.
    const state = args.custom === false ? { ...inputs } : { ...inputs, name: physical, id, ...extra };
    return { id: args.custom === false ? `${args.name}` : id, state };
  }

  return {
    resources,
    mocks: {
      newResource(args: ResourceArgs) {
        const { id, state } = stateFor(args);
        resources.push({
          type: args.type,
          name: args.name,
          custom: args.custom !== false,
          inputs: args.inputs ?? {},
          id,
          state,
        });
        return { id, state };
      },
      call(args: { token: string; inputs: Record<string, any> }) {
        switch (args.token) {
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId, arn: `arn:aws:iam::${accountId}:user/deployer`, userId: "AIDADEPLOYER", id: accountId };
          case "aws:index/getRegion:getRegion":
            return { name: region, region, id: region, description: region, endpoint: `ec2.${region}.amazonaws.com` };
          case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws", id: "aws" };
          case "aws:iam/getPolicyDocument:getPolicyDocument": {
            const json = JSON.stringify(policyDocument(args.inputs));
            return { ...args.inputs, json, minifiedJson: json, id: suffix(json, 10) };
          }
          default:
            throw new Error(
              `The synthesis has no answer for the lookup ${args.token}; add one to test/infra/synthesis/pulumi-mocks.ts.`,
            );
        }
      },
    },
  };
}

interface StatementInput {
  sid?: string;
  effect?: string;
  actions?: string[];
  notActions?: string[];
  resources?: string[];
  notResources?: string[];
  principals?: { type: string; identifiers: string[] }[];
  notPrincipals?: { type: string; identifiers: string[] }[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

/** What `aws.iam.getPolicyDocument` renders: the provider's JSON for the statements given. */
export function policyDocument(inputs: { statements?: StatementInput[]; version?: string }) {
  const one = (values: string[]) => (values.length === 1 ? values[0] : values);
  const principals = (list: { type: string; identifiers: string[] }[]) => {
    const out: Record<string, string | string[]> = {};
    for (const p of list) {
      const key = p.type === "*" ? "*" : p.type;
      const existing = out[key];
      const merged = [
        ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]),
        ...p.identifiers,
      ];
      out[key] = one(merged)!;
    }
    return out;
  };
  return {
    Version: inputs.version ?? "2012-10-17",
    Statement: (inputs.statements ?? []).map((s) => {
      const statement: Record<string, unknown> = {};
      if (s.sid) statement.Sid = s.sid;
      statement.Effect = s.effect ?? "Allow";
      if (s.actions?.length) statement.Action = one(s.actions);
      if (s.notActions?.length) statement.NotAction = one(s.notActions);
      if (s.resources?.length) statement.Resource = one(s.resources);
      if (s.notResources?.length) statement.NotResource = one(s.notResources);
      if (s.principals?.length) statement.Principal = principals(s.principals);
      if (s.notPrincipals?.length) statement.NotPrincipal = principals(s.notPrincipals);
      if (s.conditions?.length) {
        const condition: Record<string, Record<string, string | string[]>> = {};
        for (const c of s.conditions) {
          condition[c.test] ??= {};
          condition[c.test]![c.variable] = one(c.values)!;
        }
        statement.Condition = condition;
      }
      return statement;
    }),
  };
}
