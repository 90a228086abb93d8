import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDbSendLedger } from "../../functions/adapters/dynamodb-send-ledger.js";
import { LedgerConflictError, newClaim } from "../../functions/core/ledger-rules.js";
import { describeSendLedgerContract } from "./send-ledger-contract.js";
import { startLocalDynamoDb, type LocalDynamoDb } from "./support/local-dynamodb.js";

const T0 = Date.parse("2025-06-01T12:00:00.000Z");
const KEY = { requestId: "req-1", chunk: 0 };
const CLAIM = { owner: "worker-a", leaseMs: 60_000, now: T0, marker: "[wm:req-1:0]" };

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
  it("keeps a markSent that lands between updateBatch's read and its write", async () => {
    // Prepare: pause the updating client just before its write, and let another worker mark the send.
    const tableName = await dynamo.createTable();
    const worker = new DynamoDbSendLedger({ tableName, client: dynamo.client() });
    let pausedAtWrite!: () => void;
    const reachedWrite = new Promise<void>((resolve) => (pausedAtWrite = resolve));
    let resumeWrite!: () => void;
    const resume = new Promise<void>((resolve) => (resumeWrite = resolve));
    let paused = false;
    const statusPoller = new DynamoDbSendLedger({
      tableName,
      client: dynamo.client({
        beforeSend: async (commandName) => {
          if (commandName !== "PutItemCommand" || paused) return;
          paused = true;
          pausedAtWrite();
          await resume;
        },
      }),
    });
    await worker.claim(KEY, CLAIM);

    // Act
    const updating = statusPoller.updateBatch(KEY, { batchStatus: "scheduled" });
    await reachedWrite;
    await worker.markSent(KEY, "worker-a", { batchId: "batch-1", batchStatus: "validating" });
    resumeWrite();
    await updating;

    // Assess
    const [record] = await worker.list(KEY.requestId);
    expect(record).toMatchObject({ state: "sent", batchId: "batch-1", owner: "worker-a" });
    expect(record?.batchStatus).toBe("scheduled");
  });
});

describe("DynamoDbSendLedger when DynamoDB fails", () => {
  const client = new DynamoDBClient({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const dynamoMock = mockClient(client);
  const ledger = new DynamoDbSendLedger({ tableName: "WalletTable", client });
  const throttled = () => new ProvisionedThroughputExceededException({ message: "Rate of requests exceeds the allowed throughput.", $metadata: {} });
  const stored = (record = newClaim(KEY, CLAIM)) => ({ Item: { record: { S: JSON.stringify(record) } } });

  beforeEach(() => {
    dynamoMock.reset();
  });

  afterAll(() => {
    dynamoMock.restore();
    client.destroy();
  });

  it("rejects instead of answering claimed when the claim's PutItem is throttled", async () => {
    // Prepare
    dynamoMock.on(PutItemCommand).rejects(throttled());

    // Act
    const attempt = ledger.claim(KEY, CLAIM);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it("rejects with LedgerConflictError when the entry vanished between the failed claim and the read", async () => {
    // Prepare
    dynamoMock.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} }));
    dynamoMock.on(GetItemCommand).resolves({});

    // Act
    const attempt = ledger.claim(KEY, CLAIM);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(LedgerConflictError);
  });

  it("rejects when markSent's write is throttled, so the sender never believes it recorded the batch", async () => {
    // Prepare
    dynamoMock.on(GetItemCommand).resolves(stored());
    dynamoMock.on(PutItemCommand).rejects(throttled());

    // Act
    const attempt = ledger.markSent(KEY, "worker-a", { batchId: "batch-1" });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it("rejects with LedgerConflictError when the claim changes hands between markSent's read and write", async () => {
    // Prepare
    dynamoMock.on(GetItemCommand).resolves(stored());
    dynamoMock.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} }));

    // Act
    const attempt = ledger.markSent(KEY, "worker-a", { batchId: "batch-1" });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(LedgerConflictError);
  });

  it("rejects when release's DeleteItem is throttled instead of pretending the send was given back", async () => {
    // Prepare
    dynamoMock.on(DeleteItemCommand).rejects(throttled());

    // Act
    const attempt = ledger.release(KEY, "worker-a");

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  });

  it("writes state, owner, attempt and lease as top-level attributes so conditions can test them", async () => {
    // Prepare
    dynamoMock.on(PutItemCommand).resolves({});

    // Act
    await ledger.claim(KEY, CLAIM);

    // Assess
    const input = dynamoMock.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe("attribute_not_exists(pk)");
    expect(input.Item).toMatchObject({
      pk: { S: "REQ#req-1" },
      sk: { S: "SEND#00000" },
      state: { S: "claimed" },
      owner: { S: "worker-a" },
      attempt: { N: "1" },
      leaseUntil: { N: String(T0 + 60_000) },
    });
  });
});
