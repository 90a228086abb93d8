/**
 * The local queue behaves as SQS does where the sender relies on it: visibility, receive counts, dead
 * letters after MAX_RECEIVES, deletes by receipt handle.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqlite, type SqliteDatabase } from "../../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue } from "../../functions/adapters/sqlite-message-queue.js";
import { describeMessageQueueContract } from "./message-queue-contract.js";

const T0 = Date.parse("2025-06-01T12:00:00.000Z");
const VISIBILITY_MS = 30_000;

/** A clock the test moves by hand: visibility and delays never depend on real time. */
function manualClock(start = T0) {
  let now = start;
  return {
    now: () => now,
    set: (ms: number) => {
      now = ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describeMessageQueueContract("SqliteMessageQueue", async () => {
  const db = openSqlite(":memory:");
  const clock = manualClock();
  // Polling with a zero visibility timeout leaves messages visible; a high maxReceives keeps the
  // repeated polls of the contract from dead-lettering them.
  const queue = new SqliteMessageQueue(db, { now: clock.now, maxReceives: 1000 });
  return {
    queue,
    async deliverableAfter(seconds) {
      clock.set(T0 + seconds * 1000);
      return new Map(queue.receive(100, 0).map((m) => [m.messageId, JSON.parse(m.body) as unknown]));
    },
    close: async () => {
      db.close();
    },
  };
});

describe("SqliteMessageQueue (SQS semantics)", () => {
  let db: SqliteDatabase;
  let clock: ReturnType<typeof manualClock>;
  let queue: SqliteMessageQueue;

  beforeEach(() => {
    db = openSqlite(":memory:");
    clock = manualClock();
    queue = new SqliteMessageQueue(db, { now: clock.now, maxReceives: 5 });
  });

  afterEach(() => {
    db.close();
  });

  describe("receive", () => {
    it("hides a received message for the visibility timeout and then hands it out again", async () => {
      // Prepare
      const id = await queue.send({ n: 1 });
      const [first] = queue.receive(10, VISIBILITY_MS);

      // Act
      clock.advance(VISIBILITY_MS - 1);
      const whileHidden = queue.receive(10, VISIBILITY_MS);
      clock.advance(1);
      const afterTimeout = queue.receive(10, VISIBILITY_MS);

      // Assess
      expect(first?.messageId).toBe(id);
      expect(whileHidden).toEqual([]);
      expect(afterTimeout.map((m) => m.messageId)).toEqual([id]);
      expect(afterTimeout[0]?.receiptHandle).not.toBe(first?.receiptHandle);
    });

    it("counts every receive", async () => {
      // Prepare
      await queue.send({ n: 1 });

      // Act
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        counts.push(queue.receive(1, VISIBILITY_MS)[0]!.receiveCount);
        clock.advance(VISIBILITY_MS);
      }

      // Assess
      expect(counts).toEqual([1, 2, 3]);
    });

    it("hands out at most `max` messages, oldest first", async () => {
      // Prepare
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) {
        ids.push(await queue.send({ n }));
        clock.advance(1);
      }

      // Act
      const batch = queue.receive(3, VISIBILITY_MS);

      // Assess
      expect(batch.map((m) => m.messageId)).toEqual(ids.slice(0, 3));
      expect(queue.depth()).toEqual({ visible: 2, inFlight: 3, dead: 0 });
    });
  });

  describe("dead letters", () => {
    it("moves a message received maxReceives times to the dead letters on its next receive, with its last error", async () => {
      // Prepare
      const id = await queue.send({ n: 1 });
      for (let i = 1; i <= 5; i++) {
        const [message] = queue.receive(1, VISIBILITY_MS);
        expect(message?.receiveCount).toBe(i);
        queue.release(message!.receiptHandle, 0, `PassEntry failed with 503 (attempt ${i}).`);
      }

      // Act
      const sixth = queue.receive(1, VISIBILITY_MS);

      // Assess
      expect(sixth).toEqual([]);
      expect(queue.deadLetters()).toEqual([
        {
          messageId: id,
          body: JSON.stringify({ n: 1 }),
          receiveCount: 5,
          lastError: "PassEntry failed with 503 (attempt 5).",
          sentAt: T0,
          deadAt: T0,
        },
      ]);
      expect(queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 1 });
    });

    it("keeps the last error given when a later release gives none", async () => {
      // Prepare
      await queue.send({ n: 1 });
      queue.release(queue.receive(1, VISIBILITY_MS)[0]!.receiptHandle, 0, "first error");
      for (let i = 0; i < 4; i++) queue.release(queue.receive(1, VISIBILITY_MS)[0]!.receiptHandle, 0);

      // Act
      queue.receive(1, VISIBILITY_MS);

      // Assess
      expect(queue.deadLetters().map((d) => d.lastError)).toEqual(["first error"]);
    });

    it("redrives every dead letter with a fresh receive count", async () => {
      // Prepare
      const ids = [await queue.send({ n: 1 }), await queue.send({ n: 2 })];
      deadLetterEverything();

      // Act
      const moved = queue.redrive();

      // Assess
      expect(moved).toBe(2);
      expect(queue.deadLetters()).toEqual([]);
      const received = queue.receive(10, VISIBILITY_MS);
      expect(received.map((m) => m.messageId).sort()).toEqual([...ids].sort());
      expect(received.map((m) => m.receiveCount)).toEqual([1, 1]);
    });

    it("redrives only the dead letters named", async () => {
      // Prepare
      const first = await queue.send({ n: 1 });
      const second = await queue.send({ n: 2 });
      deadLetterEverything();

      // Act
      const moved = queue.redrive([first, "no-such-message"]);

      // Assess
      expect(moved).toBe(1);
      expect(queue.deadLetters().map((d) => d.messageId)).toEqual([second]);
      expect(queue.receive(10, VISIBILITY_MS).map((m) => [m.messageId, m.receiveCount])).toEqual([[first, 1]]);
    });

    function deadLetterEverything(): void {
      for (let i = 0; i < 6; i++) {
        queue.receive(10, VISIBILITY_MS);
        clock.advance(VISIBILITY_MS);
      }
      expect(queue.depth().dead).toBeGreaterThan(0);
      expect(queue.depth().visible + queue.depth().inFlight).toBe(0);
    }
  });

  describe("delete", () => {
    it("removes the message when the receipt is current", async () => {
      // Prepare
      await queue.send({ n: 1 });
      const [message] = queue.receive(1, VISIBILITY_MS);

      // Act
      queue.delete(message!.receiptHandle);

      // Assess
      clock.advance(VISIBILITY_MS);
      expect(queue.receive(10, VISIBILITY_MS)).toEqual([]);
      expect(queue.peek()).toEqual([]);
    });

    it("does nothing when the receipt is stale because the message was received again since", async () => {
      // Prepare
      const id = await queue.send({ n: 1 });
      const [first] = queue.receive(1, VISIBILITY_MS);
      clock.advance(VISIBILITY_MS);
      const [second] = queue.receive(1, VISIBILITY_MS);

      // Act
      queue.delete(first!.receiptHandle);

      // Assess
      expect(queue.peek().map((m) => m.messageId)).toEqual([id]);
      queue.delete(second!.receiptHandle);
      expect(queue.peek()).toEqual([]);
    });
  });

  describe("release", () => {
    it("makes a received message visible again after the given seconds", async () => {
      // Prepare
      const id = await queue.send({ n: 1 });
      const [message] = queue.receive(1, VISIBILITY_MS);

      // Act
      queue.release(message!.receiptHandle, 5);

      // Assess
      clock.advance(4_999);
      expect(queue.receive(1, VISIBILITY_MS)).toEqual([]);
      clock.advance(1);
      expect(queue.receive(1, VISIBILITY_MS).map((m) => m.messageId)).toEqual([id]);
    });
  });
});

