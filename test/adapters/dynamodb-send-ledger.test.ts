/**
 * The DynamoDB send ledger keeps the send-ledger contract under interleaved writers on dynalite
 * (conditional writes decide every race) and turns DynamoDB's failures into errors to retry, never
 * into a second send.
 */
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDbSendLedger } from "../../functions/adapters/dynamodb-send-ledger.js";
import { LedgerConflictError } from "../../functions/core/errors.js";
import { transition } from "../../functions/core/send-state-machine.js";
import { describeSendLedgerContract } from "./send-ledger-contract.js";
import { startLocalDynamoDb, type LocalDynamoDb } from "./support/local-dynamodb.js";

const T0 = Date.parse("2025-06-01T12:00:00.000Z");
const KEY = { requestId: "req-1", chunk: 0 };
const HOLDER = { owner: "worker-a", attempt: 1 };
const CLAIM = { type: "claim", owner: "worker-a", now: T0, leaseMs: 60_000 } as const;

let dynamo: LocalDynamoDb;

beforeAll(async () => {
  dynamo = await startLocalDynamoDb();
});

afterAll(async () => {
  await dynamo.close();
});

describeSendLedgerContract(
  "DynamoDbSendLedger on dynalite",
  async () => ({
    ledger: new DynamoDbSendLedger({ tableName: await dynamo.createTable(), client: dynamo.client() }),
    close: async () => {},
  }),
  { propertyRuns: 40 },
);

describe("DynamoDbSendLedger on dynalite with interleaved writers", () => {
  it("keeps a cancel that lands between the holder's GetItem and its UpdateItem (issue 10, item 4)", async () => {
    // Prepare: the holder's client pauses just before its write, while the cancel goes through another client.
    const tableName = await dynamo.createTable();
    const canceller = new DynamoDbSendLedger({ tableName, client: dynamo.client() });
    let pausedAtWrite!: () => void;
    const reachedWrite = new Promise<void>((resolve) => (pausedAtWrite = resolve));
    let resumeWrite!: () => void;
    const resume = new Promise<void>((resolve) => (resumeWrite = resolve));
    let paused = false;
    const holder = new DynamoDbSendLedger({
      tableName,
      client: dynamo.client({
        beforeSend: async (commandName) => {
          if (commandName !== "UpdateItemCommand" || paused) return;
          paused = true;
          pausedAtWrite();
          await resume;
        },
      }),
    });
    await transition(canceller, KEY, CLAIM);

    // Act
    const recording = transition(holder, KEY, {
      type: "created",
      token: HOLDER,
      now: T0,
      batch: { batchId: "batch-1", batchStatus: "validating" },
    });
    await reachedWrite;
    await transition(canceller, KEY, { type: "cancel", now: T0 + 1 });
    resumeWrite();
    const recorded = await recording;

    // Assess: the batch is recorded AND the cancel is kept, so the batch gets cancelled at PassEntry.
    expect(recorded.moved && recorded.then).toBe("sent");
    expect(await canceller.get(KEY)).toMatchObject({
      state: "sent",
      batchId: "batch-1",
      cancelRequestedAt: new Date(T0 + 1).toISOString(),
    });
  });

  it("sets only the attributes a move changes", async () => {
    // Prepare
    const tableName = await dynamo.createTable();
    const sent: unknown[] = [];
    const ledger = new DynamoDbSendLedger({
      tableName,
      client: dynamo.client({
        beforeSend: async (name, input) => void (name === "UpdateItemCommand" && sent.push(input)),
      }),
    });
    await transition(ledger, KEY, CLAIM);

    // Act
    await transition(ledger, KEY, { type: "renew", token: HOLDER, now: T0 + 5, leaseMs: 60_000 });

    // Assess
    const input = sent[0] as {
      UpdateExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ConditionExpression: string;
    };
    expect([...new Set(Object.values(input.ExpressionAttributeNames))].sort()).toEqual([
      "leaseUntil",
      "updatedAt",
      "version",
    ]);
    expect(input.ConditionExpression).toBe("#version = :expected");
  });
});

describe("DynamoDbSendLedger when DynamoDB fails", () => {
  const client = new DynamoDBClient({
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const dynamoMock = mockClient(client);
  const ledger = new DynamoDbSendLedger({ tableName: "WalletTable", client });
  const throttled = () =>
    new ProvisionedThroughputExceededException({
      message: "Rate of requests exceeds the allowed throughput.",
      $metadata: {},
    });
  const conflict = () =>
    new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });
  const storedClaim = {
    Item: {
      pk: { S: "REQ#req-1" },
      sk: { S: "SEND#00000" },
      requestId: { S: "req-1" },
      chunk: { N: "0" },
      state: { S: "claimed" },
      version: { N: "1" },
      owner: { S: "worker-a" },
      attempt: { N: "1" },
      leaseUntil: { N: String(T0 + 60_000) },
      updatedAt: { S: new Date(T0).toISOString() },
    },
  };

  beforeEach(() => {
    dynamoMock.reset();
  });

  afterAll(() => {
    dynamoMock.restore();
    client.destroy();
  });

  it("rejects instead of answering claimed when the claim's PutItem is throttled", async () => {
    dynamoMock.on(GetItemCommand).resolves({});
    dynamoMock.on(PutItemCommand).rejects(throttled());
    await expect(transition(ledger, KEY, CLAIM)).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it("rejects when recording the batch is throttled, so the sender never believes it recorded it", async () => {
    dynamoMock.on(GetItemCommand).resolves(storedClaim);
    dynamoMock.on(UpdateItemCommand).rejects(throttled());
    await expect(
      transition(ledger, KEY, { type: "created", token: HOLDER, now: T0, batch: { batchId: "batch-1" } }),
    ).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it("gives up with LedgerConflictError when every write loses its race", async () => {
    dynamoMock.on(GetItemCommand).resolves(storedClaim);
    dynamoMock.on(UpdateItemCommand).rejects(conflict());
    await expect(transition(ledger, KEY, { type: "renew", token: HOLDER, now: T0, leaseMs: 1 })).rejects.toBeInstanceOf(
      LedgerConflictError,
    );
  });

  it("writes every field as its own top-level attribute, created only where no entry exists", async () => {
    dynamoMock.on(GetItemCommand).resolves({});
    dynamoMock.on(PutItemCommand).resolves({});
    await transition(ledger, KEY, CLAIM);
    const input = dynamoMock.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe("attribute_not_exists(pk)");
    expect(input.Item).toMatchObject({
      pk: { S: "REQ#req-1" },
      sk: { S: "SEND#00000" },
      state: { S: "claimed" },
      owner: { S: "worker-a" },
      attempt: { N: "1" },
      version: { N: "1" },
      leaseUntil: { N: String(T0 + 60_000) },
    });
  });
});
