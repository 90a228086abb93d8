/**
 * npm run dlq lists each dead letter once with its request id, receives and last error, and redrives
 * them to the queue with a fresh receive count (locally; on AWS by a message-move task, or by id).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqlite } from "../../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue } from "../../functions/adapters/sqlite-message-queue.js";
import { SqsDeadLetterQueue } from "../../functions/adapters/sqs-dead-letter-queue.js";
import { runDlqCli } from "../../local/cli/dlq.js";
import { databasePath } from "../../local/stack.js";

const REQUEST = { requestId: "req-dead-1", entityId: "ent", batch: { message: "Hi", segments: [{ groupTag: "vip" }] } };

function capture() {
  const lines: string[] = [];
  return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) } };
}

describe("npm run dlq (local queue)", () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), "wm-dlq-"));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  /** Puts one message in the dead-letter side the way the runner does: five failed receives. */
  async function deadLetterOne(): Promise<string> {
    const db = openSqlite(databasePath(dataDir));
    const queue = new SqliteMessageQueue(db, { maxReceives: 5 });
    const id = await queue.send(REQUEST);
    for (let i = 0; i < 5; i++) {
      const [m] = queue.receive(1, 60_000);
      queue.release(m!.receiptHandle, 0, `PassEntry failed POST with 503 (attempt ${i + 1}).`);
    }
    expect(queue.receive(1, 60_000)).toEqual([]);
    db.close();
    return id;
  }

  it("lists dead letters with their request id, receive count and last error", async () => {
    const id = await deadLetterOne();
    const { lines, io } = capture();

    const code = await runDlqCli(["list", "--data-dir", dataDir], io, {});

    expect(code).toBe(0);
    const text = lines.join("\n");
    expect(text).toContain(id);
    expect(text).toContain("request req-dead-1");
    expect(text).toContain("receives 5");
    expect(text).toContain("attempt 5");
  });

  it("redrives a dead letter back to the queue with a fresh receive count", async () => {
    const id = await deadLetterOne();
    const { lines, io } = capture();

    const code = await runDlqCli(["redrive", "--data-dir", dataDir, "--id", id], io, {});

    expect(code).toBe(0);
    expect(lines.join("\n")).toContain("1 message(s) moved back");
    const db = openSqlite(databasePath(dataDir));
    const queue = new SqliteMessageQueue(db);
    expect(queue.deadLetters()).toEqual([]);
    expect(queue.peek()).toEqual([expect.objectContaining({ messageId: id, receiveCount: 0 })]);
    db.close();
  });

  it("says no dead letter has an unknown --id, how to list them, and exits 1, moving nothing", async () => {
    const id = await deadLetterOne();
    const { lines, io } = capture();

    const code = await runDlqCli(["redrive", "--data-dir", dataDir, "--id", "nosuch"], io, {});

    expect(code).toBe(1);
    const text = lines.join("\n");
    expect(text).toContain("No dead letter has the id nosuch");
    expect(text).toContain("npm run dlq -- list");
    expect(text).not.toContain("0 message(s) moved back");
    const db = openSqlite(databasePath(dataDir));
    expect(new SqliteMessageQueue(db).deadLetters().map((d) => d.messageId)).toEqual([id]);
    db.close();
  });

  it("redrives the ids it has and exits 1 naming the one it has not", async () => {
    const id = await deadLetterOne();
    const { lines, io } = capture();

    const code = await runDlqCli(["redrive", "--data-dir", dataDir, "--id", id, "--id", "nosuch"], io, {});

    expect(code).toBe(1);
    expect(lines.join("\n")).toContain("1 message(s) moved back");
    expect(lines.join("\n")).toContain("No dead letter has the id nosuch");
  });

  it("refuses an unknown command with the usage and exit code 2", async () => {
    const { lines, io } = capture();
    expect(await runDlqCli(["purge"], io, {})).toBe(2);
    expect(lines.join("\n")).toContain("usage: npm run dlq");
  });
});

describe("SqsDeadLetterQueue", () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => sqs.reset());
  const DLQ = "https://sqs.eu-west-1.amazonaws.com/123/MessagesDlq";
  const MAIN = "https://sqs.eu-west-1.amazonaws.com/123/Messages";
  const message = (id: string) => ({
    MessageId: id,
    ReceiptHandle: `rh-${id}`,
    Body: JSON.stringify({ ...REQUEST, requestId: `req-${id}` }),
    Attributes: { ApproximateReceiveCount: "6", SentTimestamp: "1700000000000" },
  });

  it("lists each dead letter once although SQS returns overlapping samples, without hiding them", async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message("a"), message("b")] })
      .resolvesOnce({ Messages: [message("b"), message("c")] })
      .resolves({ Messages: [] });

    const letters = await new SqsDeadLetterQueue(DLQ, MAIN, new SQSClient({ region: "eu-west-1" })).list(10);

    expect(letters.map((l) => [l.messageId, l.requestId, l.receiveCount])).toEqual([
      ["a", "req-a", 6],
      ["b", "req-b", 6],
      ["c", "req-c", 6],
    ]);
    expect(sqs.commandCalls(ReceiveMessageCommand).every((c) => c.args[0].input.VisibilityTimeout === 0)).toBe(true);
  });

  it("redrives everything with an SQS message-move task from the dead-letter queue's ARN", async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { QueueArn: "arn:aws:sqs:eu-west-1:123:MessagesDlq" } });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: "task-1" });

    const result = await new SqsDeadLetterQueue(DLQ, MAIN, new SQSClient({ region: "eu-west-1" })).redrive();

    expect(result.note).toContain("task-1");
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input).toEqual({
      SourceArn: "arn:aws:sqs:eu-west-1:123:MessagesDlq",
    });
  });

  it("redrives chosen ids by re-sending their bodies to the main queue and deleting them from the dead-letter queue", async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message("a"), message("b")] })
      .resolves({ Messages: [] });
    sqs.on(SendMessageCommand).resolves({ MessageId: "new" });
    sqs.on(DeleteMessageCommand).resolves({});
    sqs.on(ChangeMessageVisibilityCommand).resolves({});

    const result = await new SqsDeadLetterQueue(DLQ, MAIN, new SQSClient({ region: "eu-west-1" })).redrive(["b"]);

    expect(result.moved).toBe(1);
    expect(
      sqs
        .commandCalls(SendMessageCommand)
        .map((c) => [c.args[0].input.QueueUrl, JSON.parse(c.args[0].input.MessageBody!).requestId]),
    ).toEqual([[MAIN, "req-b"]]);
    expect(sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual(["rh-b"]);
    expect(
      sqs
        .commandCalls(ChangeMessageVisibilityCommand)
        .map((c) => [c.args[0].input.ReceiptHandle, c.args[0].input.VisibilityTimeout]),
    ).toEqual([["rh-a", 0]]);
  });

  it("names the chosen ids it found no dead letter for", async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message("a")] })
      .resolves({ Messages: [] });
    sqs.on(ChangeMessageVisibilityCommand).resolves({});

    const result = await new SqsDeadLetterQueue(DLQ, MAIN, new SQSClient({ region: "eu-west-1" })).redrive(["nosuch"]);

    expect(result.moved).toBe(0);
    expect(result.notFound).toEqual(["nosuch"]);
    expect(result.note).toContain("No dead letter has the id nosuch");
  });
});
