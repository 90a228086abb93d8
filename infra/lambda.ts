import {
  ARCHITECTURE,
  environmentFor,
  functionName,
  lambdaTrustPolicy,
  LOG_ACTIONS,
  LOG_FORMAT,
  LOG_RETENTION,
  RUNTIME,
  TRACING_ACTIONS,
  type FunctionSpec,
  type Grantable,
} from "./manifest.js";
import { walletBus } from "./bus.js";
import { table } from "./ledger.js";
import { deadLetterQueue, promotionFailuresQueue, queue } from "./queue.js";
import { REQUEST_CALLER_INDEX, REQUEST_LIST_INDEX } from "../functions/adapters/dynamodb-table-shape.js";
import { apiKeys, passEntryToken, webhookSecrets, webhookSigningSecrets } from "./secrets.js";
import { stage } from "./stage.js";

/** The exact ARN behind each resource the manifest grants actions on. */
const arns: Record<Grantable, $util.Input<string>> = {
  table: table.arn,
  // An index is its own IAM resource: a Query on it is allowed only on this ARN.
  requestListIndex: $interpolate`${table.arn}/index/${REQUEST_LIST_INDEX.name}`,
  requestCallerIndex: $interpolate`${table.arn}/index/${REQUEST_CALLER_INDEX.name}`,
  messagesQueue: queue.arn,
  deadLetterQueue: deadLetterQueue.arn,
  promotionFailuresQueue: promotionFailuresQueue.arn,
  walletBus: walletBus.arn,
  passEntryToken: passEntryToken.secret.arn,
  apiKeys: apiKeys.secret.arn,
  webhookSecrets: webhookSecrets.secret.arn,
  webhookSigningSecrets: webhookSigningSecrets.secret.arn,
};

const deployed = {
  queueUrl: queue.url,
  deadLetterQueueUrl: deadLetterQueue.url,
  tableName: table.name,
  busName: walletBus.name,
  secretArns: {
    passEntryToken: passEntryToken.secret.arn,
    apiKeys: apiKeys.secret.arn,
    webhookSecrets: webhookSecrets.secret.arn,
    webhookSigningSecrets: webhookSigningSecrets.secret.arn,
  },
};

const account = aws.getCallerIdentityOutput({}).accountId;
const partition = aws.getPartitionOutput({}).partition;

/**
 * The function's whole IAM policy: the manifest's actions on exact ARNs, writing its own log group,
 * and X-Ray on stages with tracing. Nothing comes from links (a link grants `sqs:*`, `dynamodb:*`
 * or `events:*` to whoever links it) nor from AWS's managed execution policy (logs on `*`).
 */
export function permissionsFor(spec: FunctionSpec, name: string): sst.aws.FunctionPermissionArgs[] {
  return [
    ...Object.entries(spec.access).map(([target, actions]) => ({
      actions: [...actions],
      resources: [arns[target as Grantable]],
    })),
    {
      actions: [...LOG_ACTIONS],
      resources: [$interpolate`arn:${partition}:logs:${stage.region}:${account}:log-group:/aws/lambda/${name}:*`],
    },
    ...(stage.tracing ? [{ actions: [...TRACING_ACTIONS], resources: ["*"] }] : []),
  ];
}

/**
 * The full `sst.aws.Function` arguments for one manifest entry, so every function declaration is
 * one line and all of them share runtime, bundling, logging, permissions and trust.
 * `component` names the function when one manifest entry runs as several (one planner per promotion).
 *
 * @example
 *   api.route("GET /health", lambda(functions.health));
 */
export function lambda(spec: FunctionSpec, component: string = spec.name): sst.aws.FunctionArgs {
  const name = functionName($app.stage, component);
  return {
    name,
    handler: spec.handler,
    description: `${$app.name} ${component} (${$app.stage})`,
    runtime: RUNTIME,
    architecture: ARCHITECTURE,
    memory: `${spec.memoryMb} MB`,
    timeout: `${spec.timeoutSeconds} seconds`,
    permissions: permissionsFor(spec, name),
    environment: {
      ...environmentFor(spec, deployed, stage),
      // Makes Node apply the bundled source maps to stack traces (see `nodejs.sourcemap`).
      NODE_OPTIONS: "--enable-source-maps",
    },
    logging: { retention: LOG_RETENTION, format: LOG_FORMAT },
    // Minified, with @aws-sdk/* bundled (SST's default) rather than taken from the runtime: smaller
    // cold starts and the SDK version we tested. Source maps ship in the package so stack traces in
    // the JSON logs point at TypeScript lines.
    nodejs: { minify: true, sourcemap: true },
    transform: {
      role: (args) => {
        args.assumeRolePolicy = JSON.stringify(lambdaTrustPolicy);
        // Logs are granted on the function's own log group by permissionsFor, not by
        // AWSLambdaBasicExecutionRole, which SST attaches and which allows every log group.
        args.managedPolicyArns = [];
      },
      // Active tracing records each invocation in X-Ray; it costs cold start, so it is a per-stage switch.
      function: { tracingConfig: { mode: stage.tracing ? "Active" : "PassThrough" } },
    },
  };
}
