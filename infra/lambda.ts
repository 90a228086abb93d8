import {
  ARCHITECTURE,
  environmentFor,
  LOG_FORMAT,
  LOG_RETENTION,
  RUNTIME,
  type Capability,
  type FunctionSpec,
  type Grant,
} from "./manifest.js";
import { walletBus } from "./bus.js";
import { table } from "./ledger.js";
import { deadLetterQueue, queue } from "./queue.js";
import { apiKeys, passEntryToken, webhookSecrets, webhookSigningSecrets } from "./secrets.js";

/** The SST component behind each capability: linking it is what grants the IAM access. */
const linkables = {
  queue,
  table,
  bus: walletBus,
  passEntryToken: passEntryToken.link,
  apiKeys: apiKeys.link,
  webhookSecrets: webhookSecrets.link,
  webhookSigningSecrets: webhookSigningSecrets.link,
} satisfies Record<Capability, unknown>;

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

/** The ARNs a grant names: a table's own and its indexes', or one queue's. */
function grantResources(grant: Grant) {
  switch (grant.on) {
    case "table":
      return [table.arn, $interpolate`${table.arn}/index/*`];
    case "messagesQueue":
      return [queue.arn];
    case "deadLetterQueue":
      return [deadLetterQueue.arn];
  }
}

/**
 * The full `sst.aws.Function` arguments for one manifest entry, so every function declaration is
 * one line and all of them share runtime, bundling and logging settings.
 *
 * @example
 *   api.route("GET /health", lambda(functions.health));
 */
export function lambda(spec: FunctionSpec): sst.aws.FunctionArgs {
  return {
    handler: spec.handler,
    description: `${$app.name} ${spec.name} (${$app.stage})`,
    runtime: RUNTIME,
    architecture: ARCHITECTURE,
    memory: `${spec.memoryMb} MB`,
    timeout: `${spec.timeoutSeconds} seconds`,
    link: spec.capabilities.map((capability) => linkables[capability]),
    permissions: (spec.grants ?? []).map((grant) => ({ actions: [...grant.actions], resources: grantResources(grant) })),
    environment: {
      ...environmentFor(spec, deployed),
      // Makes Node apply the bundled source maps to stack traces (see `nodejs.sourcemap`).
      NODE_OPTIONS: "--enable-source-maps",
    },
    logging: { retention: LOG_RETENTION, format: LOG_FORMAT },
    // Minified, with @aws-sdk/* bundled (SST's default) rather than taken from the runtime: smaller
    // cold starts and the SDK version we tested. Source maps ship in the package so stack traces in
    // the JSON logs point at TypeScript lines.
    nodejs: { minify: true, sourcemap: true },
  };
}
