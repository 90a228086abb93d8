/**
 * An in-process DynamoDB for adapter tests: dynalite on a loopback port, one fresh table per harness
 * with the project's key schema (pk HASH, sk RANGE) and its request-list index.
 *
 * dynalite 4 does not implement TransactWriteItems, which DynamoDbRequestStore needs for its
 * idempotency reservation. Clients made here therefore emulate it: every transaction runs under an
 * exclusive lock that ordinary commands share, its Puts are applied one by one with their own
 * conditions (dynalite evaluates them) and rolled back if one fails, and a failure surfaces as the
 * SDK's TransactionCanceledException, as DynamoDB answers. Nothing observes a half-applied transaction.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type CancellationReason,
  type TransactWriteItemsCommandInput,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { REQUEST_CALLER_INDEX, REQUEST_LIST_INDEX } from "../../../functions/adapters/dynamodb-table-shape.js";

export interface LocalDynamoDb {
  endpoint: string;
  /** Creates an empty table shaped like the project's one and returns its name. */
  createTable(): Promise<string>;
  /** A client for this server that also understands TransactWriteItems (see above). */
  client(options?: { beforeSend?: (commandName: string, input: unknown) => Promise<void> }): DynamoDBClient;
  close(): Promise<void>;
}

export async function startLocalDynamoDb(): Promise<LocalDynamoDb> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const lock = new SharedExclusiveLock();
  const clients: DynamoDBClient[] = [];
  const plainClient = () => {
    const client = new DynamoDBClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });
    clients.push(client);
    return client;
  };
  const admin = plainClient();
  const raw = plainClient();

  return {
    endpoint,
    async createTable() {
      const tableName = `wallet-test-${randomUUID()}`;
      await admin.send(
        new CreateTableCommand({
          TableName: tableName,
          AttributeDefinitions: [
            { AttributeName: "pk", AttributeType: "S" },
            { AttributeName: "sk", AttributeType: "S" },
            { AttributeName: REQUEST_LIST_INDEX.hashKey, AttributeType: "S" },
            { AttributeName: REQUEST_LIST_INDEX.rangeKey, AttributeType: "S" },
            { AttributeName: REQUEST_CALLER_INDEX.hashKey, AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: "pk", KeyType: "HASH" },
            { AttributeName: "sk", KeyType: "RANGE" },
          ],
          // The deployed table's list indexes (infra/ledger.ts builds them from the same constants).
          GlobalSecondaryIndexes: [
            {
              IndexName: REQUEST_CALLER_INDEX.name,
              KeySchema: [
                { AttributeName: REQUEST_CALLER_INDEX.hashKey, KeyType: "HASH" },
                { AttributeName: REQUEST_CALLER_INDEX.rangeKey, KeyType: "RANGE" },
              ],
              Projection: { ProjectionType: "ALL" },
            },
            {
              IndexName: REQUEST_LIST_INDEX.name,
              KeySchema: [
                { AttributeName: REQUEST_LIST_INDEX.hashKey, KeyType: "HASH" },
                { AttributeName: REQUEST_LIST_INDEX.rangeKey, KeyType: "RANGE" },
              ],
              Projection: { ProjectionType: "ALL" },
            },
          ],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
      for (let i = 0; i < 200; i++) {
        const described = await admin.send(new DescribeTableCommand({ TableName: tableName }));
        if (described.Table?.TableStatus === "ACTIVE") return tableName;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      throw new Error(`Table ${tableName} did not become ACTIVE.`);
    },
    client(options = {}) {
      const client = plainClient();
      client.middlewareStack.add(
        (next, context) => async (args) => {
          await options.beforeSend?.(context.commandName ?? "", args.input);
          if (context.commandName === "TransactWriteItemsCommand") {
            await lock.exclusive(() => emulateTransactWrite(raw, args.input as TransactWriteItemsCommandInput));
            return { output: { $metadata: {} }, response: {} } as never;
          }
          return lock.shared(() => next(args));
        },
        { step: "initialize", name: "dynaliteTransactWriteItems" },
      );
      return client;
    },
    async close() {
      for (const client of clients) client.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error?: Error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** The key attributes of an item in a table: the project's tables are keyed `pk` + `sk`. */
export type KeyOf = (tableName: string, item: Record<string, any>) => Record<string, any>;
const projectKey: KeyOf = (_table, item) => ({ pk: item.pk, sk: item.sk });

/**
 * Applies the Puts of a TransactWriteItems all-or-nothing (the caller holds the exclusive lock).
 * `keyOf` names each table's key attributes (default: the project's `pk` + `sk`).
 */
export async function emulateTransactWrite(
  client: DynamoDBClient,
  input: TransactWriteItemsCommandInput,
  keyOf: KeyOf = projectKey,
): Promise<void> {
  const items = input.TransactItems ?? [];
  const applied: { tableName: string; key: Record<string, any>; before: Record<string, any> | undefined }[] = [];
  for (const [index, item] of items.entries()) {
    const put = item.Put;
    if (!put || item.Update || item.Delete || item.ConditionCheck) {
      throw new Error("The dynalite transaction shim supports Put items only.");
    }
    const key = keyOf(put.TableName!, put.Item!);
    const before = (await client.send(new GetItemCommand({ TableName: put.TableName, Key: key, ConsistentRead: true })))
      .Item;
    try {
      await client.send(
        new PutItemCommand({
          TableName: put.TableName,
          Item: put.Item,
          ConditionExpression: put.ConditionExpression,
          ExpressionAttributeNames: put.ExpressionAttributeNames,
          ExpressionAttributeValues: put.ExpressionAttributeValues,
        }),
      );
      applied.push({ tableName: put.TableName!, key, before });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      for (const undo of applied.reverse()) {
        if (undo.before) await client.send(new PutItemCommand({ TableName: undo.tableName, Item: undo.before }));
        else await client.send(new DeleteItemCommand({ TableName: undo.tableName, Key: undo.key }));
      }
      const reasons: CancellationReason[] = items.map((_, i) =>
        i === index ? { Code: "ConditionalCheckFailed", Message: "The conditional request failed" } : { Code: "None" },
      );
      throw new TransactionCanceledException({
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(", ")}]`,
        $metadata: {},
        CancellationReasons: reasons,
      });
    }
  }
}

/** Many shared holders at once, or one exclusive holder. Waiters are served in arrival order. */
export class SharedExclusiveLock {
  private sharedHolders = 0;
  private exclusiveHeld = false;
  private readonly waiters: { exclusive: boolean; wake: () => void }[] = [];

  async shared<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await work();
    } finally {
      this.sharedHolders--;
      this.dispatch();
    }
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await work();
    } finally {
      this.exclusiveHeld = false;
      this.dispatch();
    }
  }

  private acquire(exclusive: boolean): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push({ exclusive, wake: resolve });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.waiters.length > 0 && !this.exclusiveHeld) {
      const next = this.waiters[0]!;
      if (next.exclusive) {
        if (this.sharedHolders > 0) return;
        this.exclusiveHeld = true;
      } else {
        this.sharedHolders++;
      }
      this.waiters.shift();
      next.wake();
    }
  }
}
