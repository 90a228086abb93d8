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
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDbRequestStore } from "../../functions/adapters/dynamodb-request-store.js";
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

describe("DynamoDbRequestStore when DynamoDB fails", () => {
  const client = new DynamoDBClient({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const dynamoMock = mockClient(client);
  const store = new DynamoDbRequestStore({ tableName: "WalletTable", client });
  const throttled = () => new ProvisionedThroughputExceededException({ message: "Rate of requests exceeds the allowed throughput.", $metadata: {} });

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
    dynamoMock.on(TransactWriteItemsCommand).rejects(throttled());

    // Act
    const attempt = store.create(requestRecord({ idempotencyKey: "key-1" }));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it("writes the key reservation and the request in one transaction, each only if absent", async () => {
    // Prepare
    dynamoMock.on(TransactWriteItemsCommand).resolves({});
    const record = requestRecord({ idempotencyKey: "key-1" });

    // Act
    const result = await store.create(record);

    // Assess
    expect(result).toEqual({ created: true });
    const items = dynamoMock.commandCalls(TransactWriteItemsCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((item) => [item.Put?.Item?.pk?.S, item.Put?.ConditionExpression])).toEqual([
      ["IDEM#key-1", "attribute_not_exists(pk)"],
      [`REQ#${record.requestId}`, "attribute_not_exists(pk)"],
    ]);
  });

  it("answers with the first request when the transaction is cancelled by an existing reservation", async () => {
    // Prepare
    const first = requestRecord({ idempotencyKey: "key-1" });
    dynamoMock.on(TransactWriteItemsCommand).rejects(new TransactionCanceledException({ message: "Transaction cancelled", $metadata: {}, CancellationReasons: [{ Code: "ConditionalCheckFailed" }, { Code: "None" }] }));
    dynamoMock.on(GetItemCommand, { Key: { pk: { S: "IDEM#key-1" }, sk: { S: "IDEM" } } }).resolves({ Item: { requestId: { S: first.requestId } } });
    dynamoMock.on(GetItemCommand, { Key: { pk: { S: `REQ#${first.requestId}` }, sk: { S: "REQ" } } }).resolves({ Item: { record: { S: JSON.stringify(first) } } });

    // Act
    const result = await store.create(requestRecord({ idempotencyKey: "key-1" }));

    // Assess
    expect(result).toEqual({ created: false, existing: first });
  });

  it("rejects when the transaction is cancelled but no reservation can be read (a conflicting transaction in flight)", async () => {
    // Prepare
    const cancelled = new TransactionCanceledException({ message: "Transaction cancelled", $metadata: {}, CancellationReasons: [{ Code: "TransactionConflict" }, { Code: "None" }] });
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
    dynamoMock.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} }));

    // Act
    const attempt = store.markEnqueued(record.requestId, "2025-06-01T12:05:00.000Z");

    // Assess
    await expect(attempt).rejects.toThrow(/kept changing/);
    expect(dynamoMock.commandCalls(UpdateItemCommand)).toHaveLength(5);
  });
});