describe("SqliteMessageQueue on a database file", () => {
  let dir: string;
  const opened: SqliteDatabase[] = [];

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "wallet-queue-"));
  });

  afterEach(() => {
    for (const db of opened.splice(0)) if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (file: string) => {
    const db = openSqlite(file);
    opened.push(db);
    return db;
  };

  it("keeps waiting and in-flight messages across a close and reopen", async () => {
    // Prepare
    const file = path.join(dir, "queue.db");
    const clock = manualClock();
    const before = open(file);
    const queue = new SqliteMessageQueue(before, { now: clock.now });
    const inFlight = await queue.send({ n: 1 });
    clock.advance(1);
    const waiting = await queue.send({ n: 2 });
    expect(queue.receive(1, VISIBILITY_MS).map((m) => m.messageId)).toEqual([inFlight]);
    before.close();

    // Act
    const reopened = new SqliteMessageQueue(open(file), { now: clock.now });

    // Assess
    expect(reopened.peek().map((m) => [m.messageId, JSON.parse(m.body), m.receiveCount])).toEqual([
      [inFlight, { n: 1 }, 1],
      [waiting, { n: 2 }, 0],
    ]);
    const handedOut = reopened.receive(10, VISIBILITY_MS);
    expect(handedOut.map((m) => m.messageId)).toEqual([waiting]);
    reopened.delete(handedOut[0]!.receiptHandle);
    clock.advance(VISIBILITY_MS);
    expect(reopened.receive(10, VISIBILITY_MS).map((m) => [m.messageId, m.receiveCount])).toEqual([[inFlight, 2]]);
  });

  it("never hands the same visible message to two receivers polling one file in turn", async () => {
    // Prepare
    const file = path.join(dir, "queue.db");
    const producer = new SqliteMessageQueue(open(file));
    const sent = new Set<string>();
    for (let n = 0; n < 60; n++) sent.add(await producer.send({ n }));
    const receivers = [new SqliteMessageQueue(open(file)), new SqliteMessageQueue(open(file))];

    // Act
    const receivedBy: string[][] = [[], []];
    for (let round = 0; round < 100; round++) {
      const batches = receivers.map((receiver) => receiver.receive(3, 60_000));
      for (const [i, batch] of batches.entries()) receivedBy[i]!.push(...batch.map((m) => m.messageId));
      if (batches.every((b) => b.length === 0)) break;
    }

    // Assess
    const all = [...receivedBy[0]!, ...receivedBy[1]!];
    expect(all).toHaveLength(60);
    expect(new Set(all)).toEqual(sent);
    expect(receivedBy[0]!.length).toBeGreaterThan(0);
    expect(receivedBy[1]!.length).toBeGreaterThan(0);
  });

  it("never hands the same visible message to two receivers running at once in separate threads", async () => {
    // Prepare
    const file = path.join(dir, "queue.db");
    const producer = new SqliteMessageQueue(open(file));
    const sent = new Set<string>();
    for (let n = 0; n < 300; n++) sent.add(await producer.send({ n }));

    // Act
    const receivedBy = await receiveInThreads(file, 2);

    // Assess
    const all = receivedBy.flat();
    expect(all).toHaveLength(300);
    expect(new Set(all)).toEqual(sent);
  });
});

/**
 * Runs consumers in worker threads (TypeScript through tsx), starts them together once all are ready,
 * and resolves with the ids each received.
 */
async function receiveInThreads(file: string, count: number): Promise<string[][]> {
  const entry = new URL("./support/queue-receiver-worker.ts", import.meta.url).href;
  const bootstrap = `import("tsx/esm/api").then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`;
  const workers = Array.from(
    { length: count },
    () => new Worker(bootstrap, { eval: true, workerData: { file, batchSize: 2 } }),
  );
  try {
    const results = workers.map(
      (worker) =>
        new Promise<string[]>((resolve, reject) => {
          worker.on("message", (message: "ready" | { received: string[] }) => {
            if (message !== "ready") resolve(message.received);
          });
          worker.once("error", reject);
          worker.once("exit", (code) => reject(new Error(`A receiver thread exited with ${code} before answering.`)));
        }),
    );
    await Promise.all(
      workers.map((worker) => new Promise<void>((resolve) => worker.on("message", (m) => m === "ready" && resolve()))),
    );
    for (const worker of workers) worker.postMessage("go");
    return await Promise.all(results);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
