/** The sender's adapters: store, ledger, secrets, PassEntry, the queue (follow-ups) and EventBridge (outcome events). */
import { randomUUID } from "node:crypto";
import { DynamoDbRequestStore } from "../adapters/dynamodb-request-store.js";
import { DynamoDbSendLedger } from "../adapters/dynamodb-send-ledger.js";
import { EventBridgeEventPublisher } from "../adapters/eventbridge-event-publisher.js";
import { PassEntryHttpClient } from "../adapters/passentry-http-client.js";
import { powertoolsUnknownOutcomeMetrics } from "../adapters/powertools-metrics.js";
import { SqsMessageQueue } from "../adapters/sqs-message-queue.js";
import { sleep } from "../core/pacer.js";
import { systemClock } from "../core/ports.js";
import type { SenderDeps } from "../wiring.js";
import { awsConfig, awsLog, awsTable, once } from "./aws-base.js";
import { awsSecrets } from "./aws-secrets.js";

export const awsSenderDeps = once((): SenderDeps => {
  const config = awsConfig();
  const log = awsLog();
  const secrets = awsSecrets();
  const passEntry = new PassEntryHttpClient({
    baseUrl: config.PASSENTRY_BASE_URL,
    secrets,
    timeoutMs: config.PASSENTRY_TIMEOUT_MS,
    ratePerSecond: config.PASSENTRY_RATE_PER_SECOND,
  });
  const queue = new SqsMessageQueue(config.MESSAGES_QUEUE_URL);
  // The `service` dimension comes from POWERTOOLS_SERVICE_NAME, which the infra sets.
  const metrics = powertoolsUnknownOutcomeMetrics({ stage: config.WALLET_STAGE });
  return {
    log,
    // Each record handed back asks for its own next attempt, rather than waiting out the queue's visibility timeout.
    retries: queue,
    send: {
      store: new DynamoDbRequestStore(awsTable()),
      ledger: new DynamoDbSendLedger(awsTable()),
      passEntry,
      clock: systemClock,
      log,
      owner: `lambda-${randomUUID()}`,
      leaseMs: config.SEND_LEASE_MS,
      // No PassEntry call starts unless its whole client timeout (and a margin) fits before Lambda's deadline.
      callBudgetMs: config.PASSENTRY_TIMEOUT_MS + 5_000,
      allowedBatchKeys: config.ALLOWED_BATCH_KEYS,
      shareBatches: config.SHARE_BATCHES,
      sleep,
      reconcileMaxPages: config.RECONCILE_MAX_PAGES,
      onUnknownOutcome: (key) => metrics.unknownOutcome(key),
      // Outcome events go to the WalletBus; follow-ups (send-now, tracking, cancel) wait on the sender's own queue.
      ...(config.EVENT_BUS_NAME ? { events: new EventBridgeEventPublisher(config.EVENT_BUS_NAME) } : {}),
      followUps: { queue },
    },
  };
});
