/**
 * Every accepted request is delivered exactly once (none lost, none doubled) through a PassEntry
 * outage (nothing but 5xx for a while, then recovery, dead letters redriven) and through a rotation
 * of PassEntry's token under a running sender (issue 4, scenarios 6 and 7).
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSandbox } from "../../local/passentry-sandbox/sandbox.js";
import { CREATE_ROUTE, runningClock, SANDBOX_TOKEN, startSenderRig, waitFor } from "./support/sender-rig.js";
import { startStackRig, type StackRig } from "./support/stack-rig.js";

describe("local stack through a PassEntry outage", () => {
  let rig: StackRig;
  afterEach(async () => {
    await rig.close();
  });

  it("delivers every request exactly once after a 5xx outage, redriving what reached the dead-letter queue", {
    timeout: 60_000,
  }, async () => {
    // A realistic maxReceives, and short timings so the outage outlasts it within the test's budget.
    // The 5xx settle (1 s in production) is cut to 50 ms: each receive answers up to four 5xx in a row.
    rig = await startStackRig({
      stack: {
        MAX_RECEIVES: 3,
        VISIBILITY_TIMEOUT_SECONDS: 2,
        SEND_LEASE_MS: 300,
        SENDER_WORKERS: 2,
        timings: { serverErrorSettleMs: 50 },
      },
    });
    rig.sandbox.setFaults({ errorRate: 1 });

    const ids = await Promise.all(Array.from({ length: 5 }, () => rig.accept()));
    await waitFor("a message to be dead-lettered during the outage", () => rig.stack.queue.depth().dead > 0, 30_000);
    const failedDuringOutage = rig.sandbox
      .requests()
      .filter((r) => typeof r.status === "number" && r.status >= 500).length;
    rig.sandbox.setFaults({ errorRate: 0 });
    await rig.stack.drained(30_000);
    const deadLetters = rig.stack.queue.deadLetters();
    expect(deadLetters.length).toBeGreaterThan(0);
    expect(deadLetters.every((d) => d.lastError !== null)).toBe(true);

    expect(rig.stack.queue.redrive()).toBe(deadLetters.length);
    await rig.stack.drained(30_000);

    expect(failedDuringOutage).toBeGreaterThanOrEqual(ids.length);
    expect(rig.sandbox.batches()).toHaveLength(ids.length);
    for (const id of ids) {
      expect(rig.batchesFor(id)).toHaveLength(1);
      const status = await rig.status(id);
      expect(status.status).toBe("submitted");
      expect(status.batchId).toBe(rig.batchesFor(id)[0]!.id);
    }
    expect(rig.acceptedPosts()).toBe(ids.length);
    expect(rig.stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  });
});

describe("local stack when PassEntry's token is rotated", () => {
  let rig: StackRig;
  afterEach(async () => {
    await rig.close();
  });

  it("keeps the request through 401s and delivers it once when the new token is configured", async () => {
    rig = await startStackRig({ stack: { VISIBILITY_TIMEOUT_SECONDS: 2 } });
    // PassEntry has rotated to a new token; we still hold the old one.
    rig.sandbox.setTokens(["faults-token-rotated"]);

    const requestId = await rig.accept();
    await waitFor("PassEntry to refuse the old token", () =>
      rig.sandbox.requests().some((r) => r.routeKey === CREATE_ROUTE && r.status === 401),
    );
    expect(rig.sandbox.batches()).toEqual([]);
    expect((await rig.status(requestId)).status).toBe("queued");

    rig.stack.secrets.set("passentry-token", "faults-token-rotated");
    await rig.stack.drained(20_000);

    expect(rig.batchesFor(requestId)).toHaveLength(1);
    const created = rig.sandbox.requests().filter((r) => r.routeKey === CREATE_ROUTE && r.status === 202);
    expect(created).toHaveLength(1);
    expect(created[0]!.authorized).toBe(true);
    const status = await rig.status(requestId);
    expect(status.status).toBe("submitted");
    expect(status.batchId).toBe(rig.batchesFor(requestId)[0]!.id);
    expect(rig.stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  });
});

describe("sender whose cached token PassEntry no longer accepts", () => {
  it("fetches the rotated token after the 401 and delivers once, in the same attempt", async () => {
    const sandbox = await startSandbox({ tokens: [SANDBOX_TOKEN], rateLimitPerSecond: 1000, now: runningClock().now });
    const rig = await startSenderRig({ sandbox });
    try {
      const worker = rig.worker("a");
      await worker.deliver(rig.message().record); // caches the current token
      sandbox.setTokens(["faults-token-rotated"]);
      rig.secrets.set("passentry-token", "faults-token-rotated");
      const m = rig.message();

      const answer = await worker.deliver(m.record);

      expect(answer.batchItemFailures).toEqual([]);
      const attempts = sandbox.requests().filter((r) => r.path === `/api/v1/entities/${m.entityId}/messaging/wallet`);
      expect(attempts.map((r) => r.status)).toEqual([401, 202]);
      expect(rig.batchesFor(m.requestId)).toHaveLength(1);
      expect((await rig.view(m.requestId)).status).toBe("submitted");
    } finally {
      rig.close();
      await sandbox.close();
    }
  });
});
