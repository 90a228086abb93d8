/** The status function's adapters: it only reads (store, ledger) and checks API keys, so it carries no queue client. */
import { DynamoDbRequestStore } from "../adapters/dynamodb-request-store.js";
import { DynamoDbSendLedger } from "../adapters/dynamodb-send-ledger.js";
import type { RequestStatusDeps } from "../handler-deps.js";
import { awsLog, awsTable, once } from "./aws-base.js";
import { awsSecrets } from "./aws-secrets.js";

export const awsRequestStatusDeps = once(
  (): RequestStatusDeps => ({
    store: new DynamoDbRequestStore(awsTable()),
    ledger: new DynamoDbSendLedger(awsTable()),
    secrets: awsSecrets(),
    log: awsLog(),
  }),
);
