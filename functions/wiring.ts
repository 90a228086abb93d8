/**
 * Builds the AWS home's adapters once per cold start. Handlers call these lazily, so importing a
 * handler (in tests, or in the local home) builds nothing and reads no environment.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AcceptDeps } from "./core/accept-request.js";
import { systemClock, type SecretStore, type SendLedger, type Log } from "./core/ports.js";
import { sleep } from "./core/pacer.js";
import type { SendDeps } from "./core/send-request.js";
import { loadAwsConfig, type AwsConfig } from "./config.js";
import { DynamoDbRequestStore } from "./adapters/dynamodb-request-store.js";
import { DynamoDbSendLedger } from "./adapters/dynamodb-send-ledger.js";
import { PassEntryHttpClient } from "./adapters/passentry-http-client.js";
import { powertoolsLog } from "./adapters/powertools-log.js";
import { SecretsManagerSecretStore } from "./adapters/secrets-manager-secret-store.js";
import { SqsMessageQueue } from "./adapters/sqs-message-queue.js";

/** What the HTTP handlers need. */
export interface HttpDeps {
  accept: AcceptDeps;
  secrets: SecretStore;
  ledger: SendLedger;
  log: Log;
}

/** What the sender needs, less the per-invocation remaining time. */
export interface SenderDeps {
  send: Omit<SendDeps, "remainingMs">;
  log: Log;
}

function once<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

const awsBase = once(() => {
  const config: AwsConfig = loadAwsConfig();
  const log = powertoolsLog();
  const dynamo = new DynamoDBClient({});
  const tableOptions = { tableName: config.WALLET_TABLE_NAME, client: dynamo, retentionDays: config.RECORD_RETENTION_DAYS };
  const secrets = new SecretsManagerSecretStore(
    {
      "passentry-token": config.PASSENTRY_TOKEN_SECRET_ID,
      "api-keys": config.API_KEYS_SECRET_ID,
      "passentry-webhook-secrets": config.PASSENTRY_WEBHOOK_SECRETS_SECRET_ID,
    },
    config.SECRET_CACHE_SECONDS,
  );
  return { config, log, secrets, store: new DynamoDbRequestStore(tableOptions), ledger: new DynamoDbSendLedger(tableOptions) };
});

export const awsHttpDeps = once((): HttpDeps => {
  const { config, log, secrets, store, ledger } = awsBase();
  const queue = new SqsMessageQueue(config.MESSAGES_QUEUE_URL);
  return { accept: { store, queue, clock: systemClock, log, newRequestId: randomUUID }, secrets, ledger, log };
});

export const awsSenderDeps = once((): SenderDeps => {
  const { config, log, secrets, store, ledger } = awsBase();
  const passEntry = new PassEntryHttpClient({
    baseUrl: config.PASSENTRY_BASE_URL,
    secrets,
    timeoutMs: config.PASSENTRY_TIMEOUT_MS,
    ratePerSecond: config.PASSENTRY_RATE_PER_SECOND,
  });
  return {
    log,
    send: {
      store,
      ledger,
      passEntry,
      clock: systemClock,
      log,
      owner: `lambda-${randomUUID()}`,
      leaseMs: config.SEND_LEASE_MS,
      sleep,
      reconcilePages: config.RECONCILE_PAGES,
      onUnknownOutcome: emitUnknownOutcomeMetric,
    },
  };
});

/**
 * One Embedded Metric Format line: CloudWatch turns it into the `WalletMessaging/UnknownOutcomes`
 * metric the alarm watches. Written to stdout directly, because console.log output is wrapped by
 * Lambda's JSON log format and the metric would be lost.
 */
function emitUnknownOutcomeMetric(key: { requestId: string; chunk: number }): void {
  const metric = {
    _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: "WalletMessaging", Dimensions: [[]], Metrics: [{ Name: "UnknownOutcomes", Unit: "Count" }] }] },
    UnknownOutcomes: 1,
    requestId: key.requestId,
    chunk: key.chunk,
  };
  process.stdout.write(`${JSON.stringify(metric)}\n`);
}
