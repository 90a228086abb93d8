/** The accept function's adapters: request store, queue (SQS) and secrets. No ledger, no PassEntry. */
import { randomUUID } from "node:crypto";
import { DynamoDbRequestStore } from "../adapters/dynamodb-request-store.js";
import { SqsMessageQueue } from "../adapters/sqs-message-queue.js";
import type { AcceptDeps } from "../core/accept-request.js";
import { systemClock } from "../core/ports.js";
import type { AcceptHandlerDeps } from "../wiring.js";
import { awsConfig, awsLog, awsTable, once } from "./aws-base.js";
import { awsSecrets } from "./aws-secrets.js";

/** The accept path (store + queue), shared with the PassEntry webhook function's wiring. */
export const awsAcceptDeps = once((): AcceptDeps => ({
  store: new DynamoDbRequestStore(awsTable()),
  queue: new SqsMessageQueue(awsConfig().MESSAGES_QUEUE_URL),
  clock: systemClock,
  log: awsLog(),
  newRequestId: randomUUID,
  allowedBatchKeys: awsConfig().ALLOWED_BATCH_KEYS,
}));

export const awsAcceptHandlerDeps = once((): AcceptHandlerDeps => ({ accept: awsAcceptDeps(), secrets: awsSecrets(), log: awsLog() }));
