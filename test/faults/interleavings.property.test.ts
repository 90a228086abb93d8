/**
 * Never two batches for one business key, and every request decided after a quiet drain, whatever
 * the queue, two workers and PassEntry do to a few requests in any order (issue 4, scenario 10): deliveries to either worker, two workers racing, duplicate copies of a message,
 * a worker dying after its claim or after PassEntry's 202, 429s (sane and insane retry-after), 5xx,
 * dropped connections before and after the create, a failing batch list, and time passing so leases
 * lapse. The sandbox must never hold two batches for one business key, and after a quiet drain every
 * request must be decided, with exactly one batch unless it is `unknown`.
 *
 * Time is a fake clock that moves only when the scenario says so (the sender's 429 waits are
 * recorded, not slept), so leases lapse exactly when the model lets them: never while PassEntry is
 * still working on a request, which is the premise the README states.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { splitIntoChunks } from "../../functions/core/batch-rules.js";
import { startSandbox, type Sandbox, type ScriptedFault } from "../../local/passentry-sandbox/sandbox.js";
import {
  CREATE_ROUTE,
  LIST_ROUTE,
  runningClock,
  SANDBOX_TOKEN,
  startSenderRig,
  type SenderRig,
  type TestMessage,
  type Worker,
} from "./support/sender-rig.js";

const LEASE_MS = 10_000;
/** Longer than the lease and than the outage breaker's longest cooldown (60 s). */
const QUIET_STEP_MS = 61_000;
const MESSAGES = 3;
const DRAIN_ROUNDS = 25;

type Fault = { on: "create"; fault: ScriptedFault } | { on: "list"; fault: ScriptedFault };

type Action =
  | { t: "deliver"; worker: number; msg: number }
  | { t: "race"; msg: number }
  | { t: "copy"; worker: number; msg: number }
  | { t: "crashAfterPost"; worker: number; msg: number }
  | { t: "crashBeforePost"; worker: number; msg: number }
  | { t: "inject"; fault: Fault }
  | { t: "advance"; ms: number };

const rateLimited = (retryAfter: string): ScriptedFault => ({
  kind: "status",
  status: 429,
  headers: { "x-rate-limit-retry-after": retryAfter },
});

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.constantFrom("0.35", "abc", "-1", "99999").map((v) => ({ on: "create" as const, fault: rateLimited(v) })),
  fc
    .constantFrom(500, 502, 503)
    .map((status) => ({ on: "create" as const, fault: { kind: "status", status } as ScriptedFault })),
  fc.constant<Fault>({ on: "create", fault: { kind: "drop" } }),
  fc.constant<Fault>({ on: "create", fault: { kind: "drop-after-create" } }),
  fc.constant<Fault>({ on: "list", fault: { kind: "status", status: 503 } }),
);

const worker = fc.integer({ min: 0, max: 1 });
const msg = fc.integer({ min: 0, max: MESSAGES - 1 });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant("deliver" as const), worker, msg }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("race" as const), msg }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("copy" as const), worker, msg }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("crashAfterPost" as const), worker, msg }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("crashBeforePost" as const), worker, msg }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant("inject" as const), fault: faultArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.constantFrom(1_000, LEASE_MS + 1) }) },
);

