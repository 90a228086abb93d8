/**
 * Baseline "naive" request-status handler: the same work as functions/handlers/request-status.ts
 * (API keys secret, key check, read the request, query its sends) with clients, Logger and the
 * classic `zod` import at module scope. Measured against, never deployed.
 */
import { DynamoDBClient, GetItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { z } from "zod";
import { TriggerBody } from "./schema.js";

const logger = new Logger({ serviceName: "wallet-messaging" });
const dynamo = new DynamoDBClient({});
const secrets = new SecretsManagerClient({});
const RequestRecord = z.object({
  requestId: z.string(),
  entityId: z.string(),
  createdAt: z.string(),
  batch: TriggerBody.shape.batch,
});
const SendRecord = z.looseObject({ chunk: z.number(), state: z.string(), batchId: z.string().optional() });
let apiKeys: Record<string, string> | undefined;

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  apiKeys ??= JSON.parse(
    (await secrets.send(new GetSecretValueCommand({ SecretId: process.env.API_KEYS_SECRET_ID }))).SecretString ?? "{}",
  ) as Record<string, string>;
  const offered = (event.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
  if (!Object.values(apiKeys).includes(offered))
    return { statusCode: 401, body: JSON.stringify({ errors: ["The API key is not valid."] }) };
  const requestId = event.pathParameters?.requestId ?? "";
  const table = process.env.WALLET_TABLE_NAME;
  const item = (
    await dynamo.send(
      new GetItemCommand({
        TableName: table,
        Key: { pk: { S: `REQ#${requestId}` }, sk: { S: "REQ" } },
        ConsistentRead: true,
      }),
    )
  ).Item;
  if (!item?.record?.S) return { statusCode: 404, body: JSON.stringify({ errors: ["Not found."] }) };
  const request = RequestRecord.parse(JSON.parse(item.record.S));
  const sends =
    (
      await dynamo.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :send)",
          ExpressionAttributeValues: { ":pk": { S: `REQ#${requestId}` }, ":send": { S: "SEND#" } },
          ConsistentRead: true,
        }),
      )
    ).Items?.map((i) => SendRecord.parse({ chunk: Number(i.chunk?.N), state: i.state?.S, batchId: i.batchId?.S })) ??
    [];
  logger.info("request read", { requestId });
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ data: { id: request.requestId, attributes: { sends } } }),
  };
};
