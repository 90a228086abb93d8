/**
 * Each request reaches PassEntry exactly once, nothing crashes and no wait exceeds the documented
 * bound (5 s plus jitter) through storms of 429s whose `x-rate-limit-retry-after` is sane (`0.35`),
 * garbage (`abc`), negative (`-1`) or absurd (`99999`, 27 hours) (issue 4, scenario 5).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox, type ScriptedFault } from "../../local/passentry-sandbox/sandbox.js";
import { CREATE_ROUTE, runningClock, SANDBOX_TOKEN, startSenderRig, type SenderRig } from "./support/sender-rig.js";
import { startStackRig, type StackRig } from "./support/stack-rig.js";

/** The bound the README promises for one wait: 5 s, plus at most 250 ms of jitter. */
const MAX_WAIT_MS = 5_250;

const tooManyRequests = (retryAfter: string): ScriptedFault => ({
  kind: "status",
  status: 429,
  body: { errors: ["Too Many Requests"] },
  headers: { "x-rate-limit-retry-after": retryAfter },
});

describe("sender in a storm of 429s (fake clock: waits are recorded, not slept)", () => {
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

  it.each(["0.35", "abc", "-1", "99999"])(
    "sends exactly one batch through six 429s with retry-after %s, each wait bounded",
    async (retryAfter) => {
      const m = rig.message();
      sandbox.injectNext(
        CREATE_ROUTE,
        Array.from({ length: 6 }, () => tooManyRequests(retryAfter)),
      );
      const worker = rig.worker("a");

      // Redeliver as SQS would after each kept message, until the send is decided.
      const delays: (number | undefined)[] = [];
      for (let receive = 1; receive <= 5; receive++) {
        const answer = await worker.deliver(m.record);
        if (answer.batchItemFailures.length === 0) break;
        delays.push(worker.retries.at(-1)!.delaySeconds);
        rig.clock.advance((worker.retries.at(-1)!.delaySeconds ?? 1) * 1000);
      }

      expect(sandbox.count429()).toBe(6);
      expect(rig.batchesFor(m.requestId)).toHaveLength(1);
      expect(rig.acceptedPostsFor(m.entityId)).toBe(1);
      expect((await rig.view(m.requestId)).status).toBe("submitted");
      expect(rig.sleeps.length).toBeGreaterThan(0);
      for (const ms of rig.sleeps) {
        expect(ms).toBeGreaterThan(0);
        expect(ms).toBeLessThanOrEqual(MAX_WAIT_MS);
      }
      // When the sender gives the message back, the delay it asks of the queue is bounded as well.
      for (const seconds of delays) expect(seconds ?? 0).toBeLessThanOrEqual(Math.ceil(MAX_WAIT_MS / 1000));
    },
  );

  it("never waits past the invocation's remaining time, giving the message back instead", async () => {
    const m = rig.message();
    sandbox.injectNext(CREATE_ROUTE, [tooManyRequests("99999"), tooManyRequests("99999")]);
    const worker = rig.worker("a");

    // 18 s left: one 5 s wait plus the 15 s reserve would not fit, so no wait at all.
    const answer = await worker.deliver(m.record, 18_000);

    expect(rig.sleeps).toEqual([]);
    expect(answer.batchItemFailures).toHaveLength(1);
    expect(rig.batchesFor(m.requestId)).toHaveLength(0);
    // The send was given back (PassEntry certainly did not create it): the next receive posts at once.
    rig.clock.advance(worker.retries[0]!.delaySeconds! * 1000);
    await worker.deliver(m.record);
    await worker.deliver(m.record);
    expect(rig.batchesFor(m.requestId)).toHaveLength(1);
    expect((await rig.view(m.requestId)).status).toBe("submitted");
  });
});

describe("local stack in a storm of 429s (real time)", () => {
  let rig: StackRig;
  afterEach(async () => {
    await rig.close();
  });

  it("delivers once within a few seconds when PassEntry says to retry after 99999 s (27 hours)", async () => {
    // The rig tests above check every retry-after value's waits on a fake clock; this one checks
    // the worst of them against the wall clock, through the real queue runner and sleep.
    rig = await startStackRig();
    rig.sandbox.injectNext(CREATE_ROUTE, [tooManyRequests("99999")]);

    const startedAt = Date.now();
    const requestId = await rig.accept();
    await rig.stack.drained(20_000);
    const tookMs = Date.now() - startedAt;

    expect(rig.sandbox.count429()).toBe(1);
    expect(rig.batchesFor(requestId)).toHaveLength(1);
    expect(rig.acceptedPosts()).toBe(1);
    expect((await rig.status(requestId)).status).toBe("submitted");
    // The sender waits at most 5.25 s; the rest is slack for a busy machine, not for hours.
    expect(tookMs).toBeLessThan(12_000);
    const waits = rig.log.lines
      .filter((l) => l.message === "rate limited by PassEntry; waiting")
      .map((l) => l.fields.waitMs as number);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(5_000);
    expect(waits[0]).toBeLessThanOrEqual(MAX_WAIT_MS);
  });

  it("delivers a burst above PassEntry's real limit (10/s) exactly once per request", async () => {
    // Our client paces at 25/s here, well above the sandbox's real 10/s, so genuine 429s with
    // computed retry-after values come back.
    rig = await startStackRig({
      sandbox: { rateLimitPerSecond: 10 },
      stack: { PASSENTRY_RATE_PER_SECOND: 25, SENDER_WORKERS: 3 },
    });

    const ids = await Promise.all(Array.from({ length: 24 }, () => rig.accept()));
    await rig.stack.drained(30_000);

    expect(rig.sandbox.count429()).toBeGreaterThan(0);
    for (const id of ids) {
      expect(rig.batchesFor(id)).toHaveLength(1);
      expect((await rig.status(id)).status).toBe("submitted");
    }
    expect(rig.acceptedPosts()).toBe(ids.length);
    expect(rig.stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  });
});
