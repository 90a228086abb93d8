/**
 * Builds the AWS home's adapters once per cold start. Handlers call these lazily, so importing a
 * handler (in tests, or in the local home) builds nothing and reads no environment.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AcceptDeps } from "./core/accept-request.js";
import { parseAutomations, type Automation } from "./core/automations.js";
import { systemClock, type SecretStore, type SendLedger, type Log } from "./core/ports.js";
import { sleep } from "./core/pacer.js";
import type { PlanDeps } from "./core/plan-promotions.js";
import type { Promotion } from "./core/promotions.js";
import type { SendDeps } from "./core/send-request.js";
import { loadAwsConfig, type AwsConfig } from "./config.js";
import { DynamoDbRequestStore } from "./adapters/dynamodb-request-store.js";
import { DynamoDbSendLedger } from "./adapters/dynamodb-send-ledger.js";
import { EventBridgeEventPublisher } from "./adapters/eventbridge-event-publisher.js";
import { PassEntryHttpClient } from "./adapters/passentry-http-client.js";
import { powertoolsLog } from "./adapters/powertools-log.js";
import { SecretsManagerSecretStore } from "./adapters/secrets-manager-secret-store.js";
import { SqsMessageQueue } from "./adapters/sqs-message-queue.js";
// Bundled into the Lambda: changing automations is a deploy, reviewed like code.
import automationsDocument from "../automations.json" with { type: "json" };

/** What the HTTP handlers need. */
export interface HttpDeps {
  accept: AcceptDeps;
  secrets: SecretStore;
  ledger: SendLedger;
  log: Log;
}

/** What the PassEntry webhook handler needs: the accept path, its secrets, and the declared automations. */
export interface PassEntryWebhookDeps {
  accept: AcceptDeps;
  secrets: SecretStore;
  log: Log;
  automations: readonly Automation[];
}

/** What the sender needs, less the per-invocation remaining time. */
export interface SenderDeps {
  send: Omit<SendDeps, "remainingMs">;
  log: Log;
}

/** What the promotion planner needs: the promotions of this deploy, and where to queue their sends. */
export interface PlannerDeps {
  plan: PlanDeps;
  promotions: readonly Promotion[];
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
      "webhook-signing-secrets": config.WEBHOOK_SIGNING_SECRETS_SECRET_ID,
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

export const awsPassEntryWebhookDeps = once((): PassEntryWebhookDeps => {
  const { accept, secrets, log } = awsHttpDeps();
  return { accept, secrets, log, automations: parseAutomations(automationsDocument) };
});

/**
 * The planner's dependencies. `loadPromotions` reads the promotions.json bundled into the planner's
 * own Lambda (its handler passes it in), so the other functions do not carry it.
 */
export function awsPlannerDeps(loadPromotions: () => readonly Promotion[]): () => PlannerDeps {
  return once((): PlannerDeps => {
    const { config, log, store } = awsBase();
    const queue = new SqsMessageQueue(config.MESSAGES_QUEUE_URL);
    return { plan: { store, queue, clock: systemClock, log }, promotions: loadPromotions(), log };
  });
}

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
      // Outcome events go to the WalletBus; follow-ups (send-now, tracking, cancel) wait on the sender's own queue.
      ...(config.EVENT_BUS_NAME ? { events: new EventBridgeEventPublisher(config.EVENT_BUS_NAME) } : {}),
      followUps: { queue: new SqsMessageQueue(config.MESSAGES_QUEUE_URL) },
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
