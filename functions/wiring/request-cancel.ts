/** The cancel function's adapters: store, ledger, the queue (for the sender's cancel follow-up) and secrets. */
import { DynamoDbRequestStore } from "../adapters/dynamodb-request-store.js";
import { DynamoDbSendLedger } from "../adapters/dynamodb-send-ledger.js";
import { SqsMessageQueue } from "../adapters/sqs-message-queue.js";
import { systemClock } from "../core/ports.js";
import type { RequestCancelDeps } from "../handler-deps.js";
import { awsConfig, awsLog, awsTable, once } from "./aws-base.js";
import { awsSecrets } from "./aws-secrets.js";

export const awsRequestCancelDeps = once(
  (): RequestCancelDeps => ({
    store: new DynamoDbRequestStore(awsTable()),
    ledger: new DynamoDbSendLedger(awsTable()),
    queue: new SqsMessageQueue(awsConfig().MESSAGES_QUEUE_URL),
    clock: systemClock,
    secrets: awsSecrets(),
    log: awsLog(),
  }),
);
