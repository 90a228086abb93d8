/**
 * The console function's adapters: the request store and ledger (its pages read them; cancel writes
 * the ledger), the queue (a cancel's follow-up, and its counts) and the dead-letter queue (list,
 * redrive). It never calls PassEntry and holds no token. promotions.json and automations.json are
 * bundled, as the planner and the webhook function bundle them, so the pages show this deploy's.
 */
import { DynamoDbRequestStore } from "../adapters/dynamodb-request-store.js";
import { DynamoDbSendLedger } from "../adapters/dynamodb-send-ledger.js";
import { SqsDeadLetterQueue } from "../adapters/sqs-dead-letter-queue.js";
import { SqsMessageQueue } from "../adapters/sqs-message-queue.js";
import { SqsQueueStats } from "../adapters/sqs-queue-stats.js";
import { parseAutomations } from "../core/automations.js";
import { systemClock } from "../core/ports.js";
import { parsePromotionsFile } from "../core/promotions.js";
import type { ConsoleDeps } from "../handler-deps.js";
import { awsConfig, awsLog, awsTable, once } from "./aws-base.js";
import { awsSecrets } from "./aws-secrets.js";
import automationsDocument from "../../automations.json" with { type: "json" };
import promotionsDocument from "../../promotions.json" with { type: "json" };

export const awsConsoleDeps = once((): ConsoleDeps => {
  const config = awsConfig();
  const deadLetterQueueUrl = config.DEAD_LETTER_QUEUE_URL ?? "";
  const stats = new SqsQueueStats(config.MESSAGES_QUEUE_URL, deadLetterQueueUrl);
  return {
    store: new DynamoDbRequestStore(awsTable()),
    ledger: new DynamoDbSendLedger(awsTable()),
    secrets: awsSecrets(),
    log: awsLog(),
    clock: systemClock,
    queue: new SqsMessageQueue(config.MESSAGES_QUEUE_URL),
    queueStats: () => stats.read(),
    deadLetters: new SqsDeadLetterQueue(deadLetterQueueUrl, config.MESSAGES_QUEUE_URL),
    promotions: parsePromotionsFile(promotionsDocument),
    automations: parseAutomations(automationsDocument),
    secureCookies: true,
  };
});
