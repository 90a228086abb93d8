/**
 * What every AWS function's wiring shares: the validated configuration, the logger and the
 * DynamoDB table, each built once per cold start. Each function's own module in this folder adds
 * only the adapters that function calls, so its bundle carries no other SDK client.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Context } from "aws-lambda";
import type { DynamoDbTableOptions } from "../adapters/dynamodb-request-store.js";
import type { Logger } from "@aws-lambda-powertools/logger";
import { powertoolsLog } from "../adapters/powertools-log.js";
import { loadAwsConfig, type AwsConfig } from "../config.js";
import type { Log } from "../core/ports.js";

/** Builds on first call, then answers the same value: once per cold start. */
export function once<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

export const awsConfig = once((): AwsConfig => loadAwsConfig());

export const awsLog = once((): Log & { logger: Logger } => powertoolsLog());

/**
 * The exported Lambda handler: hands each invocation's context to the Powertools Logger first, so
 * every line the invocation logs carries its request id (`function_request_id`), cold start flag
 * and function name, then runs the handler.
 *
 * @example
 *   export const handler = withLambdaContext(makeAcceptHandler(awsAcceptHandlerDeps));
 */
export function withLambdaContext<E, R>(
  handler: (event: E, context?: Context) => Promise<R>,
): (event: E, context: Context) => Promise<R> {
  return (event, context) => {
    awsLog().logger.addContext(context);
    return handler(event, context);
  };
}

/** The one DynamoDB table (requests and send ledger), shared by the store and the ledger. */
export const awsTable = once((): DynamoDbTableOptions & { retentionDays: number } => {
  const config = awsConfig();
  return {
    tableName: config.WALLET_TABLE_NAME,
    client: new DynamoDBClient({}),
    retentionDays: config.RECORD_RETENTION_DAYS,
  };
});
