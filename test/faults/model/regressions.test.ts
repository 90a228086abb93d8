/**
 * Each failure the send ledger once had stays fixed: issue 10's nine observed failures, and what the
 * model run later found in shared batches, each as a named, deterministic scenario on the model rig:
 * scripted steps instead of random ones, then the quiet drain and every invariant of the model
 * (model-world.ts), then what the item itself promises from outside (what PassEntry received, what
 * the request says, what the queue holds, how long it took).
 *
 * Written against the code the issue was filed on (main at 566f3f4), where every one of them
 * failed; they pass on the send state machine that replaced it. Items 9 (retry timing) and 6 (a missing follow-up re-queued) expect behaviour the issue's new
 * design defines; the expectation is written as a caller would observe it.
 *
 * The last group holds what the model run found in shared batches (issue 14), each failing on the
 * code it was found on (issue-14-coalescing at 258c772) unless its comment says otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalDynamoDb, type LocalDynamoDb } from "../../adapters/support/local-dynamodb.js";
import {
  HOMES,
  ModelRig,
  type HomeName,
  type ModelRigOptions,
  type ParkedCall,
  type PassEntryFault,
} from "./model-rig.js";
import { memberIntent, recipients, World, type Intent } from "./model-world.js";

const IN_2030 = "2030-03-31T13:16:26Z";
const at = (port: ParkedCall["port"], op: string) => (call: ParkedCall) => call.port === port && call.op === op;

/** A request scheduled in 2030 (never tracked): the plainest thing to send. */
function scheduled(label: string, extra: Record<string, unknown> = {}): Intent {
  const message = `Regression ${label}: scheduled`;
  return {
    label,
    door: "http",
    message,
    parts: 1,
    sendNow: false,
    batch: () => ({ message, segments: [{ groupTag: "regression" }], scheduledAt: IN_2030, ...extra }),
  };
}

function sendNow(label: string): Intent {
  const message = `Regression ${label}: send now`;
  return {
    label,
    door: "http",
    message,
    parts: 1,
    sendNow: true,
    batch: () => ({ message, segments: [{ groupTag: "regression" }] }),
  };
}

function manyParts(label: string, parts: number): Intent {
  const message = `Regression ${label}: ${parts} parts`;
  return {
    label,
    door: "http",
    message,
    parts,
    sendNow: false,
    batch: () => ({ message, recipients: recipients(label, parts * 500), scheduledAt: IN_2030 }),
  };
}

async function withWorld(
  options: ModelRigOptions,
  intents: Intent[],
  scenario: (world: World, rig: ModelRig) => Promise<void>,
): Promise<void> {
  const rig = await ModelRig.start(options);
  try {
    await scenario(new World(rig, intents), rig);
  } finally {
    rig.close();
  }
}

/** The intent's batches at PassEntry, found by content. */
const batchesOf = (world: World, label: string) => world.batchesOf(world.intent(label));

/** Seconds from the first create POST for `label` to the creation of its batch. */
function secondsToDeliver(world: World, rig: ModelRig, label: string): number {
  const message = world.intent(label).message;
  const first = rig.passEntry.calls.find(
    (c) => c.op === "createBatch" && (c.body as { batch?: { message?: string } }).batch?.message === message,
  );
  const batch = batchesOf(world, label)[0];
  const creation = rig.passEntry.creations.find((c) => c.batchId === batch?.id);
  if (!first || !creation) throw new Error(`${label} was never delivered.`);
  return (creation.at - first.at) / 1000;
}

