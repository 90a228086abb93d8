/**
 * The AWS home's request store, in the one DynamoDB table (pk/sk). A request is `REQ#<id>`/`REQ`;
 * an idempotency key is `IDEM#<caller>#<key>`/`IDEM#<caller>`, pointing at its request: keys are
 * scoped per caller, so two callers' equal keys are two items. Both are written in one transaction,
 * each on condition that it does not exist yet, so a key can never name two of a caller's requests.
 *
 * Versions before per-caller keys wrote `IDEM#<key>`/`IDEM`. Those items are never written again
 * and expire with their requests (RECORD_RETENTION_DAYS); until then a create reads the legacy item
 * first, so a caller retrying across the upgrade still gets its first request back.
 */
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { legacyKeyOwners } from "../core/callers.js";
import type {
  CreateRequestResult,
  ListPosition,
  RecentRequestsPage,
  RecentRequestsQuery,
  RequestStore,
} from "../core/ports.js";
import { REQUEST_CALLER_INDEX, REQUEST_LIST_INDEX } from "./dynamodb-table-shape.js";
import { RequestRecord, type CallerId } from "../core/schemas.js";

export interface DynamoDbTableOptions {
  tableName: string;
  client?: DynamoDBClient;
  /** Records expire this many days after creation (DynamoDB TTL on `expiresAt`). Default 30. */
  retentionDays?: number;
}

export const requestKey = (requestId: string) => ({ pk: { S: `REQ#${requestId}` }, sk: { S: "REQ" } });
/** Where a request sits in the ByCreatedAt index (infra/manifest.ts `table.listIndex`): newest first by creation. */
const LIST_PARTITION = "REQ";
export const listKey = (position: ListPosition) => ({
  [REQUEST_LIST_INDEX.hashKey]: { S: LIST_PARTITION },
  [REQUEST_LIST_INDEX.rangeKey]: { S: `${position.createdAt}#${position.requestId}` },
});
/** Where a request sits in the ByCaller index: among its caller's own, newest first (no caller: not there). */
const callerListKey = (record: Pick<RequestRecord, "caller">): Record<string, { S: string }> =>
  record.caller === undefined ? {} : { [REQUEST_CALLER_INDEX.hashKey]: { S: record.caller } };
