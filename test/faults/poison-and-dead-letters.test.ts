/**
 * A message that can never be a wallet-message request does not block the queue, and redriving
 * dead letters whose sends were already decided sends nothing new (issue 4, scenarios 8 and 9).
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadFixture } from "../support/events.js";
import { waitFor } from "./support/sender-rig.js";
import { startStackRig, type StackRig } from "./support/stack-rig.js";

describe("local stack with poison messages in the queue", () => {
  let rig: StackRig;
  afterEach(async () => {
    await rig.close();
  });

  it("drops messages that are not requests with an error log, and delivers the others", async () => {
    rig = await startStackRig({ stack: { startWorkers: false } });
    const before = await rig.accept();
    // Not JSON at all: our queue only ever writes JSON, so put it in as another producer's raw bytes would be.
    const notJsonId = randomUUID();
    rig.stack.db
      .prepare("INSERT INTO queue_messages (message_id, body, sent_at, visible_at) VALUES (?, ?, ?, ?)")
      .run(notJsonId, "{not json", Date.now(), 0);
    // JSON, but not a request: a flat body (the poison fixture), a bare string, an EventBridge event of another type.
    const poisonFixture = JSON.parse(loadFixture<{ Records: { body: string }[] }>("sqs-poison.json").Records[0]!.body);
    await rig.stack.queue.send(poisonFixture);
    await rig.stack.queue.send("hello");
    await rig.stack.queue.send({
      id: randomUUID(),
      "detail-type": "OrderShipped",
      source: "shop.orders",
      detail: { orderId: 7 },
    });
    const after = await rig.accept();

    rig.stack.runner.start();
    await rig.stack.drained(15_000);

    for (const id of [before, after]) {
      expect(rig.batchesFor(id)).toHaveLength(1);
      expect((await rig.status(id)).status).toBe("submitted");
    }
    expect(rig.sandbox.batches()).toHaveLength(2);
    const rejected = rig.log.lines.filter(
      (l) => l.level === "error" && l.message === "queue message rejected: not a wallet message request",
    );
    expect(rejected).toHaveLength(4);
    expect(rejected.map((l) => l.fields.messageId)).toContain(notJsonId);
    // Dropped at once, not retried into the dead-letter queue.
    expect(rig.stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  });
});

describe("local stack redriving dead letters that were already sent", () => {
  let rig: StackRig;
  afterEach(async () => {
    vi.restoreAllMocks();
    await rig.close();
  });

  it("sends nothing new when a message whose delete kept failing is redriven from the dead-letter queue", async () => {
    rig = await startStackRig({ stack: { MAX_RECEIVES: 2, VISIBILITY_TIMEOUT_SECONDS: 1, startWorkers: false } });
    const requestId = await rig.accept();
    const messageId = rig.stack.queue.peek().find((m) => JSON.parse(m.body).requestId === requestId)!.messageId;
    // SQS DeleteMessage fails for this message after every successful send, so it comes back until it is dead-lettered.
    const queue = rig.stack.queue;
    const deleteOriginal = queue.deleteMany.bind(queue);
    const deleteMessage = vi.spyOn(queue, "deleteMany").mockImplementation((receiptHandles: readonly string[]) => {
      const ids = receiptHandles.map(
        (h) =>
          (
            rig.stack.db.prepare("SELECT message_id FROM queue_messages WHERE receipt_handle = ?").get(h) as
              | { message_id: string }
              | undefined
          )?.message_id,
      );
      if (ids.includes(messageId)) throw new Error("DeleteMessage failed: ServiceUnavailable (simulated)");
      deleteOriginal(receiptHandles);
    });

    rig.stack.runner.start();
    await waitFor("the sent message to be dead-lettered", () => rig.stack.queue.depth().dead === 1, 20_000);
    expect(rig.batchesFor(requestId)).toHaveLength(1);
    expect(rig.stack.queue.deadLetters()[0]).toMatchObject({
      messageId,
      lastError: expect.stringMatching(/DeleteMessage failed/),
    });

    deleteMessage.mockRestore();
    expect(rig.stack.queue.redrive()).toBe(1);
    await rig.stack.drained(15_000);

    expect(rig.batchesFor(requestId)).toHaveLength(1);
    expect(rig.acceptedPosts()).toBe(1);
    expect((await rig.status(requestId)).status).toBe("submitted");
    expect(
      rig.log.lines.filter((l) => l.message === "send already decided; nothing sent").length,
    ).toBeGreaterThanOrEqual(2);
    expect(rig.stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  });

  it("sends nothing new when copies of sent messages are put in the dead-letter queue and redriven", async () => {
    rig = await startStackRig();
    const ids = await Promise.all([rig.accept(), rig.accept(), rig.accept()]);
    await rig.stack.drained();
    expect(rig.sandbox.batches()).toHaveLength(3);
    // An operator copies the three requests' messages into the dead-letter queue (e.g. from a backup).
    for (const requestId of ids) {
      const request = await rig.stack.store.get(requestId);
      const copyId = await rig.stack.queue.send(
        { requestId, entityId: request!.entityId, batch: request!.batch, source: "http" },
        { delaySeconds: 900 },
      );
      rig.stack.db
        .prepare("UPDATE queue_messages SET dead_at = ?, receive_count = 5 WHERE message_id = ?")
        .run(Date.now(), copyId);
    }
    expect(rig.stack.queue.depth().dead).toBe(3);

    expect(rig.stack.queue.redrive()).toBe(3);
    await rig.stack.drained();

    expect(rig.sandbox.batches()).toHaveLength(3);
    expect(rig.acceptedPosts()).toBe(3);
    for (const id of ids) {
      expect(rig.batchesFor(id)).toHaveLength(1);
      expect((await rig.status(id)).status).toBe("submitted");
    }
    expect(rig.stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  });
});
