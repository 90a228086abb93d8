/**
 * A business key (request id + chunk) reaches PassEntry once, whatever the queue does: the same
 * message delivered again (after success, or while the first delivery is still sending), and two
 * workers racing on one message (issue 4, scenarios 1 and 2).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { CREATE_ROUTE, runningClock, SANDBOX_TOKEN, startSenderRig, type SenderRig } from "./support/sender-rig.js";
import { startStackRig, type StackRig } from "./support/stack-rig.js";

describe("sender under SQS redelivery and racing workers", () => {
  let sandbox: Sandbox;
  let rig: SenderRig;

  beforeAll(async () => {
    sandbox = await startSandbox({ tokens: [SANDBOX_TOKEN], rateLimitPerSecond: 1000, now: runningClock().now });
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(async () => {
    sandbox.reset();
    rig = await startSenderRig({ sandbox });
  });
  afterEach(() => rig.close());

  it("sends one batch when SQS delivers the same message again after it succeeded", async () => {
    const m = rig.message();
    const worker = rig.worker("a");

    const first = await worker.deliver(m.record);
    const again = await worker.deliver(m.record);
    const elsewhere = await rig.worker("b").deliver(m.record);

    expect([first, again, elsewhere].map((r) => r.batchItemFailures)).toEqual([[], [], []]);
    expect(rig.batchesFor(m.requestId)).toHaveLength(1);
    expect(rig.acceptedPostsFor(m.entityId)).toBe(1);
    const view = await rig.view(m.requestId);
    expect(view.status).toBe("submitted");
    expect(view.batchId).toBe(rig.batchesFor(m.requestId)[0]!.id);
  });

  it("sends one batch when two workers receive the same message at the same time", async () => {
    const m = rig.message();
    // Hold the POST at PassEntry so the second worker arrives while the first is still sending.
    sandbox.injectNext(CREATE_ROUTE, [{ kind: "delay", ms: 150 }]);
    const [a, b] = [rig.worker("a"), rig.worker("b")];

    const answers = await Promise.all([a.deliver(m.record), b.deliver(m.record)]);

    expect(rig.batchesFor(m.requestId)).toHaveLength(1);
    // Exactly one of them sent; the other found the send held and kept the message for later.
    expect(answers.filter((r) => r.batchItemFailures.length === 0)).toHaveLength(1);
    const loser = [a, b].find((w) => w.retries.length > 0)!;
    expect(loser.retries[0]!.error).toMatch(/Another worker holds the send/);
    expect(loser.retries[0]!.delaySeconds).toBeGreaterThan(0);

    // The loser's retry later finds the send decided and posts nothing.
    const retried = await loser.deliver(m.record);
    expect(retried.batchItemFailures).toEqual([]);
    expect(rig.batchesFor(m.requestId)).toHaveLength(1);
    expect(rig.acceptedPostsFor(m.entityId)).toBe(1);
    expect((await rig.view(m.requestId)).status).toBe("submitted");
  });

  it("sends one batch per request when many workers race over many messages", async () => {
    const messages = Array.from({ length: 6 }, () => rig.message());
    const workers = ["a", "b", "c"].map((name) => rig.worker(name));

    // Every worker gets every message, in a different order each, all at once; then the leftovers again.
    await Promise.all(
      workers.map((w, i) => w.deliver([...messages.slice(i), ...messages.slice(0, i)].map((m) => m.record))),
    );
    await Promise.all(workers.map((w) => w.deliver(messages.map((m) => m.record))));

    for (const m of messages) {
      expect(rig.batchesFor(m.requestId)).toHaveLength(1);
      expect(rig.acceptedPostsFor(m.entityId)).toBe(1);
      expect((await rig.view(m.requestId)).status).toBe("submitted");
    }
    expect(sandbox.batches()).toHaveLength(messages.length);
  });
});

describe("local queue with a visibility timeout shorter than the send", () => {
  let rig: StackRig;
  afterEach(async () => {
    await rig.close();
  });

  it("keeps a message hidden while its worker is still on it: a POST slower than the visibility timeout is not handed to a second worker", async () => {
    rig = await startStackRig({ stack: { VISIBILITY_TIMEOUT_SECONDS: 1, SEND_LEASE_MS: 3_000, SENDER_WORKERS: 2 } });
    // The first POST takes longer than the visibility timeout; the worker extends it meanwhile, as a
    // long-running SQS consumer does. (Two workers taking one message is the model run's business.)
    rig.sandbox.injectNext(CREATE_ROUTE, [{ kind: "delay", ms: 1_600 }]);

    const requestId = await rig.accept();
    await rig.stack.drained(20_000);

    const retries = rig.log.lines.filter(
      (l) => l.message === "queue message will be retried" && l.fields.requestId === requestId,
    );
    expect(retries).toEqual([]);
    expect(rig.batchesFor(requestId)).toHaveLength(1);
    expect(rig.acceptedPosts()).toBe(1);
    const status = await rig.status(requestId);
    expect(status.status).toBe("submitted");
    expect(status.batchId).toBe(rig.batchesFor(requestId)[0]!.id);
    expect(rig.stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  });
});
