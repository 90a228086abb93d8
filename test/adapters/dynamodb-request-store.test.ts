/**
 * The DynamoDB request store: a retry across the key-space upgrade answers the first request and meets
 * no other caller's, and a throttled or cancelled write rejects rather than answering created.
 */
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDbRequestStore, requestKey } from "../../functions/adapters/dynamodb-request-store.js";
import type { RequestRecord } from "../../functions/core/schemas.js";
import { describeRequestStoreContract, requestRecord } from "./request-store-contract.js";
import { startLocalDynamoDb, type LocalDynamoDb } from "./support/local-dynamodb.js";

let dynamo: LocalDynamoDb;

beforeAll(async () => {
  dynamo = await startLocalDynamoDb();
});

afterAll(async () => {
  await dynamo.close();
});

describeRequestStoreContract("DynamoDbRequestStore on dynalite", async () => ({
  store: new DynamoDbRequestStore({ tableName: await dynamo.createTable(), client: dynamo.client() }),
  close: async () => {},
}));

describe("DynamoDbRequestStore with items an earlier version wrote (one global key space)", () => {
  let client: DynamoDBClient;
  let store: DynamoDbRequestStore;
  let tableName: string;
  beforeEach(async () => {
    tableName = await dynamo.createTable();
    client = dynamo.client();
    store = new DynamoDbRequestStore({ tableName, client });
  });

  /** What the version before per-caller keys stored: the request, and `IDEM#<key>`/`IDEM` pointing at it. */
  async function legacyRequest(record: RequestRecord) {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { ...requestKey(record.requestId), record: { S: JSON.stringify(record) } },
      }),
    );
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: `IDEM#${record.idempotencyKey}` }, sk: { S: "IDEM" }, requestId: { S: record.requestId } },
      }),
    );
  }

  it("answers a retry across the upgrade with the first request, to the key or the signer of the recorded name", async () => {
    // Prepare
    const old = requestRecord({ idempotencyKey: "order-1", apiKeyName: "crm", fingerprint: "f" });
    await legacyRequest(old);

    // Act
    const byKey = await store.create(requestRecord({ idempotencyKey: "order-1", caller: "key:crm", fingerprint: "f" }));
    const bySigner = await store.create(
      requestRecord({ idempotencyKey: "order-1", caller: "signer:crm", fingerprint: "f" }),
    );

    // Assess
    expect(byKey).toEqual({ created: false, existing: old });
    expect(bySigner).toEqual({ created: false, existing: old });
  });

  it("does not let another caller meet an old key, and does not lose an automation's old request", async () => {
    // Prepare
    const old = requestRecord({ idempotencyKey: "order-2", apiKeyName: "crm" });
    const automation = requestRecord({
      requestId: "auto-welcome-evt-1",
      source: "webhook",
      idempotencyKey: "auto-welcome-evt-1",
    });
    await legacyRequest(old);
    await legacyRequest(automation);
    const shops = requestRecord({ idempotencyKey: "order-2", caller: "key:shop" });

    // Act
    const shop = await store.create(shops);
    const retried = await store.create(
      requestRecord({
        requestId: "auto-welcome-evt-1",
        source: "webhook",
        idempotencyKey: "auto-welcome-evt-1",
        caller: "automation:welcome",
      }),
    );

    // Assess
    expect(shop).toEqual({ created: true });
    expect(await store.get(shops.requestId)).toEqual(shops);
    expect(retried).toEqual({ created: false, existing: automation });
  });
});