describe("issue 10, the nine observed failures", () => {
  it("1. a caller's batch name containing another request's marker does not make that request count someone else's batch as its own", async () => {
    // Y copies, in its own name and tag, whatever X put in the batch it tried to post.
    let copied: { name?: string; tag?: string } = {};
    const y: Intent = {
      ...scheduled("Y"),
      batch: () => ({
        message: "Regression Y: scheduled",
        segments: [{ groupTag: "regression" }],
        scheduledAt: IN_2030,
        name: `Copy of promo ${copied.name ?? ""}`.trim(),
        ...(copied.tag ? { tag: copied.tag } : {}),
      }),
    };
    await withWorld({ home: "aws" }, [scheduled("X"), y], async (world, rig) => {
      await world.submit("X");
      await rig.receive("w0");
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      // PassEntry answers 500 and creates nothing.
      await rig.step("w0", { kind: "5xx", status: 500, afterEffect: false });
      await rig.runToEnd("w0");
      const attempted = (
        rig.passEntry.calls.find((c) => c.op === "createBatch")!.body as { batch: { name?: string; tag?: string } }
      ).batch;
      copied = {
        ...(attempted.name ? { name: attempted.name } : {}),
        ...(attempted.tag ? { tag: attempted.tag } : {}),
      };

      // Y is refused at the door (a name or tag with marker syntax: 422), or accepted and sent.
      await world.submit("Y");
      if (world.accepted.has("Y")) {
        await rig.receive("w1");
        await rig.runToEnd("w1");
      } else {
        expect(world.refused.get("Y")).toMatch(/^422/);
      }

      await world.drainAndCheck();
      const ours = batchesOf(world, "X");
      expect(ours, "X's own message reaches PassEntry exactly once").toHaveLength(1);
      expect((await rig.view(world.accepted.get("X")!.requestId!))!.parts[0]!.batchId).toBe(ours[0]!.id);
    });
  });

  it("2. a worker still paging through a slow reconciliation after its lease lapsed does not post a second batch", async () => {
    // The embedded home: 60 s lease, 30 s visibility, reconciliation pages 10+ s each.
    await withWorld({ home: "local" }, [scheduled("X")], async (world, rig) => {
      rig.passEntry.prefill(170); // a busy account: seven pages of other batches
      await world.submit("X");
      await rig.receive("w0");
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      await rig.step("w0", { kind: "timeout", effect: "never" }); // outcome unknown, claim kept
      await rig.runToEnd("w0");
      rig.advance(61_000); // the lease has lapsed; the message is visible again

      await rig.receive("w1"); // reclaims and starts reconciling
      for (let page = 1; page <= 6; page++) {
        await rig.runUntil("w1", at("passEntry", "listBatches"));
        await rig.step("w1", { kind: "slow", ms: 11_000 });
      }
      // 66 s of paging: w1's lease has lapsed and its message is visible again. w2 takes over.
      await rig.receive("w2");
      await rig.runToEnd("w2");
      await rig.runToEnd("w1"); // w1 reads its last page and decides

      await world.drainAndCheck();
      expect(batchesOf(world, "X"), "X reaches PassEntry exactly once").toHaveLength(1);
    });
  });

  it("3a. a clean 429 after an unknown outcome does not make the next attempt post without reconciling", async () => {
    await withWorld({ home: "aws" }, [scheduled("X")], async (world, rig) => {
      await world.submit("X");
      await rig.receive("w0");
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      // The POST times out; PassEntry shows the batch 20 s later, within the settle window that follows a
      // timeout (the premise the README states: a batch whose creation outlives that window can be posted
      // twice, whatever the design, since nothing can tell "not yet" from "never").
      await rig.step("w0", { kind: "timeout", effect: { lateMs: 20_000 } });
      await rig.runToEnd("w0");
      // Every POST from now on would meet a rate limit for a while: the part is handed back and
      // claimed again, and it must still be searched for first rather than posted.
      rig.passEntry.script(
        "createBatch",
        Array.from({ length: 6 }, (): PassEntryFault => ({ kind: "429", retryAfter: "0.35" })),
      );

      await world.drainAndCheck();
      expect(batchesOf(world, "X"), "X reaches PassEntry exactly once").toHaveLength(1);
    });
  });

  it("3b. a cancel acknowledged during a 429 wait is not erased: the message is never delivered", async () => {
    await withWorld({ home: "local" }, [sendNow("X")], async (world, rig) => {
      rig.passEntry.script(
        "createBatch",
        Array.from({ length: 4 }, (): PassEntryFault => ({ kind: "429", retryAfter: "0.35" })),
      );
      await world.submit("X");
      await rig.receive("w0");
      await rig.runUntil("w0", at("sleep", "sleep")); // waiting out the first 429

      expect(await world.cancel("X")).toBe(202);
      await rig.receive("w1"); // the cancel follow-up, while w0 still holds the send
      await rig.runToEnd("w1");
      await rig.runToEnd("w0"); // three more 429s: it gives the send back

      await world.drainAndCheck();
      const ours = batchesOf(world, "X");
      expect(
        ours.every((b) => b.status === "cancelled"),
        `X's batches: ${ours.map((b) => b.status).join(", ") || "none"}`,
      ).toBe(true);
    });
  });

  describe("on the DynamoDB ledger (dynalite)", () => {
    let dynamo: LocalDynamoDb;
    beforeAll(async () => {
      dynamo = await startLocalDynamoDb();
    });
    afterAll(async () => {
      await dynamo.close();
    });

    it("4. a cancel landing between a worker's read of the ledger entry and its write is not lost", async () => {
      await withWorld({ home: "aws", ledger: { kind: "dynamodb", dynamo } }, [scheduled("X")], async (world, rig) => {
        await world.submit("X");
        await rig.receive("w0");
        await rig.runUntil("w0", at("passEntry", "createBatch"));
        await rig.step("w0", { kind: "timeout", effect: "never" }); // outcome unknown, claim kept
        await rig.runToEnd("w0");
        rig.advance(362_000); // lease lapsed, message visible again

        // w1 takes over the lapsed claim: stop it at its first ledger write after reading X's entry
        // (today: the PutItem that rewrites the whole item from the GetItem before it).
        await rig.receive("w1");
        let readIt = false;
        for (;;) {
          const call = rig.parkedCall("w1");
          if (!call) throw new Error("w1 finished before writing the ledger entry it read.");
          if (
            call.port === "dynamodb" &&
            readIt &&
            /^(PutItem|UpdateItem|DeleteItem|TransactWriteItems)$/.test(call.op)
          )
            break;
          if (call.port === "passEntry" && call.op === "createBatch") break; // a design that never reads before writing
          if (call.port === "dynamodb" && /^(GetItem|Query)$/.test(call.op)) readIt = true;
          await rig.step("w1");
        }
        expect(await world.cancel("X")).toBe(202);
        await rig.runToEnd("w1");

        await world.drainAndCheck();
        const ours = batchesOf(world, "X");
        expect(
          ours.every((b) => b.status === "cancelled"),
          `X's batches: ${ours.map((b) => b.status).join(", ") || "none"}`,
        ).toBe(true);
      });
    });
  });

  it("5. a cancellation that gave up is applied when reconciliation later finds the batch", async () => {
    await withWorld({ home: "aws" }, [scheduled("X")], async (world, rig) => {
      await world.submit("X");
      await rig.receive("w0");
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      await rig.step("w0", { kind: "drop-after-effect" }); // PassEntry has the batch; we do not know it
      await rig.runToEnd("w0");
      expect(await world.cancel("X")).toBe(202);
      // Reconciliation cannot read PassEntry's list for a while: the cancellation keeps meeting a send in flight.
      rig.passEntry.script(
        "listBatches",
        Array.from({ length: 4 }, (): PassEntryFault => ({ kind: "5xx", status: 503, afterEffect: false })),
      );

      await rig.quietDrain();
      await rig.redrive(); // whatever was dead-lettered meanwhile, as an operator would
      await world.drainAndCheck();
      expect(batchesOf(world, "X").map((b) => b.status)).toEqual(["cancelled"]);
    });
  });

  describe("6. follow-ups are part of finishing a send", () => {
    it("a send-now request whose first follow-up could not be queued is still sent now and tracked", async () => {
      await withWorld({ home: "aws" }, [sendNow("X")], async (world, rig) => {
        await world.submit("X");
        await rig.receive("w0");
        await rig.runUntil("w0", at("queue", "send"));
        await rig.step("w0", { kind: "queue-send-fails" });
        await rig.runToEnd("w0");
        // SQS may deliver the message again: it must not leave the send half finished either.
        await rig.deliverCopy("w1", 0);
        await rig.runToEnd("w1");

        await world.drainAndCheck();
        const [batch] = batchesOf(world, "X");
        expect(batch?.sentNowAt, "PassEntry got send-now").not.toBeNull();
        expect((await rig.view(world.accepted.get("X")!.requestId!))!.parts[0]!.batchStatus).toBe(batch?.status);
      });
    });

    it("an instance that dies after recording the send, before queueing its follow-up, leaves the follow-up to the redelivery", async () => {
      await withWorld({ home: "aws" }, [sendNow("X")], async (world, rig) => {
        await world.submit("X");
        await rig.receive("w0");
        await rig.runUntil("w0", at("queue", "send"));
        await rig.crash("w0");

        await world.drainAndCheck();
        expect(batchesOf(world, "X")[0]?.sentNowAt, "PassEntry got send-now").not.toBeNull();
      });
    });
  });

  describe("found by the model run after the rewrite", () => {
    it("an instance that dies after PassEntry accepted send-now, before queueing tracking, leaves tracking to the redelivery", async () => {
      await withWorld({ home: "aws" }, [sendNow("X")], async (world, rig) => {
        await world.submit("X");
        await rig.receive("w0");
        await rig.runToEnd("w0"); // the batch is created and its send-now follow-up queued
        rig.advance(5_000);
        await rig.receive("w1"); // the send-now follow-up
        await rig.runUntil("w1", at("passEntry", "sendNow"));
        await rig.step("w1"); // PassEntry sends it now
        await rig.runUntil("w1", at("queue", "send")); // send-now recorded; tracking not yet queued
        await rig.crash("w1");

        await world.drainAndCheck(); // invariant 4: the batch's final status is seen
        expect(batchesOf(world, "X")[0]?.sentNowAt, "PassEntry got send-now").not.toBeNull();
      });
    });

    it("a POST held back past half its claim's lease is not sent: a worker that took the part over meanwhile sends it once", async () => {
      await withWorld({ home: "local" }, [scheduled("X")], async (world, rig) => {
        await world.submit("X");
        await rig.receive("w0");
        await rig.runUntil("w0", at("passEntry", "createBatch")); // claimed and "POST starting" written; the POST has not left
        rig.advance(61_000); // w0 stalls (a pause, a long pacer wait) past its lease
        await rig.receive("w1"); // takes the part over, searches, finds nothing, posts
        await rig.runToEnd("w1");
        await rig.runToEnd("w0"); // w0 wakes: its POST may no longer leave

        await world.drainAndCheck();
        expect(batchesOf(world, "X"), "X reaches PassEntry exactly once").toHaveLength(1);
      });
    });
  });

  it("7. no PassEntry call is in flight when the Lambda's deadline kills the instance", async () => {
    await withWorld({ home: "aws" }, [manyParts("P", 5), manyParts("Q", 5)], async (world, rig) => {
      await world.submit("P");
      await world.submit("Q");
      // P's five POSTs take 8.8 s each: Q starts with 16 s left (above the 15 s the sender wants to start a record).
      rig.passEntry.script("createBatch", [
        ...Array.from({ length: 5 }, (): PassEntryFault => ({ kind: "slow", ms: 8_800 })),
        ...Array.from({ length: 5 }, (): PassEntryFault => ({ kind: "slow", ms: 5_000 })),
      ]);
      await rig.receive("w0", 2);
      await rig.runToEnd("w0");

      await world.drainAndCheck();
      expect(
        rig.deadlineKills.filter((k) => k.duringCall !== null),
        "instances killed with a PassEntry call in flight",
      ).toEqual([]);
    });
  });

  it("8. a raw SQS request without requestId keeps its identity through a dead-letter redrive (new message id)", async () => {
    const message = "Regression D: from the SQS door";
    const d: Intent = {
      label: "D",
      door: "sqs",
      message,
      parts: 1,
      sendNow: false,
      batch: () => ({ message, recipients: recipients("D", 500), scheduledAt: IN_2030 }),
    };
    await withWorld({ home: "aws" }, [d], async (world, rig) => {
      await world.submit("D");
      // The first receive writes the request id into a copy of the message (no POST yet) …
      await rig.receive("w0");
      await rig.runToEnd("w0");
      // … and the copy is what is sent, and what a redrive later moves.
      await rig.receive("w0");
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      await rig.step("w0", { kind: "drop-after-effect" }); // PassEntry has the batch; we do not know it
      await rig.runToEnd("w0");
      rig.passEntry.script(
        "listBatches",
        Array.from({ length: 4 }, (): PassEntryFault => ({ kind: "5xx", status: 503, afterEffect: false })),
      );

      await rig.quietDrain(); // dead-lettered after its receives
      await rig.redrive();
      await world.drainAndCheck();
      expect(batchesOf(world, "D"), "the same 500 recipients in one batch").toHaveLength(1);
    });
  });

  describe("9. retry timing", () => {
    for (const home of ["aws", "local"] as HomeName[]) {
      for (const [errors, limitSeconds] of [
        [1, 30],
        [3, 90],
      ] as const) {
        it(`${home}: ${errors} PassEntry 500(s) in a row delay a send by seconds, not by the lease or the visibility timeout`, async () => {
          await withWorld({ home }, [scheduled("X")], async (world, rig) => {
            rig.passEntry.script(
              "createBatch",
              Array.from({ length: errors }, (): PassEntryFault => ({ kind: "5xx", status: 500, afterEffect: false })),
            );
            await world.submit("X");
            await world.drainAndCheck();
            const seconds = secondsToDeliver(world, rig, "X");
            console.log(
              `issue 10 item 9, ${home}: delivered ${seconds.toFixed(1)} s after the first POST, with ${errors} PassEntry 500(s) in a row`,
            );
            expect(seconds).toBeLessThanOrEqual(limitSeconds);
          });
        });
      }
    }

    it("aws: a 429 with retry-after 0.35 s that outlasts the in-invocation waits is retried within seconds", async () => {
      await withWorld({ home: "aws" }, [scheduled("X")], async (world, rig) => {
        rig.passEntry.script(
          "createBatch",
          Array.from({ length: 4 }, (): PassEntryFault => ({ kind: "429", retryAfter: "0.35" })),
        );
        await world.submit("X");
        await world.drainAndCheck();
        expect(secondsToDeliver(world, rig, "X")).toBeLessThanOrEqual(30);
      });
    });

    it("aws: a 6-hour PassEntry outage dead-letters nothing, and everything is delivered once after it", async () => {
      await withWorld({ home: "aws" }, [scheduled("X"), manyParts("Z", 2)], async (world, rig) => {
        rig.passEntry.outageUntil(rig.clock.now() + 6 * 3_600_000, 503);
        await world.submit("X");
        await world.submit("Z");
        await world.drainAndCheck();
        expect(
          rig.deadLetters().map((d) => d.body.slice(0, 80)),
          "dead letters",
        ).toEqual([]);
        expect(batchesOf(world, "X")).toHaveLength(1);
        expect(batchesOf(world, "Z")).toHaveLength(2);
      });
    });

    it("aws: reconciliation finds our batch behind 250 newer ones of a busy account instead of giving up as unknown", async () => {
      await withWorld({ home: "aws" }, [scheduled("X")], async (world, rig) => {
        await world.submit("X");
        await rig.receive("w0");
        await rig.runUntil("w0", at("passEntry", "createBatch"));
        await rig.step("w0", { kind: "timeout", effect: "before-timeout" }); // created; the answer never came
        await rig.runToEnd("w0");
        rig.passEntry.prefill(250); // the account keeps posting meanwhile

        await world.drainAndCheck();
        const view = (await rig.view(world.accepted.get("X")!.requestId!))!;
        expect(view.status).toBe("submitted");
        expect(view.parts[0]!.batchId).toBe(batchesOf(world, "X")[0]!.id);
      });
    });
  });
});

