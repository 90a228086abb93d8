/**
 * DynamoDB for the rehearsal: dynalite (an in-process DynamoDB) holding one table per synthesized
 * table, created with the synthesized key schema and indexes, so an adapter that writes keys the
 * table does not have meets the error AWS would answer.
 *
 * Two gaps of dynalite 4, and what the stand-in does about them:
 * - TransactWriteItems: not implemented. The stand-in applies the transaction's Puts under an
 *   exclusive lock (every other request holds it shared), each with its own condition, rolling
 *   back on a failed condition and answering TransactionCanceledException as DynamoDB does
 *   (test/adapters/support/local-dynamodb.ts). A transaction with Update, Delete or ConditionCheck
 *   items is answered with an error that names the gap, failing the rehearsal loudly.
 * - Time to live: not implemented; the TTL attribute is recorded on the view only (nothing expires
 *   within a rehearsal anyway).
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  TransactionCanceledException,
  type TransactWriteItemsCommandInput,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TableView } from "../../../infra/synthesis/stack-model.js";
import { emulateTransactWrite, SharedExclusiveLock } from "../../../adapters/support/local-dynamodb.js";

export class DynamoDbStandIn {
  private readonly lock = new SharedExclusiveLock();

  private constructor(
    private readonly server: Server,
    private readonly endpoint: string,
    private readonly client: DynamoDBClient,
    readonly tables: TableView[],
  ) {}

  static async start(tables: TableView[], region: string): Promise<DynamoDbStandIn> {
    const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new DynamoDBClient({
      endpoint,
      region,
      credentials: { accessKeyId: "standin", secretAccessKey: "standin" },
      maxAttempts: 1,
    });
    const standIn = new DynamoDbStandIn(server, endpoint, client, tables);
    for (const table of tables) await standIn.create(table);
    return standIn;
  }

  private async create(table: TableView): Promise<void> {
    const projection = (type?: string) => ({ ProjectionType: (type ?? "ALL") as "ALL" | "KEYS_ONLY" | "INCLUDE" });
    await this.client.send(
      new CreateTableCommand({
        TableName: table.name,
        AttributeDefinitions: table.attributes.map((a) => ({
          AttributeName: a.name,
          AttributeType: a.type as "S" | "N" | "B",
        })),
        KeySchema: [
          { AttributeName: table.hashKey, KeyType: "HASH" },
          ...(table.rangeKey ? [{ AttributeName: table.rangeKey, KeyType: "RANGE" as const }] : []),
        ],
        BillingMode: "PAY_PER_REQUEST",
        ...(table.globalSecondaryIndexes.length > 0
          ? {
              GlobalSecondaryIndexes: table.globalSecondaryIndexes.map((i) => ({
                IndexName: i.name,
                KeySchema: [
                  { AttributeName: i.hashKey, KeyType: "HASH" as const },
                  ...(i.rangeKey ? [{ AttributeName: i.rangeKey, KeyType: "RANGE" as const }] : []),
                ],
                Projection: projection(i.projectionType),
              })),
            }
          : {}),
        ...(table.localSecondaryIndexes.length > 0
          ? {
              LocalSecondaryIndexes: table.localSecondaryIndexes.map((i) => ({
                IndexName: i.name,
                KeySchema: [
                  { AttributeName: table.hashKey, KeyType: "HASH" as const },
                  { AttributeName: i.rangeKey, KeyType: "RANGE" as const },
                ],
                Projection: projection(i.projectionType),
              })),
            }
          : {}),
      }),
    );
    for (let i = 0; i < 200; i++) {
      const described = await this.client.send(new DescribeTableCommand({ TableName: table.name }));
      if (described.Table?.TableStatus === "ACTIVE") return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`Table ${table.name} did not become ACTIVE in dynalite.`);
  }

  /** Forwards one SDK request (JSON protocol) to dynalite, or emulates it where dynalite cannot. */
  async forward(
    operation: string,
    rawBody: string,
    headers: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    if (operation === "TransactWriteItems")
      return this.lock.exclusive(() => this.transactWrite(JSON.parse(rawBody) as TransactWriteItemsCommandInput));
    return this.lock.shared(async () => {
      const response = await fetch(this.endpoint, { method: "POST", headers, body: rawBody });
      const out: Record<string, string> = {};
      response.headers.forEach((value, key) => {
        if (key !== "content-length" && key !== "transfer-encoding" && key !== "connection") out[key] = value;
      });
      return { status: response.status, headers: out, body: await response.text() };
    });
  }

  private async transactWrite(input: TransactWriteItemsCommandInput) {
    const json = (status: number, body: unknown) => ({
      status,
      headers: { "content-type": "application/x-amz-json-1.0" },
      body: JSON.stringify(body),
    });
    const keyOf = (tableName: string, item: Record<string, any>) => {
      const table = this.tables.find((t) => t.name === tableName);
      if (!table) throw Object.assign(new Error("Requested resource not found"), { name: "ResourceNotFoundException" });
      return Object.fromEntries(
        [table.hashKey, table.rangeKey].filter((k): k is string => Boolean(k)).map((k) => [k, item[k]]),
      );
    };
    try {
      await emulateTransactWrite(this.client, input, keyOf);
      return json(200, {});
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        return json(400, {
          __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
          message: error.message,
          CancellationReasons: error.CancellationReasons,
        });
      }
      const e = error as Error & { name: string };
      return json(400, {
        __type: `com.amazonaws.dynamodb.v20120810#${e.name === "Error" ? "ValidationException" : e.name}`,
        message: e.message,
      });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    await new Promise<void>((resolve, reject) =>
      this.server.close((error?: Error) => (error ? reject(error) : resolve())),
    );
  }
}