describe("sender under random interleavings of deliveries, crashes, faults and lapsing leases", () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ tokens: [SANDBOX_TOKEN], rateLimitPerSecond: 10_000, now: runningClock().now });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  /** Every business key of every message, with the batches the sandbox holds for it. */
  function keysOf(rig: SenderRig, messages: TestMessage[]) {
    return messages.flatMap((m) =>
      splitIntoChunks(m.body.batch as never).map((_, chunk) => ({
        message: m,
        chunk,
        batches: rig.batchesFor(m.requestId, chunk),
      })),
    );
  }

  function assertAtMostOnce(rig: SenderRig, messages: TestMessage[], after: string) {
    for (const key of keysOf(rig, messages)) {
      if (key.batches.length > 1)
        throw new Error(
          `${key.message.requestId}#${key.chunk} reached PassEntry ${key.batches.length} times (after ${after}).`,
        );
    }
    for (const m of messages) {
      const chunks = splitIntoChunks(m.body.batch as never).length;
      const accepted = rig.acceptedPostsFor(m.entityId);
      if (accepted > chunks)
        throw new Error(
          `${m.requestId} had ${accepted} create POSTs answered 202 for ${chunks} chunk(s) (after ${after}).`,
        );
    }
  }

  async function run(actions: Action[]): Promise<void> {
    sandbox.reset();
    const rig = await startSenderRig({ sandbox, leaseMs: LEASE_MS, sleepMovesClock: false });
    try {
      const workers: Worker[] = [rig.worker("a"), rig.worker("b")];
      const recipients = Array.from({ length: 501 }, (_, i) => ({ passId: `pass-${i}` }));
      const messages = [
        rig.message(),
        rig.message(),
        // Two chunks (501 recipients): two business keys in one message.
        rig.message({ batch: { message: "Two chunks", recipients, scheduledAt: "2030-03-31T13:16:26Z" } }),
      ];
      const at = (i: number) => messages[i % messages.length]!;

      for (const [step, action] of actions.entries()) {
        switch (action.t) {
          case "deliver":
            await workers[action.worker]!.deliver(at(action.msg).record);
            break;
          case "race":
            await Promise.all(workers.map((w) => w.deliver(at(action.msg).record)));
            break;
          case "copy":
            await workers[action.worker]!.deliver(rig.copyOf(at(action.msg)));
            break;
          case "crashAfterPost": {
            const w = workers[action.worker]!;
            w.crash.afterPost = 1;
            await w.deliver(at(action.msg).record);
            w.crash.afterPost = 0;
            break;
          }
          case "crashBeforePost": {
            const w = workers[action.worker]!;
            w.crash.beforePost = 1;
            await w.deliver(at(action.msg).record);
            w.crash.beforePost = 0;
            break;
          }
          case "inject":
            sandbox.injectNext(action.fault.on === "create" ? CREATE_ROUTE : LIST_ROUTE, [action.fault.fault]);
            break;
          case "advance":
            rig.clock.advance(action.ms);
            break;
        }
        assertAtMostOnce(rig, messages, `step ${step}: ${JSON.stringify(action)}`);
      }

      // Quiet drain: no new faults (leftover scripted ones are consumed along the way), time passes
      // so every lease and cooldown lapses, and each undecided message is delivered again.
      for (let round = 0; round < DRAIN_ROUNDS; round++) {
        const undecided = [];
        for (const m of messages) {
          // A message no worker has taken yet has no stored request: it is still waiting in the queue.
          const status = (await rig.store.get(m.requestId)) ? (await rig.view(m.requestId)).status : "queued";
          if (!["submitted", "failed", "unknown"].includes(status)) undecided.push(m);
        }
        if (undecided.length === 0) break;
        rig.clock.advance(QUIET_STEP_MS);
        for (const m of undecided) await workers[round % 2]!.deliver(m.record);
        assertAtMostOnce(rig, messages, `drain round ${round}`);
      }

      for (const m of messages) {
        const view = await rig.view(m.requestId);
        expect(view.status, `${m.requestId} after the drain`).toMatch(/^(submitted|failed|unknown)$/);
        // Nothing here can make a send undecidable or permanently refused: every one must be submitted.
        expect(view.status).toBe("submitted");
        for (const sent of view.batches) {
          const batches = rig.batchesFor(m.requestId, sent.chunk);
          expect(batches, `${m.requestId}#${sent.chunk}`).toHaveLength(1);
          expect(sent.batchId).toBe(batches[0]!.id);
        }
      }
      expect(sandbox.batches()).toHaveLength(keysOf(rig, messages).length);
    } finally {
      rig.close();
    }
  }

  it("never sends a business key twice, and decides every request once the faults stop", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 20 }), (actions) => run(actions)),
      { numRuns: 100, interruptAfterTimeLimit: 40_000 },
    );
  }, 60_000);

  it("holds on a hand-picked schedule: crash after the 202, a copy races the reconciliation, then faults", async () => {
    await run([
      { t: "crashAfterPost", worker: 0, msg: 0 },
      { t: "copy", worker: 1, msg: 0 },
      { t: "inject", fault: { on: "create", fault: { kind: "drop-after-create" } } },
      { t: "deliver", worker: 1, msg: 1 },
      { t: "advance", ms: LEASE_MS + 1 },
      { t: "inject", fault: { on: "list", fault: { kind: "status", status: 503 } } },
      { t: "race", msg: 0 },
      { t: "race", msg: 1 },
      { t: "inject", fault: { on: "create", fault: rateLimited("99999") } },
      { t: "crashAfterPost", worker: 1, msg: 2 },
      { t: "advance", ms: LEASE_MS + 1 },
      { t: "race", msg: 2 },
    ]);
  });
});