describe("issue 14, shared batches: found by the model run", () => {
  it("a member cancelled after its shared batch's POST, before that POST's outcome was known, is told why the batch went ahead", async () => {
    // The survey's shrunk counterexample: S3's DELETE lands while the group's POST timed out (the
    // batch appears 20 s later); the part is `shared`, so the cancel is only stamped.
    await withWorld({ home: "aws" }, [memberIntent("S2"), memberIntent("S3")], async (world, rig) => {
      await world.submit("S3");
      await world.submit("S2");
      await rig.receive("w0", 5);
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      await rig.step("w0", { kind: "timeout", effect: { lateMs: 20_000 } });
      expect(await world.cancel("S3")).toBe(202);

      await world.drainAndCheck(); // invariant 2b: S3 must say why its cancel did not stop the batch S2 still wants
      const [shared] = batchesOf(world, "S2");
      expect(
        world
          .carried(shared!)
          .map((c) => c.intent.label)
          .sort(),
      ).toEqual(["S2", "S3"]);
      expect(shared!.status, "S2 never asked: its message goes out").not.toBe("cancelled");
      expect((await rig.view(world.accepted.get("S3")!.requestId!))!.parts[0]!.note).toMatch(/cancel/i);
    });
  });

  it("every member cancelled after their shared batch's POST, before its outcome was known: the batch is cancelled at PassEntry", async () => {
    // The companion of the test above, for when all asked. It passed on the code it was written
    // against too (the members' redeliveries queued their cancel follow-ups); it keeps the all-asked case honest.
    await withWorld({ home: "aws" }, [memberIntent("S2"), memberIntent("S3")], async (world, rig) => {
      await world.submit("S2");
      await world.submit("S3");
      await rig.receive("w0", 5);
      await rig.runUntil("w0", at("passEntry", "createBatch"));
      await rig.step("w0", { kind: "timeout", effect: { lateMs: 20_000 } });
      expect(await world.cancel("S2")).toBe(202);
      expect(await world.cancel("S3")).toBe(202);

      await world.drainAndCheck();
      expect(
        batchesOf(world, "S2").map((b) => b.status),
        "both asked: the shared batch is stopped",
      ).toEqual(["cancelled"]);
    });
  });

  it("a member's DELETE acknowledged after its group last read its entry, before the POST left: the member is carried, and told why the batch goes ahead", async () => {
    // The limit of "a cancel before the POST is exact" for a member: the group decides whom it
    // carries just before startPost, and a DELETE landing after that read only stamps the member
    // (a single request's holder would cancel its own batch; a shared one stops only when all asked).
    await withWorld({ home: "aws" }, [memberIntent("S1"), memberIntent("S2")], async (world, rig) => {
      await world.submit("S1");
      await world.submit("S2");
      await rig.receive("w0", 5);
      await rig.runUntil("w0", at("passEntry", "createBatch")); // members read, startPost written
      expect(await world.cancel("S1")).toBe(202);
      await rig.runToEnd("w0");

      await world.drainAndCheck();
      const [shared] = batchesOf(world, "S2");
      expect(world.carried(shared!).map((c) => c.intent.label)).toEqual(["S1", "S2"]);
      expect(shared!.status).not.toBe("cancelled");
      expect((await rig.view(world.accepted.get("S1")!.requestId!))!.parts[0]!.note).toMatch(/cancel/i);
    });
  });

  it("a member redelivered after its shared batch was decided starts no follow-up of its own, so its cancel cannot stop the others' messages", async () => {
    await withWorld({ home: "aws" }, [memberIntent("S1"), memberIntent("S2")], async (world, rig) => {
      await world.submit("S1");
      await world.submit("S2");
      await rig.receive("w0", 5);
      // The grouping worker posts, records the shared batch, queues its send-now follow-up and settles
      // both members; it dies before it can answer, so SQS hands both messages back later.
      await rig.runUntil("w0", (call) => call.port === "store" && call.op === "update");
      await rig.crash("w0");
      rig.advance(HOMES.aws.visibilityMs);
      await rig.receive("w2", 1); // the group's send-now follow-up, held back while the members come again
      await rig.receive("w1", 5);
      await rig.runToEnd("w1");

      expect(await world.cancel("S1")).toBe(202); // S2 never asks
      rig.advance(10_000);
      await rig.receive("w0", 5);
      await rig.runToEnd("w0");
      await rig.runToEnd("w2");

      await world.drainAndCheck(); // invariant 2c: S1's cancel alone must not cancel the batch S2 rides in
      const [shared] = batchesOf(world, "S2");
      expect(shared!.status).not.toBe("cancelled");
      expect(shared!.sentNowAt, "S2 asked to be sent now").not.toBeNull();
      expect((await rig.view(world.accepted.get("S1")!.requestId!))!.parts[0]!.note).toMatch(/cancel/i);
    });
  });
});
