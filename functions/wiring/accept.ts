/** The accept function's adapters: request store, queue (SQS) and secrets. No ledger, no PassEntry. */
import { DynamoDbRequestStore } from "../adapters/dynamodb-request-store.js";
import { SqsMessageQueue } from "../adapters/sqs-message-queue.js";
import { type AcceptPorts, composeAccept } from "../composition.js";
import { systemClock } from "../core/ports.js";
import { awsConfig, awsLog, awsTable, once } from "./aws-base.js";
import { awsSecrets } from "./aws-secrets.js";

/** The accept path's ports, shared with the PassEntry webhook function's wiring. */
export const awsAcceptPorts = once(
  (): AcceptPorts => ({
    store: new DynamoDbRequestStore(awsTable()),
    queue: new SqsMessageQueue(awsConfig().MESSAGES_QUEUE_URL),
    clock: systemClock,
    log: awsLog(),
    secrets: awsSecrets(),
  }),
);

export const awsAcceptHandlerDeps = once(() =>
  composeAccept(awsAcceptPorts(), { allowedBatchKeys: awsConfig().ALLOWED_BATCH_KEYS }),
);