describe("DynamoDbRequestStore when DynamoDB fails", () => {
  const client = new DynamoDBClient({
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const dynamoMock = mockClient(client);
  const store = new DynamoDbRequestStore({ tableName: "WalletTable", client });
  const throttled = () =>
    new ProvisionedThroughputExceededException({
      message: "Rate of requests exceeds the allowed throughput.",
      $metadata: {},
    });

  beforeEach(() => {
    dynamoMock.reset();
  });

  afterAll(() => {
    dynamoMock.restore();
    client.destroy();
  });

  it("rejects instead of answering created when PutItem is throttled", async () => {
    // Prepare
    dynamoMock.on(PutItemCommand).rejects(throttled());

    // Act
    const attempt = store.create(requestRecord());

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it("rejects instead of answering created when the idempotent transaction is throttled", async () => {
    // Prepare
    dynamoMock.on(GetItemCommand).resolves({});
    dynamoMock.on(TransactWriteItemsCommand).rejects(throttled());

    // Act
    const attempt = store.create(requestRecord({ idempotencyKey: "key-1" }));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it("writes the caller's key reservation and the request in one transaction, each only if absent", async () => {
    // Prepare
    dynamoMock.on(GetItemCommand).resolves({});
    dynamoMock.on(TransactWriteItemsCommand).resolves({});
    const record = requestRecord({ idempotencyKey: "key-1", caller: "key:crm" });

    // Act
    const result = await store.create(record);

    // Assess: the caller is part of the reservation's key.
    expect(result).toEqual({ created: true });
    const items = dynamoMock.commandCalls(TransactWriteItemsCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((item) => [item.Put?.Item?.pk?.S, item.Put?.Item?.sk?.S, item.Put?.ConditionExpression])).toEqual([
      ["IDEM#key:crm#key-1", "IDEM#key:crm", "attribute_not_exists(pk)"],
      [`REQ#${record.requestId}`, "REQ", "attribute_not_exists(pk)"],
    ]);
  });

  it("answers with the caller's first request when the transaction is cancelled by its existing reservation", async () => {
    // Prepare
    const first = requestRecord({ idempotencyKey: "key-1", caller: "key:crm" });
    dynamoMock.on(TransactWriteItemsCommand).rejects(
      new TransactionCanceledException({
        message: "Transaction cancelled",
        $metadata: {},
        CancellationReasons: [{ Code: "ConditionalCheckFailed" }, { Code: "None" }],
      }),
    );
    dynamoMock.on(GetItemCommand).resolves({});
    dynamoMock
      .on(GetItemCommand, { Key: { pk: { S: "IDEM#key:crm#key-1" }, sk: { S: "IDEM#key:crm" } } })
      .resolves({ Item: { requestId: { S: first.requestId } } });
    dynamoMock
      .on(GetItemCommand, { Key: { pk: { S: `REQ#${first.requestId}` }, sk: { S: "REQ" } } })
      .resolves({ Item: { record: { S: JSON.stringify(first) } } });

    // Act
    const result = await store.create(requestRecord({ idempotencyKey: "key-1", caller: "key:crm" }));

    // Assess
    expect(result).toEqual({ created: false, existing: first });
  });

  it("rejects when the transaction is cancelled but no reservation can be read (a conflicting transaction in flight)", async () => {
    // Prepare
    const cancelled = new TransactionCanceledException({
      message: "Transaction cancelled",
      $metadata: {},
      CancellationReasons: [{ Code: "TransactionConflict" }, { Code: "None" }],
    });
    dynamoMock.on(TransactWriteItemsCommand).rejects(cancelled);
    dynamoMock.on(GetItemCommand).resolves({});

    // Act
    const attempt = store.create(requestRecord({ idempotencyKey: "key-1" }));

    // Assess
    await expect(attempt).rejects.toBe(cancelled);
  });

  it("rejects when ensure's PutItem is throttled", async () => {
    // Prepare
    dynamoMock.on(PutItemCommand).rejects(throttled());

    // Act
    const attempt = store.ensure(requestRecord());

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it("gives up with an error when the request keeps changing under markEnqueued", async () => {
    // Prepare
    const record = requestRecord();
    dynamoMock.on(GetItemCommand).resolves({ Item: { record: { S: JSON.stringify(record) } } });
    dynamoMock
      .on(UpdateItemCommand)
      .rejects(new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} }));

    // Act
    const attempt = store.markEnqueued(record.requestId, "2025-06-01T12:05:00.000Z");

    // Assess
    await expect(attempt).rejects.toThrow(/kept changing/);
    expect(dynamoMock.commandCalls(UpdateItemCommand)).toHaveLength(5);
  });
});
