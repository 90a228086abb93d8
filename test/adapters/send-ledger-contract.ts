/**
 * The SendLedger contract: the rules that decide whether a POST to PassEntry may happen, which the
 * SQLite and DynamoDB ledgers must apply identically. Run it with `describeSendLedgerContract`.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LedgerConflictError } from "../../functions/core/ledger-rules.js";
import type { ClaimResult, SendKey, SendLedger } from "../../functions/core/ports.js";
import type { SendRecord } from "../../functions/core/schemas.js";

export interface SendLedgerHarness {
  ledger: SendLedger;
  close(): Promise<void>;
}

const T0 = Date.parse("2025-06-01T12:00:00.000Z");
const LEASE_MS = 60_000;

const freshKey = (chunk = 0): SendKey => ({ requestId: `req-${randomUUID()}`, chunk });
const claimBy = (owner: string, now = T0) => ({ owner, leaseMs: LEASE_MS, now, marker: "[wm:test:0]" });

export function describeSendLedgerContract(name: string, makeHarness: () => Promise<SendLedgerHarness>, options: { propertyRuns?: number } = {}): void {
  describe(`${name} (SendLedger contract)`, () => {
    let harness: SendLedgerHarness;
    let ledger: SendLedger;

    beforeEach(async () => {
      harness = await makeHarness();
      ledger = harness.ledger;
    });

    afterEach(async () => {
      await harness.close();
    });

    const entry = async (key: SendKey): Promise<SendRecord | undefined> => (await ledger.list(key.requestId)).find((r) => r.chunk === key.chunk);

    describe("claim", () => {
      it("grants attempt 1 to the first claimant and records the claim", async () => {
        // Prepare
        const key = freshKey();

        // Act
        const result = await ledger.claim(key, claimBy("worker-a"));

        // Assess
        expect(result.outcome).toBe("claimed");
        expect(result.record).toMatchObject({ ...key, state: "claimed", owner: "worker-a", attempt: 1, leaseUntil: T0 + LEASE_MS, marker: "[wm:test:0]" });
        expect(await entry(key)).toEqual(result.record);
      });

      it("answers busy with the holder's record when another worker's lease is live", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));

        // Act
        const result = await ledger.claim(key, claimBy("worker-b", T0 + LEASE_MS - 1));

        // Assess
        expect(result.outcome).toBe("busy");
        expect(result.record).toMatchObject({ owner: "worker-a", attempt: 1 });
      });

      it("answers done with the batch id once the send was marked sent", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        await ledger.markSent(key, "worker-a", { batchId: "batch-1", batchStatus: "validating", totalCount: null });

        // Act
        const result = await ledger.claim(key, claimBy("worker-b", T0 + 10 * LEASE_MS));

        // Assess
        expect(result.outcome).toBe("done");
        expect(result.record).toMatchObject({ state: "sent", batchId: "batch-1", batchStatus: "validating", totalCount: null, owner: "worker-a" });
      });

      it("answers done when the send failed permanently", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        await ledger.markFailed(key, "worker-a", "PassEntry rejected the batch.");

        // Act
        const result = await ledger.claim(key, claimBy("worker-b"));

        // Assess
        expect(result.outcome).toBe("done");
        expect(result.record).toMatchObject({ state: "failed", reason: "PassEntry rejected the batch." });
      });

      it("answers lapsed when the lease ended without a recorded outcome", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));

        // Act
        const atExpiry = await ledger.claim(key, claimBy("worker-b", T0 + LEASE_MS));
        const later = await ledger.claim(key, claimBy("worker-b", T0 + 5 * LEASE_MS));

        // Assess
        expect(atExpiry.outcome).toBe("lapsed");
        expect(later.outcome).toBe("lapsed");
        expect(later.record).toMatchObject({ owner: "worker-a", attempt: 1, state: "claimed" });
      });

      it("grants exactly one of ten concurrent claims on one key", async () => {
        // Prepare
        const key = freshKey();
        const owners = Array.from({ length: 10 }, (_, i) => `worker-${i}`);

        // Act
        const results = await Promise.all(owners.map((owner) => ledger.claim(key, claimBy(owner))));

        // Assess
        const winners = results.filter((r) => r.outcome === "claimed");
        expect(winners).toHaveLength(1);
        const winner = winners[0]!.record.owner;
        expect(results.filter((r) => r.outcome === "busy").every((r) => r.record.owner === winner)).toBe(true);
        expect(results.filter((r) => r.outcome === "busy")).toHaveLength(9);
        expect(await entry(key)).toMatchObject({ owner: winner, attempt: 1 });
      });
    });

    describe("reclaim", () => {
      it("takes over a lapsed claim as attempt 2 under the new owner", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        const now = T0 + 2 * LEASE_MS;

        // Act
        const result = await ledger.reclaim(key, { owner: "worker-b", leaseMs: LEASE_MS, now, previousOwner: "worker-a", previousAttempt: 1 });

        // Assess
        expect(result.outcome).toBe("claimed");
        expect(result.record).toMatchObject({ state: "claimed", owner: "worker-b", attempt: 2, leaseUntil: now + LEASE_MS, marker: "[wm:test:0]" });
        expect(await entry(key)).toEqual(result.record);
      });

      it.each([
        ["the previous owner is wrong", { previousOwner: "worker-x", previousAttempt: 1 }],
        ["the previous attempt is wrong", { previousOwner: "worker-a", previousAttempt: 2 }],
      ])("takes nothing over when %s", async (_, previous) => {
        // Prepare
        const key = freshKey();
        const claimed = await ledger.claim(key, claimBy("worker-a"));

        // Act
        const result = await ledger.reclaim(key, { owner: "worker-b", leaseMs: LEASE_MS, now: T0 + 2 * LEASE_MS, ...previous });

        // Assess
        expect(result.outcome).not.toBe("claimed");
        expect(await entry(key)).toEqual(claimed.record);
      });

      it("takes nothing over while the lease is still live", async () => {
        // Prepare
        const key = freshKey();
        const claimed = await ledger.claim(key, claimBy("worker-a"));

        // Act
        const result = await ledger.reclaim(key, { owner: "worker-b", leaseMs: LEASE_MS, now: T0 + 1000, previousOwner: "worker-a", previousAttempt: 1 });

        // Assess
        expect(result.outcome).toBe("busy");
        expect(await entry(key)).toEqual(claimed.record);
      });

      it("lets only one of two workers take over the same lapsed claim", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        const takeOver = (owner: string) => ledger.reclaim(key, { owner, leaseMs: LEASE_MS, now: T0 + 2 * LEASE_MS, previousOwner: "worker-a", previousAttempt: 1 });

        // Act
        const results = await Promise.all([takeOver("worker-b"), takeOver("worker-c"), takeOver("worker-d")]);

        // Assess
        const winners = results.filter((r) => r.outcome === "claimed");
        expect(winners).toHaveLength(1);
        expect(await entry(key)).toMatchObject({ owner: winners[0]!.record.owner, attempt: 2 });
      });

      it("rejects with LedgerConflictError when there is no entry to take over", async () => {
        // Act
        const attempt = ledger.reclaim(freshKey(), { owner: "worker-b", leaseMs: LEASE_MS, now: T0, previousOwner: "worker-a", previousAttempt: 1 });

        // Assess
        await expect(attempt).rejects.toBeInstanceOf(LedgerConflictError);
      });
    });

    describe("markSent, markFailed and markUnknown", () => {
      const writes = [
        ["markSent", (l: SendLedger, key: SendKey, owner: string) => l.markSent(key, owner, { batchId: "batch-x" }), { state: "sent", batchId: "batch-x" }],
        ["markFailed", (l: SendLedger, key: SendKey, owner: string) => l.markFailed(key, owner, "rejected"), { state: "failed", reason: "rejected" }],
        ["markUnknown", (l: SendLedger, key: SendKey, owner: string) => l.markUnknown(key, owner, "lost answer"), { state: "unknown", reason: "lost answer" }],
      ] as const;

      it.each(writes)("%s records the outcome when the owner writes it", async (_, write, expected) => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));

        // Act
        await write(ledger, key, "worker-a");

        // Assess
        expect(await entry(key)).toMatchObject({ ...expected, owner: "worker-a", attempt: 1 });
      });

      it.each(writes)("%s rejects with LedgerConflictError and changes nothing when another worker writes it", async (_, write) => {
        // Prepare
        const key = freshKey();
        const claimed = await ledger.claim(key, claimBy("worker-a"));

        // Act
        const attempt = write(ledger, key, "worker-b");

        // Assess
        await expect(attempt).rejects.toBeInstanceOf(LedgerConflictError);
        expect(await entry(key)).toEqual(claimed.record);
      });

      it.each(writes)("%s rejects when the claim was taken over since", async (_, write) => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        const taken = await ledger.reclaim(key, { owner: "worker-b", leaseMs: LEASE_MS, now: T0 + 2 * LEASE_MS, previousOwner: "worker-a", previousAttempt: 1 });

        // Act
        const attempt = write(ledger, key, "worker-a");

        // Assess
        await expect(attempt).rejects.toBeInstanceOf(LedgerConflictError);
        expect(await entry(key)).toEqual(taken.record);
      });

      it.each(writes)("%s rejects once the send is already sent, leaving it sent", async (_, write) => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        await ledger.markSent(key, "worker-a", { batchId: "batch-1" });
        const sent = await entry(key);

        // Act
        const attempt = write(ledger, key, "worker-a");

        // Assess
        await expect(attempt).rejects.toBeInstanceOf(LedgerConflictError);
        expect(await entry(key)).toEqual(sent);
      });

      it.each(writes)("%s rejects when no claim exists", async (_, write) => {
        // Act
        const attempt = write(ledger, freshKey(), "worker-a");

        // Assess
        await expect(attempt).rejects.toBeInstanceOf(LedgerConflictError);
      });
    });

    describe("release", () => {
      it("gives the send back so that a new claim succeeds", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));

        // Act
        await ledger.release(key, "worker-a");
        const next = await ledger.claim(key, claimBy("worker-b", T0 + 1000));

        // Assess
        expect(next.outcome).toBe("claimed");
        expect(next.record).toMatchObject({ owner: "worker-b", state: "claimed" });
      });

      it("does nothing when another worker holds the claim", async () => {
        // Prepare
        const key = freshKey();
        const claimed = await ledger.claim(key, claimBy("worker-a"));

        // Act
        await ledger.release(key, "worker-b");

        // Assess
        expect(await entry(key)).toEqual(claimed.record);
        expect((await ledger.claim(key, claimBy("worker-b", T0 + 1000))).outcome).toBe("busy");
      });

      it("does nothing once the send is sent", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        await ledger.markSent(key, "worker-a", { batchId: "batch-1" });

        // Act
        await ledger.release(key, "worker-a");

        // Assess
        expect(await entry(key)).toMatchObject({ state: "sent", batchId: "batch-1" });
      });
    });

    describe("expire", () => {
      it("ends the lease at once so the next claim is lapsed, not claimed", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));

        // Act
        await ledger.expire(key, "worker-a", "PassEntry timed out.");
        const next = await ledger.claim(key, claimBy("worker-b", T0 + 1000));

        // Assess
        expect(next.outcome).toBe("lapsed");
        expect(next.record).toMatchObject({ owner: "worker-a", attempt: 1, state: "claimed", reason: "PassEntry timed out." });
      });

      it("rejects with LedgerConflictError and changes nothing when another worker expires it", async () => {
        // Prepare
        const key = freshKey();
        const claimed = await ledger.claim(key, claimBy("worker-a"));

        // Act
        const attempt = ledger.expire(key, "worker-b", "not mine");

        // Assess
        await expect(attempt).rejects.toBeInstanceOf(LedgerConflictError);
        expect(await entry(key)).toEqual(claimed.record);
      });
    });

    describe("updateBatch", () => {
      it("changes the batch fields it is given and keeps the outcome", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        await ledger.markSent(key, "worker-a", { batchId: "batch-1", batchStatus: "validating", totalCount: null });

        // Act
        await ledger.updateBatch(key, { batchStatus: "completedWithErrors", totalCount: 100, errorsCsvUrl: "https://example.test/errors.csv", deliveryCsvUrl: "https://example.test/delivery.csv" });

        // Assess
        expect(await entry(key)).toMatchObject({
          state: "sent",
          owner: "worker-a",
          batchId: "batch-1",
          batchStatus: "completedWithErrors",
          totalCount: 100,
          errorsCsvUrl: "https://example.test/errors.csv",
          deliveryCsvUrl: "https://example.test/delivery.csv",
        });
      });

      it("leaves fields it is not given unchanged", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        await ledger.markSent(key, "worker-a", { batchId: "batch-1", batchStatus: "validating", totalCount: 100 });

        // Act
        await ledger.updateBatch(key, { batchStatus: "scheduled" });

        // Assess
        expect(await entry(key)).toMatchObject({ batchStatus: "scheduled", totalCount: 100, batchId: "batch-1" });
      });

      it("creates nothing when the key has no entry", async () => {
        // Prepare
        const key = freshKey();

        // Act
        await ledger.updateBatch(key, { batchStatus: "scheduled" });

        // Assess
        expect(await ledger.list(key.requestId)).toEqual([]);
      });

      it("records tracking notes and send-now times beside the batch status", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        await ledger.markSent(key, "worker-a", { batchId: "batch-1", batchStatus: "validating" });

        // Act
        await ledger.updateBatch(key, { batchStatus: "scheduled", scheduledAt: "2025-06-01T13:05:00.000Z", statusCheckedAt: "2025-06-01T12:00:02.000Z", sendNowAt: "2025-06-01T12:00:02.500Z", note: "Sent now." });

        // Assess
        expect(await entry(key)).toMatchObject({ state: "sent", batchStatus: "scheduled", scheduledAt: "2025-06-01T13:05:00.000Z", statusCheckedAt: "2025-06-01T12:00:02.000Z", sendNowAt: "2025-06-01T12:00:02.500Z", note: "Sent now." });
      });
    });

    describe("cancel", () => {
      const cancelAt = (now = T0) => ({ now, marker: "[wm:test:0]" });

      it("writes a send that never started as cancelled, so a later claim is done and nothing is sent", async () => {
        // Prepare
        const key = freshKey();

        // Act
        const result = await ledger.cancel(key, cancelAt());
        const claim = await ledger.claim(key, claimBy("worker-a", T0 + 1));

        // Assess
        expect(result.outcome).toBe("cancelled");
        expect(result.record).toMatchObject({ ...key, state: "cancelled", cancelRequestedAt: new Date(T0).toISOString() });
        expect(claim).toMatchObject({ outcome: "done", record: { state: "cancelled" } });
        expect(await entry(key)).toEqual(result.record);
      });

      it("answers sent for a created batch, stamping cancelRequestedAt and keeping its outcome", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        await ledger.markSent(key, "worker-a", { batchId: "batch-1", batchStatus: "scheduled" });

        // Act
        const result = await ledger.cancel(key, cancelAt(T0 + 5));

        // Assess
        expect(result.outcome).toBe("sent");
        expect(await entry(key)).toMatchObject({ state: "sent", batchId: "batch-1", batchStatus: "scheduled", cancelRequestedAt: new Date(T0 + 5).toISOString() });
      });

      it("answers busy for a send in flight and leaves its claim to its owner", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));

        // Act
        const result = await ledger.cancel(key, cancelAt(T0 + 5));
        await ledger.markSent(key, "worker-a", { batchId: "batch-1" });

        // Assess
        expect(result.outcome).toBe("busy");
        expect(await entry(key)).toMatchObject({ state: "sent", owner: "worker-a", batchId: "batch-1" });
      });

      it("answers done for a failed send and for one already cancelled, changing neither", async () => {
        // Prepare
        const failed = freshKey();
        await ledger.claim(failed, claimBy("worker-a"));
        await ledger.markFailed(failed, "worker-a", "PassEntry rejected it.");
        const cancelled = freshKey();
        const first = await ledger.cancel(cancelled, cancelAt());

        // Act
        const again = await ledger.cancel(cancelled, cancelAt(T0 + 1_000));
        const onFailed = await ledger.cancel(failed, cancelAt(T0 + 1_000));

        // Assess
        expect(again).toEqual({ outcome: "done", record: first.record });
        expect(onFailed.outcome).toBe("done");
        expect(await entry(failed)).toMatchObject({ state: "failed", reason: "PassEntry rejected it." });
      });

      it("keeps the first cancelRequestedAt when cancelled twice", async () => {
        // Prepare
        const key = freshKey();
        await ledger.claim(key, claimBy("worker-a"));
        await ledger.markSent(key, "worker-a", { batchId: "batch-1" });
        await ledger.cancel(key, cancelAt(T0 + 5));

        // Act
        await ledger.cancel(key, cancelAt(T0 + 9_000));

        // Assess
        expect((await entry(key))?.cancelRequestedAt).toBe(new Date(T0 + 5).toISOString());
      });

      it("lets exactly one of a claim and a cancellation racing on a fresh key win", async () => {
        // Prepare
        const key = freshKey();

        // Act
        const [claim, cancel] = await Promise.all([ledger.claim(key, claimBy("worker-a")), ledger.cancel(key, cancelAt())]);

        // Assess
        const claimWon = claim.outcome === "claimed";
        expect(claimWon ? cancel.outcome : claim.outcome).toBe(claimWon ? "busy" : "done");
        expect((await entry(key))?.state).toBe(claimWon ? "claimed" : "cancelled");
      });
    });

    describe("list", () => {
      it("returns the chunks of one request in chunk order and nothing of other requests", async () => {
        // Prepare
        const requestId = `req-${randomUUID()}`;
        for (const chunk of [10, 2, 0, 1]) await ledger.claim({ requestId, chunk }, claimBy(`worker-${chunk}`));
        await ledger.claim({ requestId: `${requestId}0`, chunk: 0 }, claimBy("worker-other"));
        await ledger.claim({ requestId: `other-${requestId}`, chunk: 3 }, claimBy("worker-other"));

        // Act
        const listed = await ledger.list(requestId);

        // Assess
        expect(listed.map((r) => [r.requestId, r.chunk, r.owner])).toEqual([
          [requestId, 0, "worker-0"],
          [requestId, 1, "worker-1"],
          [requestId, 2, "worker-2"],
          [requestId, 10, "worker-10"],
        ]);
      });

      it("returns nothing for an unknown request", async () => {
        // Act
        const listed = await ledger.list(`req-${randomUUID()}`);

        // Assess
        expect(listed).toEqual([]);
      });
    });

    describe("under any sequence of operations from two workers", () => {
      type Owner = "worker-a" | "worker-b";
      type Step =
        | { op: "claim" | "reclaim" | "markSent" | "markFailed" | "markUnknown" | "release" | "expire"; owner: Owner }
        | { op: "advance"; ms: number };

      const owner = fc.constantFrom<Owner>("worker-a", "worker-b");
      const step: fc.Arbitrary<Step> = fc.oneof(
        fc.record({ op: fc.constantFrom("claim", "reclaim", "markSent", "markFailed", "markUnknown", "release", "expire"), owner }) as fc.Arbitrary<Step>,
        fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 2 * LEASE_MS }) }),
      );

      it("grants each attempt to at most one worker and never changes a sent entry again", async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
            const key = freshKey();
            let now = T0;
            // Who was granted each attempt number since the entry last disappeared (release deletes it).
            let grantedAttempts = new Map<number, Owner>();
            let sent: SendRecord | undefined;

            for (const s of steps) {
              if (s.op === "advance") {
                now += s.ms;
                continue;
              }
              let result: ClaimResult | undefined;
              const before = await entry(key);
              try {
                switch (s.op) {
                  case "claim":
                    result = await ledger.claim(key, claimBy(s.owner, now));
                    break;
                  case "reclaim":
                    // A worker reclaims what it last saw, as the sender does after a lapsed answer.
                    if (before) result = await ledger.reclaim(key, { owner: s.owner, leaseMs: LEASE_MS, now, previousOwner: before.owner, previousAttempt: before.attempt });
                    break;
                  case "markSent":
                    await ledger.markSent(key, s.owner, { batchId: `batch-${s.owner}-${now}` });
                    break;
                  case "markFailed":
                    await ledger.markFailed(key, s.owner, "rejected");
                    break;
                  case "markUnknown":
                    await ledger.markUnknown(key, s.owner, "lost");
                    break;
                  case "release":
                    await ledger.release(key, s.owner);
                    break;
                  case "expire":
                    await ledger.expire(key, s.owner, "timed out");
                    break;
                }
              } catch (error) {
                if (!(error instanceof LedgerConflictError)) throw error;
                // A refused write changes nothing.
                expect(await entry(key)).toEqual(before);
              }

              const after = await entry(key);
              if (sent) {
                // A sent entry never changes state, owner or batch id again, and is never deleted.
                expect(after).toMatchObject({ state: "sent", owner: sent.owner, attempt: sent.attempt, batchId: sent.batchId });
              } else if (after?.state === "sent") {
                sent = after;
                // Only the worker that held the live claim could have recorded it.
                expect(before).toMatchObject({ state: "claimed", owner: s.owner });
              }
              if (after === undefined) grantedAttempts = new Map();

              if (result?.outcome === "claimed") {
                const attempt = result.record.attempt;
                expect(grantedAttempts.has(attempt), `attempt ${attempt} granted twice`).toBe(false);
                grantedAttempts.set(attempt, s.owner);
                expect(after).toEqual(result.record);
              }
            }
          }),
          { numRuns: options.propertyRuns ?? 100 },
        );
      });
    });
  });
}
