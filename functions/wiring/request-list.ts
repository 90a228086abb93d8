/** The list function's adapters: it pages the request store and checks API keys; no ledger, no queue. */
import { DynamoDbRequestStore } from "../adapters/dynamodb-request-store.js";
import type { RequestListDeps } from "../handler-deps.js";
import { awsLog, awsTable, once } from "./aws-base.js";
import { awsSecrets } from "./aws-secrets.js";

export const awsRequestListDeps = once(
  (): RequestListDeps => ({
    store: new DynamoDbRequestStore(awsTable()),
    secrets: awsSecrets(),
    log: awsLog(),
  }),
);
