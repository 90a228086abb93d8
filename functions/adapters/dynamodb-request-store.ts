/**
 * The AWS home's request store, in the one DynamoDB table (pk/sk). A request is `REQ#<id>`/`REQ`;
 * an idempotency key is `IDEM#<key>`/`IDEM` pointing at its request. Both are written in one
 * transaction, each on condition that it does not exist yet, so a key can never name two requests.
 */
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { CreateRequestResult, RequestStore } from "../core/ports.js";
import { RequestRecord } from "../core/schemas.js";

export interface DynamoDbTableOptions {
  tableName: string;
  client?: DynamoDBClient;
  /** Records expire this many days after creation (DynamoDB TTL on `expiresAt`). Default 30. */
  retentionDays?: number;
}

export const requestKey = (requestId: string) => ({ pk: { S: `REQ#${requestId}` }, sk: { S: "REQ" } });
const idempotencyKey = (key: string) => ({ pk: { S: `IDEM#${key}` }, sk: { S: "IDEM" } });

export function expiresAt(fromIso: string, retentionDays: number) {
  return { N: String(Math.floor(Date.parse(fromIso) / 1000) + retentionDays * 86_400) };
}

export class DynamoDbRequestStore implements RequestStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly retentionDays: number;

  constructor(options: DynamoDbTableOptions) {
    this.client = options.client ?? new DynamoDBClient({});
    this.table = options.tableName;
    this.retentionDays = options.retentionDays ?? 30;
  }

  async create(record: RequestRecord): Promise<CreateRequestResult> {
    const item = this.requestItem(record);
    if (record.idempotencyKey === undefined) {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: item, ConditionExpression: "attribute_not_exists(pk)" }));
      return { created: true };
    }
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...idempotencyKey(record.idempotencyKey), requestId: { S: record.requestId }, expiresAt: item.expiresAt },
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
            { Put: { TableName: this.table, Item: item, ConditionExpression: "attribute_not_exists(pk)" } },
          ],
        }),
      );
      return { created: true };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reservation = await this.client.send(new GetItemCommand({ TableName: this.table, Key: idempotencyKey(record.idempotencyKey), ConsistentRead: true }));
      const existingId = reservation.Item?.requestId?.S;
      const existing = existingId ? await this.get(existingId) : undefined;
      if (!existing) throw error;
      return { created: false, existing };
    }
  }

  async ensure(record: RequestRecord): Promise<RequestRecord> {
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: this.requestItem(record), ConditionExpression: "attribute_not_exists(pk)" }));
      return record;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return (await this.get(record.requestId)) ?? record;
    }
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const answer = await this.client.send(new GetItemCommand({ TableName: this.table, Key: requestKey(requestId), ConsistentRead: true }));
    const json = answer.Item?.record?.S;
    return json ? RequestRecord.parse(JSON.parse(json)) : undefined;
  }

  async markEnqueued(requestId: string, at: string): Promise<void> {
    await this.update(requestId, (r) => {
      const { failureReason: _cleared, ...rest } = r;
      return { ...rest, enqueuedAt: at };
    });
  }

  async markFailed(requestId: string, reason: string): Promise<void> {
    await this.update(requestId, (r) => ({ ...r, failureReason: reason }));
  }

  /** Read-modify-write guarded by the record's previous text, so concurrent writers cannot overwrite each other. */
  private async update(requestId: string, change: (r: RequestRecord) => RequestRecord): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const answer = await this.client.send(new GetItemCommand({ TableName: this.table, Key: requestKey(requestId), ConsistentRead: true }));
      const before = answer.Item?.record?.S;
      if (!before) return;
      const after = JSON.stringify(change(RequestRecord.parse(JSON.parse(before))));
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: requestKey(requestId),
            UpdateExpression: "SET #record = :after",
            ConditionExpression: "#record = :before",
            ExpressionAttributeNames: { "#record": "record" },
            ExpressionAttributeValues: { ":after": { S: after }, ":before": { S: before } },
          }),
        );
        return;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    throw new Error(`Request ${requestId} kept changing while being updated.`);
  }

  private requestItem(record: RequestRecord) {
    return { ...requestKey(record.requestId), record: { S: JSON.stringify(record) }, expiresAt: expiresAt(record.createdAt, this.retentionDays) };
  }
}
