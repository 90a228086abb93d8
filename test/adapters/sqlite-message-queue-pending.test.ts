/**
 * SqliteMessageQueue.pending(): what the local stack's `drained()` waits for. Work in hand counts;
 * a follow-up waiting for a later time (e.g. a batch's scheduledAt) does not.
 */
import { describe, expect, it } from "vitest";
import { openSqlite } from "../../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue } from "../../functions/adapters/sqlite-message-queue.js";

function queueAt(start: number) {
  let now = start;
  const queue = new SqliteMessageQueue(openSqlite(":memory:"), { now: () => now });
  return { queue, advance: (ms: number) => (now += ms) };
}

describe("SqliteMessageQueue.pending", () => {
  it("counts visible messages and messages due within the window, not those delayed beyond it", async () => {
    const { queue } = queueAt(1_000_000);
    await queue.send({ n: 1 });
    await queue.send({ n: 2 }, { delaySeconds: 5 });
    await queue.send({ n: 3 }, { delaySeconds: 900 });

    expect(queue.pending(60_000)).toBe(2);
    expect(queue.pending(0)).toBe(1);
  });

  it("counts a received message while it is in flight or waiting for its retry, however long", async () => {
    const { queue, advance } = queueAt(1_000_000);
    await queue.send({ n: 1 });
    const [received] = queue.receive(1, 30_000);
    expect(queue.pending(0)).toBe(1);

    queue.release(received!.receiptHandle, 600);

    expect(queue.pending(0)).toBe(1);
    advance(601_000);
    queue.delete(queue.receive(1, 30_000)[0]!.receiptHandle);
    expect(queue.pending(60_000)).toBe(0);
  });

  it("does not count dead letters", async () => {
    const queue = new SqliteMessageQueue(openSqlite(":memory:"), { maxReceives: 1 });
    await queue.send({ n: 1 });
    const [received] = queue.receive(1, 0);
    queue.release(received!.receiptHandle, 0);
    queue.receive(1, 0); // its second receive dead-letters it

    expect(queue.depth().dead).toBe(1);
    expect(queue.pending(60_000)).toBe(0);
  });
});
