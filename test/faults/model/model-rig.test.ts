/**
 * The model rig does what model-rig.ts says (its gates, crashes, clock and in-process PassEntry;
 * issue 10): if it did not, the model run would judge the send ledger on a false premise. These run
 * in `npm test`, beside the model run and the regressions.
 */
import { describe, expect, it } from "vitest";
import { HOMES, MODEL_EPOCH, ModelRig, PASSENTRY_TIMEOUT_MS, type ParkedCall } from "./model-rig.js";
import { defaultIntents, SHARED_MESSAGE, sharingIntents, World } from "./model-world.js";

const at = (port: ParkedCall["port"], op: string) => (call: ParkedCall) => call.port === port && call.op === op;

async function withRig(home: "aws" | "local", run: (world: World, rig: ModelRig) => Promise<void>): Promise<void> {
  const rig = await ModelRig.start({ home });
  try {
    await run(new World(rig, defaultIntents()), rig);
  } finally {
    rig.close();
  }
}

describe("the model rig", () => {
  for (const home of ["aws", "local"] as const) {
    it(`${home}: without faults, delivers every request once (send-now sent now, tracking to the end) and keeps every invariant`, async () => {
      await withRig(home, async (world, rig) => {
        for (const intent of world.intents) await world.submit(intent.label);
        await world.drainAndCheck();
        const batches = rig.passEntry.batches();
        expect(
          batches
            .filter((b) => b.message !== SHARED_MESSAGE)
            .map((b) => b.message)
            .sort(),
        ).toEqual([
          "Model A: scheduled in 70 minutes",
          "Model B: send now",
          "Model C: two parts",
          "Model C: two parts",
          "Model D: from the SQS door",
        ]);
        expect(batches.find((b) => b.message === "Model B: send now")!.sentNowAt).not.toBeNull();
        // The drain hands out five messages at a time: S2, S3 and X arrive together and share; PassEntry
        // refuses X's pass, so the shared batch is halved and X fails alone.
        for (const intent of sharingIntents())
          expect(world.batchesOf(world.intent(intent.label)), intent.label).toHaveLength(
            intent.member!.refused ? 0 : 1,
          );
        expect(
          batches.filter((b) => world.carried(b).length > 1).map((b) => world.carried(b).map((c) => c.intent.label)),
        ).toEqual([["S2", "S3"]]);
        expect((await rig.view(world.accepted.get("X")!.requestId!))!.status).toBe("failed");
        expect(rig.deadLetters()).toEqual([]);
        expect(rig.liveMessages()).toEqual([]);
      });
    });
  }

  it("stops a worker before each port call, so another actor can act between any two of its calls", async () => {
    await withRig("aws", async (world, rig) => {
      await world.submit("A");
      await rig.receive("w0");
      expect(rig.parkedCall("w0")).toMatchObject({ port: "store", op: "ensure" });
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      expect(rig.passEntry.batches(), "nothing is posted while the worker waits at the gate").toEqual([]);
      await rig.step("w0");
      expect(rig.passEntry.batches()).toHaveLength(1);
      // Recording the batch is the holder's compare-and-set over the version it last wrote: a write, no read first.
      expect(rig.parkedCall("w0")).toMatchObject({ port: "ledger", op: "write" });
    });
  });

  it("a crashed worker makes that call and no later one; its message comes back after the visibility timeout to a fresh instance", async () => {
    await withRig("aws", async (world, rig) => {
      await world.submit("A");
      await rig.receive("w0");
      const before = rig.actorId("w0");
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      await rig.step("w0"); // PassEntry creates the batch; the worker is about to record it
      await rig.crash("w0");
      expect(rig.isIdle("w0")).toBe(true);
      expect(rig.actorId("w0"), "a new instance (new owner id) takes the slot").not.toBe(before);
      const requestId = world.accepted.get("A")!.requestId!;
      expect((await rig.view(requestId))!.parts[0]!.state, "the batch was never recorded").toBe("claimed");
      expect(rig.hasVisibleMessage()).toBe(false);
      rig.advance(HOMES.aws.visibilityMs);
      expect(rig.liveMessages()[0]!.receiveCount).toBe(1);
      expect(rig.hasVisibleMessage()).toBe(true);
    });
  });

  it("on the AWS home, an instance whose deadline passes during a PassEntry call dies with the answer lost, the effect done", async () => {
    await withRig("aws", async (world, rig) => {
      await world.submit("A");
      await rig.receive("w0");
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      // The POST leaves within half its lease (40 s after its claim was checked), then takes 25 s.
      rig.advance(40_000);
      await rig.step("w0", { kind: "slow", ms: 25_000 });
      expect(rig.deadlineKills).toEqual([{ actorId: "w0.0", at: MODEL_EPOCH + 65_000, duringCall: "createBatch" }]);
      expect(rig.passEntry.batches()).toHaveLength(1);
      expect((await rig.view(world.accepted.get("A")!.requestId!))!.parts[0]!.state).toBe("claimed");
    });
  });

  it("PassEntry faults: a 5xx before the effect creates nothing, after it creates the batch; a late timeout creates it later", async () => {
    await withRig("local", async (world, rig) => {
      await world.submit("A");
      await world.submit("B");
      await world.submit("C");
      await rig.receive("w0");
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      await rig.step("w0", { kind: "5xx", status: 500, afterEffect: false });
      expect(rig.passEntry.batches()).toHaveLength(0);

      await rig.receive("w1");
      await rig.runUntil("w1", at("passEntry", "createBatch"));
      await rig.step("w1", { kind: "5xx", status: 502, afterEffect: true });
      expect(rig.passEntry.batches()).toHaveLength(1);

      await rig.receive("w2");
      await rig.runUntil("w2", at("passEntry", "createBatch"));
      const startedAt = rig.clock.now();
      await rig.step("w2", { kind: "timeout", effect: { lateMs: 20_000 } });
      expect(rig.clock.now() - startedAt, "the caller waited its client timeout").toBe(PASSENTRY_TIMEOUT_MS);
      expect(rig.passEntry.batches()).toHaveLength(1);
      rig.advance(10_000);
      expect(rig.passEntry.batches()).toHaveLength(2);
      expect(
        rig.passEntry.creations.at(-1)!.at - startedAt,
        "created when it was due, not when the clock next moved",
      ).toBe(20_000);
    });
  });

  it("a 429 makes the sender sleep on a gate, and releasing the sleep moves the one clock", async () => {
    await withRig("aws", async (world, rig) => {
      await world.submit("A");
      await rig.receive("w0");
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      await rig.step("w0", { kind: "429", retryAfter: "2" });
      const sleep = await rig.runUntil("w0", at("sleep", "sleep"));
      expect(sleep.port).toBe("sleep");
      const before = rig.clock.now();
      await rig.step("w0");
      expect(rig.clock.now() - before).toBeGreaterThanOrEqual(2_000);
    });
  });

  it("redrives a dead letter as SQS does: the same body under a new message id", async () => {
    await withRig("aws", async (world, rig) => {
      await world.submit("D");
      for (let receive = 1; receive <= HOMES.aws.settings.maxReceives; receive++) {
        await rig.receive("w0");
        await rig.crash("w0");
        rig.advance(HOMES.aws.visibilityMs);
      }
      expect(await rig.receive("w0"), "the next receive dead-letters it").toBe(false);
      const [dead] = rig.deadLetters();
      expect(dead).toBeDefined();
      expect(await rig.redrive()).toBe(1);
      const [back] = rig.liveMessages();
      expect(back!.body).toBe(dead!.body);
      expect(back!.messageId).not.toBe(dead!.messageId);
      expect(back!.receiveCount).toBe(0);
    });
  });

  it("a DELETE runs as a gated actor too, and only a 202 counts as acknowledged", async () => {
    await withRig("aws", async (world, rig) => {
      await world.submit("A");
      await world.startCancel("A");
      expect(rig.parkedCall(rig.cancellerName)).toMatchObject({ port: "store", op: "get" });
      await rig.runUntil(rig.cancellerName, at("queue", "send"));
      await rig.crash(rig.cancellerName);
      expect(rig.cancelAnswers, "a dead API function acknowledges nothing").toEqual([]);
      expect(await world.cancel("A")).toBe(202);
      expect(rig.cancelAnswers.at(-1)!.shownStates.get(0)).toBe("cancelled");
    });
  });
});
