/**
 * Baseline "naive" accept handler: the same work as functions/handlers/accept.ts (read the API keys
 * secret, check the key, validate the body, store the request, send to SQS, mark it queued), written
 * the way most Lambda examples are: SDK clients and Powertools Logger built at import time, the
 * classic `zod` import, and no secret cache library. It exists only to be measured against.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { TriggerBody } from "./schema.js";

const logger = new Logger({ serviceName: "wallet-messaging" });
const dynamo = new DynamoDBClient({});
const sqs = new SQSClient({});
const secrets = new SecretsManagerClient({});
let apiKeys: Record<string, string> | undefined;

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  apiKeys ??= JSON.parse(
    (await secrets.send(new GetSecretValueCommand({ SecretId: process.env.API_KEYS_SECRET_ID }))).SecretString ?? "{}",
  ) as Record<string, string>;
  const offered = (event.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
  const keyName = Object.entries(apiKeys).find(([, key]) => key === offered)?.[0];
  if (!keyName) return { statusCode: 401, body: JSON.stringify({ errors: ["The API key is not valid."] }) };
  const parsed = TriggerBody.safeParse(JSON.parse(event.body ?? "{}"));
  if (!parsed.success)
    return { statusCode: 422, body: JSON.stringify({ errors: parsed.error.issues.map((i) => i.message) }) };
  const requestId = randomUUID();
  const entityId = event.pathParameters?.entityId ?? "";
  const record = {
    requestId,
    entityId,
    source: "http",
    createdAt: new Date().toISOString(),
    apiKeyName: keyName,
    batch: parsed.data.batch,
  };
  const Key = { pk: { S: `REQ#${requestId}` }, sk: { S: "REQ" } };
  const table = process.env.WALLET_TABLE_NAME;
  await dynamo.send(
    new PutItemCommand({
      TableName: table,
      Item: { ...Key, record: { S: JSON.stringify(record) } },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: process.env.MESSAGES_QUEUE_URL,
      MessageBody: JSON.stringify({ requestId, entityId, batch: record.batch, source: "http" }),
    }),
  );
  const before =
    (await dynamo.send(new GetItemCommand({ TableName: table, Key, ConsistentRead: true }))).Item?.record?.S ?? "{}";
  const after = JSON.stringify({ ...JSON.parse(before), enqueuedAt: new Date().toISOString() });
  await dynamo.send(
    new UpdateItemCommand({
      TableName: table,
      Key,
      UpdateExpression: "SET #record = :after",
      ConditionExpression: "#record = :before",
      ExpressionAttributeNames: { "#record": "record" },
      ExpressionAttributeValues: { ":after": { S: after }, ":before": { S: before } },
    }),
  );
  logger.info("request queued", { requestId });
  return {
    statusCode: 202,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ data: { id: requestId, type: "walletMessageRequest" } }),
  };
};