/** A caller id holds no `#` (CALLER_NAME), so the first `#` after it ends the scope. */
export const idempotencyItemKey = (caller: CallerId | undefined, key: string) => ({
  pk: { S: `IDEM#${caller ?? ""}#${key}` },
  sk: { S: `IDEM#${caller ?? ""}` },
});
const legacyIdempotencyItemKey = (key: string) => ({ pk: { S: `IDEM#${key}` }, sk: { S: "IDEM" } });

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
      await this.client.send(
        new PutItemCommand({ TableName: this.table, Item: item, ConditionExpression: "attribute_not_exists(pk)" }),
      );
      return { created: true };
    }
    const legacy = await this.reserved(legacyIdempotencyItemKey(record.idempotencyKey));
    if (legacy && record.caller !== undefined && legacyKeyOwners(legacy).includes(record.caller))
      return { created: false, existing: legacy };
    const reservation = idempotencyItemKey(record.caller, record.idempotencyKey);
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...reservation, requestId: { S: record.requestId }, expiresAt: item.expiresAt },
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
      const existing = await this.reserved(reservation);
      if (!existing) throw error;
      return { created: false, existing };
    }
  }

  /** The request an idempotency-key item points at, if both exist. */
  private async reserved(key: ReturnType<typeof legacyIdempotencyItemKey>): Promise<RequestRecord | undefined> {
    const reservation = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: key, ConsistentRead: true }),
    );
    const existingId = reservation.Item?.requestId?.S;
    return existingId ? this.get(existingId) : undefined;
  }

  async ensure(record: RequestRecord): Promise<RequestRecord> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: this.requestItem(record),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return record;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return (await this.get(record.requestId)) ?? record;
    }
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const answer = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: requestKey(requestId), ConsistentRead: true }),
    );
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

  async markCancelled(requestId: string, by: CallerId, at: string): Promise<RequestRecord | undefined> {
    return this.update(requestId, (r) =>
      r.cancelledBy === undefined ? { ...r, cancelledBy: by, cancelledAt: at } : r,
    );
  }

  async listRecent(query: RecentRequestsQuery): Promise<RecentRequestsPage> {
    const records: RequestRecord[] = [];
    const index = query.owner === undefined ? REQUEST_LIST_INDEX : REQUEST_CALLER_INDEX;
    const partition = query.owner ?? LIST_PARTITION;
    let start: Record<string, { S: string }> | undefined = query.after
      ? {
          ...requestKey(query.after.requestId),
          [index.hashKey]: { S: partition },
          [index.rangeKey]: listKey(query.after)[index.rangeKey]!,
        }
      : undefined;
    let examined = 0;
    let last: ListPosition | undefined;
    while (examined < query.maxExamined) {
      const answer = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: index.name,
          KeyConditionExpression: query.since ? "#lp = :lp AND #ls >= :since" : "#lp = :lp",
          ExpressionAttributeNames: { "#lp": index.hashKey, ...(query.since ? { "#ls": index.rangeKey } : {}) },
          ExpressionAttributeValues: {
            ":lp": { S: partition },
            ...(query.since ? { ":since": { S: query.since } } : {}),
          },
          ScanIndexForward: false,
          Limit: Math.min(100, query.maxExamined - examined),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      const items = answer.Items ?? [];
      for (const [i, item] of items.entries()) {
        examined++;
        const parsed = RequestRecord.safeParse(JSON.parse(item.record?.S ?? "null"));
        const sortKey = item[index.rangeKey]?.S ?? "";
        last = {
          createdAt: sortKey.slice(0, sortKey.indexOf("#")),
          requestId: sortKey.slice(sortKey.indexOf("#") + 1),
        };
        if (parsed.success && query.accept(parsed.data)) records.push(parsed.data);
        if (records.length === query.limit) {
          const more = i < items.length - 1 || answer.LastEvaluatedKey !== undefined;
          return more ? { records, next: last } : { records };
        }
      }
      if (!answer.LastEvaluatedKey) return { records };
      start = answer.LastEvaluatedKey as Record<string, { S: string }>;
    }
    return last ? { records, next: last } : { records };
  }

  /** Read-modify-write guarded by the record's previous text, so concurrent writers cannot overwrite each other. */
  async update(requestId: string, change: (r: RequestRecord) => RequestRecord): Promise<RequestRecord | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const answer = await this.client.send(
        new GetItemCommand({ TableName: this.table, Key: requestKey(requestId), ConsistentRead: true }),
      );
      const before = answer.Item?.record?.S;
      if (!before) return undefined;
      const current = RequestRecord.parse(JSON.parse(before));
      const next = change(current);
      if (next === current) return current;
      const after = JSON.stringify(next);
      const list = listKey(next);
      const owner = callerListKey(next)[REQUEST_CALLER_INDEX.hashKey];
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: requestKey(requestId),
            // The list keys too: a request stored before an index existed joins its list at its next change.
            UpdateExpression: `SET #record = :after, #listPk = :listPk, #listSk = :listSk${owner ? ", #callerPk = :callerPk" : ""}`,
            ConditionExpression: "#record = :before",
            ExpressionAttributeNames: {
              "#record": "record",
              "#listPk": REQUEST_LIST_INDEX.hashKey,
              "#listSk": REQUEST_LIST_INDEX.rangeKey,
              ...(owner ? { "#callerPk": REQUEST_CALLER_INDEX.hashKey } : {}),
            },
            ExpressionAttributeValues: {
              ":after": { S: after },
              ":before": { S: before },
              ":listPk": list[REQUEST_LIST_INDEX.hashKey]!,
              ":listSk": list[REQUEST_LIST_INDEX.rangeKey]!,
              ...(owner ? { ":callerPk": owner } : {}),
            },
          }),
        );
        return next;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    throw new Error(`Request ${requestId} kept changing while being updated.`);
  }

  private requestItem(record: RequestRecord) {
    return {
      ...requestKey(record.requestId),
      ...listKey(record),
      ...callerListKey(record),
      record: { S: JSON.stringify(record) },
      expiresAt: expiresAt(record.createdAt, this.retentionDays),
    };
  }
}
