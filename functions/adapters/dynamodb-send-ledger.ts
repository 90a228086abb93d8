/**
 * The AWS home's send ledger: one item per part, `REQ#<request id>`/`SEND#<chunk>`, beside its
 * request so one Query reads a request's parts. Every field of the entry is its own attribute, so a
 * move is an UpdateItem that SETs and REMOVEs only what changes, on condition that `version` is
 * still the one the state machine (core/send-state-machine.ts) decided on.
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import type { LedgerWrite, SendKey, SendLedger } from "../core/ports.js";
import { SendRecord } from "../core/schemas.js";
import { expiresAt, type DynamoDbTableOptions } from "./dynamodb-request-store.js";

const sendKey = (key: SendKey) => ({
  pk: { S: `REQ#${key.requestId}` },
  sk: { S: `SEND#${String(key.chunk).padStart(5, "0")}` },
});
/** Conditional writes in flight at once for `writeMany` (members of one shared batch). */
const PARALLEL_WRITES = 16;
/** Attributes of the item that are not fields of the entry. */
const ITEM_ONLY = new Set(["pk", "sk", "expiresAt"]);

export class DynamoDbSendLedger implements SendLedger {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly retentionDays: number;

  constructor(options: DynamoDbTableOptions) {
    this.client = options.client ?? new DynamoDBClient({});
    this.table = options.tableName;
    this.retentionDays = options.retentionDays ?? 30;
  }

  async get(key: SendKey): Promise<SendRecord | undefined> {
    const answer = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: sendKey(key), ConsistentRead: true }),
    );
    return answer.Item ? fromItem(answer.Item) : undefined;
  }

  /** BatchGetItem, 100 keys a call, consistent; keys DynamoDB leaves unprocessed are asked again. */
  async getMany(keys: readonly SendKey[]): Promise<(SendRecord | undefined)[]> {
    const found = new Map<string, SendRecord>();
    for (let start = 0; start < keys.length; start += 100) {
      let pending: Record<string, AttributeValue>[] | undefined = keys.slice(start, start + 100).map(sendKey);
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** round)));
        const answer: BatchGetItemCommandOutput = await this.client.send(
          new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const item of answer.Responses?.[this.table] ?? []) {
          const entry = fromItem(item);
          found.set(`${entry.requestId}#${entry.chunk}`, entry);
        }
        pending = answer.UnprocessedKeys?.[this.table]?.Keys;
        if (round >= 8 && pending && pending.length > 0)
          throw new Error(`DynamoDB left ${pending.length} ledger entries unread after ${round + 1} tries.`);
      }
    }
    return keys.map((key) => found.get(`${key.requestId}#${key.chunk}`));
  }

  async write(move: LedgerWrite): Promise<boolean> {
    return move.expectedVersion === undefined
      ? this.create(move.next)
      : this.update(move.key, move.expectedVersion, move.changes);
  }

  /** Parallel conditional writes (a transaction would fail all of them for one lost race), a few at a time. */
  async writeMany(moves: readonly LedgerWrite[]): Promise<boolean[]> {
    const written: boolean[] = new Array(moves.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < moves.length; i = next++) written[i] = await this.write(moves[i]!);
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_WRITES, moves.length) }, worker));
    return written;
  }

  private async create(entry: SendRecord): Promise<boolean> {
    const item: Record<string, AttributeValue> = {
      ...sendKey(entry),
      expiresAt: expiresAt(entry.updatedAt, this.retentionDays),
    };
    for (const [field, value] of Object.entries(SendRecord.parse(entry)))
      if (value !== undefined) item[field] = toAttribute(value);
    return this.conditional(
      new PutItemCommand({ TableName: this.table, Item: item, ConditionExpression: "attribute_not_exists(pk)" }),
    );
  }

  private async update(key: SendKey, expectedVersion: number, changes: Partial<SendRecord>): Promise<boolean> {
    const names: Record<string, string> = { "#version": "version" };
    const values: Record<string, AttributeValue> = { ":expected": { N: String(expectedVersion) } };
    const sets: string[] = [];
    const removes: string[] = [];
    Object.entries(changes).forEach(([field, value], i) => {
      names[`#f${i}`] = field;
      if (value === undefined) removes.push(`#f${i}`);
      else {
        values[`:v${i}`] = toAttribute(value);
        sets.push(`#f${i} = :v${i}`);
      }
    });
    const expression = [
      sets.length > 0 ? `SET ${sets.join(", ")}` : "",
      removes.length > 0 ? `REMOVE ${removes.join(", ")}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    if (expression === "") return true;
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: sendKey(key),
        UpdateExpression: expression,
        ConditionExpression: "#version = :expected",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async list(requestId: string): Promise<SendRecord[]> {
    const entries: SendRecord[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const answer = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :send)",
          ExpressionAttributeValues: { ":pk": { S: `REQ#${requestId}` }, ":send": { S: "SEND#" } },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      entries.push(...(answer.Items ?? []).map(fromItem));
      startKey = answer.LastEvaluatedKey;
    } while (startKey);
    return entries;
  }

  /** Sends a conditional write; false when its condition failed. */
  private async conditional(command: PutItemCommand | UpdateItemCommand): Promise<boolean> {
    try {
      await this.client.send(command as PutItemCommand);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function toAttribute(value: unknown): AttributeValue {
  if (value === null) return { NULL: true };
  if (typeof value === "string") return { S: value };
  if (typeof value === "number") return { N: String(value) };
  if (typeof value === "boolean") return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttribute) };
  throw new TypeError(`A send ledger field cannot hold ${typeof value}.`);
}

function fromAttribute(value: AttributeValue): unknown {
  if (value.NULL) return null;
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.L !== undefined) return value.L.map(fromAttribute);
  return undefined;
}

function fromItem(item: Record<string, AttributeValue>): SendRecord {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) if (!ITEM_ONLY.has(name)) fields[name] = fromAttribute(value);
  return SendRecord.parse(fields);
}
