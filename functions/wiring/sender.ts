/** The sender's adapters: store, ledger, secrets, PassEntry, the queue (follow-ups) and EventBridge (outcome events). */
import { randomUUID } from "node:crypto";
import { DynamoDbRequestStore } from "../adapters/dynamodb-request-store.js";
import { DynamoDbSendLedger } from "../adapters/dynamodb-send-ledger.js";
import { EventBridgeEventPublisher } from "../adapters/eventbridge-event-publisher.js";
import { PassEntryHttpClient } from "../adapters/passentry-http-client.js";
import { powertoolsUnknownOutcomeMetrics } from "../adapters/powertools-metrics.js";
import { SqsMessageQueue } from "../adapters/sqs-message-queue.js";
import { composeSender } from "../composition.js";
import { senderSettings } from "../config.js";
import { sleep } from "../core/pacer.js";
import { systemClock } from "../core/ports.js";
import { awsConfig, awsLog, awsTable, once } from "./aws-base.js";
import { awsSecrets } from "./aws-secrets.js";

export const awsSenderDeps = once(() => {
  const config = awsConfig();
  const queue = new SqsMessageQueue(config.MESSAGES_QUEUE_URL);
  // The `service` dimension comes from POWERTOOLS_SERVICE_NAME, which the infra sets.
  const metrics = powertoolsUnknownOutcomeMetrics({ stage: config.WALLET_STAGE });
  return composeSender(
    {
      store: new DynamoDbRequestStore(awsTable()),
      ledger: new DynamoDbSendLedger(awsTable()),
      passEntry: new PassEntryHttpClient({
        baseUrl: config.PASSENTRY_BASE_URL,
        secrets: awsSecrets(),
        timeoutMs: config.PASSENTRY_TIMEOUT_MS,
        ratePerSecond: config.PASSENTRY_RATE_PER_SECOND,
      }),
      clock: systemClock,
      log: awsLog(),
      sleep,
      owner: `lambda-${randomUUID()}`,
      // Each record handed back asks for its own next attempt, rather than waiting out the queue's visibility timeout.
      retries: queue,
      // Outcome events go to the WalletBus; follow-ups (send-now, tracking, cancel) wait on the sender's own queue.
      ...(config.EVENT_BUS_NAME ? { events: new EventBridgeEventPublisher(config.EVENT_BUS_NAME) } : {}),
      followUpQueue: queue,
      onUnknownOutcome: (key) => metrics.unknownOutcome(key),
    },
    // No PassEntry call starts unless its whole client timeout (and a margin) fits before Lambda's deadline.
    senderSettings(config, "lambda"),
  );
});
