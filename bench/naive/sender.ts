/**
 * Baseline "naive" sender: the same work per record as functions/handlers/sender.ts (parse the queue
 * body, read the PassEntry token, record the request, claim the send in DynamoDB, POST to PassEntry,
 * mark it sent, queue a follow-up that tracks the batch, publish the outcome on the bus) with SDK
 * clients, Logger and the classic `zod` import built at import time. No pacing and no
 * reconciliation: it does no more work than ours, only starts up differently.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Logger } from "@aws-lambda-powertools/logger";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { z } from "zod";
import { QueueMessage } from "./schema.js";

const logger = new Logger({ serviceName: "wallet-messaging" });
const dynamo = new DynamoDBClient({});
const secrets = new SecretsManagerClient({});
const sqs = new SQSClient({});
const events = new EventBridgeClient({});
const owner = `lambda-${randomUUID()}`;
const Created = z.looseObject({
  data: z.looseObject({ id: z.string(), attributes: z.looseObject({ status: z.string().nullish() }).optional() }),
});
let token: string | undefined;

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
  const table = process.env.WALLET_TABLE_NAME;
  for (const record of event.Records) {
    try {
      const message = QueueMessage.parse(JSON.parse(record.body));
      token ??=
        (await secrets.send(new GetSecretValueCommand({ SecretId: process.env.PASSENTRY_TOKEN_SECRET_ID })))
          .SecretString ?? "";
      const now = new Date().toISOString();
      await dynamo
        .send(
          new PutItemCommand({
            TableName: table,
            Item: { pk: { S: `REQ#${message.requestId}` }, sk: { S: "REQ" }, record: { S: JSON.stringify(message) } },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        )
        .catch(() => undefined);
      const Key = { pk: { S: `REQ#${message.requestId}` }, sk: { S: "SEND#00000" } };
      await dynamo.send(
        new PutItemCommand({
          TableName: table,
          Item: { ...Key, state: { S: "claimed" }, owner: { S: owner }, claimedAt: { S: now } },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      const response = await fetch(
        `${process.env.PASSENTRY_BASE_URL}/api/v1/entities/${encodeURIComponent(message.entityId)}/messaging/wallet`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ batch: { ...message.batch, name: `Wallet message [wm:${message.requestId}:0]` } }),
        },
      );
      if (!response.ok) throw new Error(`PassEntry answered ${response.status}`);
      const created = Created.parse(await response.json());
      await dynamo.send(new GetItemCommand({ TableName: table, Key, ConsistentRead: true }));
      await dynamo.send(
        new PutItemCommand({
          TableName: table,
          Item: { ...Key, state: { S: "sent" }, owner: { S: owner }, batchId: { S: created.data.id } },
        }),
      );
      const followUp = {
        kind: "track",
        requestId: message.requestId,
        entityId: message.entityId,
        chunk: 0,
        batchId: created.data.id,
        check: 1,
      };
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: process.env.MESSAGES_QUEUE_URL,
          MessageBody: JSON.stringify(followUp),
          DelaySeconds: 60,
        }),
      );
      await events.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: process.env.EVENT_BUS_NAME,
              Source: "wallet-messaging",
              DetailType: "WalletMessageSubmitted",
              Detail: JSON.stringify({ requestId: message.requestId, batchId: created.data.id }),
            },
          ],
        }),
      );
      logger.info("request submitted", { requestId: message.requestId, batchId: created.data.id });
    } catch (error) {
      logger.error("send failed", { error: (error as Error).message });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
