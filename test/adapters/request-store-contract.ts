/**
 * The RequestStore contract: what every adapter (SQLite in the embedded home, DynamoDB on AWS) must
 * do the same way. Run it with `describeRequestStoreContract(name, makeHarness)`.
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RequestStore } from "../../functions/core/ports.js";
import type { RequestRecord } from "../../functions/core/schemas.js";

export interface RequestStoreHarness {
  store: RequestStore;
  close(): Promise<void>;
}

/** A request as the accept handler stores it; every call gets a fresh id. */
export function requestRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    requestId: `req-${randomUUID()}`,
    entityId: "entity-1",
    source: "http",
    createdAt: "2025-06-01T12:00:00.000Z",
    batch: { message: "Happy hour starts at 5pm", segments: [{ groupTag: "summerPromotion" }] },
    ...overrides,
  };
}

export function describeRequestStoreContract(name: string, makeHarness: () => Promise<RequestStoreHarness>): void {
  describe(`${name} (RequestStore contract)`, () => {
    let harness: RequestStoreHarness;
    let store: RequestStore;

    beforeEach(async () => {
      harness = await makeHarness();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.close();
    });

    describe("create", () => {
      it("stores a request that get returns unchanged", async () => {
        // Prepare
        const record = requestRecord({
          source: "webhook",
          caller: "signer:shop",
          batch: {
            message: "Thanks for your order",
            recipients: [{ passId: "p-1" }, { passId: "p-2", variables: { name: "Ada" } }],
            tag: "orders",
            scheduledAt: "2030-03-31T13:16:26Z",
          },
        });

        // Act
        const result = await store.create(record);
        const stored = await store.get(record.requestId);

        // Assess
        expect(result).toEqual({ created: true });
        expect(stored).toEqual(record);
      });

      it("returns the first request and stores nothing when the idempotency key was used before", async () => {
        // Prepare
        const first = requestRecord({ idempotencyKey: `key-${randomUUID()}`, fingerprint: "sha256-first" });
        const second = requestRecord({
          idempotencyKey: first.idempotencyKey,
          fingerprint: "sha256-second",
          batch: { message: "Another message", segments: [{ groupTag: "vip" }] },
        });
        await store.create(first);

        // Act
        const result = await store.create(second);

        // Assess
        expect(result).toEqual({ created: false, existing: first });
        expect(await store.get(second.requestId)).toBeUndefined();
        expect(await store.get(first.requestId)).toEqual(first);
      });

      it("scopes idempotency keys per caller: another caller's equal key is another request", async () => {
        // Prepare
        const key = `key-${randomUUID()}`;
        const crm = requestRecord({ idempotencyKey: key, caller: "key:crm", fingerprint: "sha256-crm" });
        const shop = requestRecord({ idempotencyKey: key, caller: "key:shop", fingerprint: "sha256-crm" });
        const signerCrm = requestRecord({ idempotencyKey: key, caller: "signer:crm", fingerprint: "sha256-other" });
        const crmAgain = requestRecord({ idempotencyKey: key, caller: "key:crm", fingerprint: "sha256-crm" });

        // Act
        const results = [
          await store.create(crm),
          await store.create(shop),
          await store.create(signerCrm),
          await store.create(crmAgain),
        ];

        // Assess
        expect(results).toEqual([
          { created: true },
          { created: true },
          { created: true },
          { created: false, existing: crm },
        ]);
        expect(await store.get(shop.requestId)).toEqual(shop);
        expect(await store.get(signerCrm.requestId)).toEqual(signerCrm);
        expect(await store.get(crmAgain.requestId)).toBeUndefined();
      });

      it("creates one request per caller when two callers race five creates each with the same key", async () => {
        // Prepare
        const key = `key-${randomUUID()}`;
        const candidates = (["key:crm", "automation:welcome"] as const).flatMap((caller) =>
          Array.from({ length: 5 }, (_, i) =>
            requestRecord({ idempotencyKey: key, caller, fingerprint: `sha256-${caller}-${i}` }),
          ),
        );

        // Act
        const results = await Promise.all(candidates.map((record) => store.create(record)));

        // Assess
        const created = candidates.filter((_, i) => results[i]!.created);
        expect(created.map((record) => record.caller).sort()).toEqual(["automation:welcome", "key:crm"]);
        results.forEach((result, i) => {
          if (!result.created)
            expect(result.existing).toEqual(created.find((winner) => winner.caller === candidates[i]!.caller));
        });
      });

      it("stores both requests when their idempotency keys differ", async () => {
        // Prepare
        const first = requestRecord({ idempotencyKey: `key-${randomUUID()}` });
        const second = requestRecord({ idempotencyKey: `key-${randomUUID()}` });

        // Act
        const results = [await store.create(first), await store.create(second)];

        // Assess
        expect(results).toEqual([{ created: true }, { created: true }]);
        expect(await store.get(first.requestId)).toEqual(first);
        expect(await store.get(second.requestId)).toEqual(second);
      });

      it("creates exactly one request when five creates race with the same idempotency key", async () => {
        // Prepare
        const key = `key-${randomUUID()}`;
        const candidates = Array.from({ length: 5 }, (_, i) =>
          requestRecord({ idempotencyKey: key, fingerprint: `sha256-${i}` }),
        );

        // Act
        const results = await Promise.all(candidates.map((record) => store.create(record)));

        // Assess
        const createdIndexes = results.flatMap((result, i) => (result.created ? [i] : []));
        expect(createdIndexes).toHaveLength(1);
        const winner = candidates[createdIndexes[0]!]!;
        for (const result of results) {
          if (!result.created) expect(result.existing).toEqual(winner);
        }
        const stored = await Promise.all(candidates.map((record) => store.get(record.requestId)));
        expect(stored.filter((record) => record !== undefined)).toEqual([winner]);
      });

      it("rejects and keeps the first record when the request id is taken", async () => {
        // Prepare
        const first = requestRecord();
        const clash = requestRecord({ requestId: first.requestId, entityId: "entity-2" });
        await store.create(first);

        // Act
        const attempt = store.create(clash);

        // Assess
        await expect(attempt).rejects.toThrow();
        expect(await store.get(first.requestId)).toEqual(first);
      });
    });

    describe("ensure", () => {
      it("stores the record when no request has its id", async () => {
        // Prepare
        const record = requestRecord({ source: "sqs" });

        // Act
        const ensured = await store.ensure(record);

        // Assess
        expect(ensured).toEqual(record);
        expect(await store.get(record.requestId)).toEqual(record);
      });

      it("keeps and returns the existing record when one has the id", async () => {
        // Prepare
        const original = requestRecord({ source: "http", idempotencyKey: `key-${randomUUID()}` });
        await store.create(original);
        await store.markEnqueued(original.requestId, "2025-06-01T12:00:01.000Z");
        const redelivered = requestRecord({
          requestId: original.requestId,
          source: "sqs",
          batch: { message: "Changed on the way", segments: [{ groupTag: "x" }] },
        });

        // Act
        const ensured = await store.ensure(redelivered);

        // Assess
        const expected = { ...original, enqueuedAt: "2025-06-01T12:00:01.000Z" };
        expect(ensured).toEqual(expected);
        expect(await store.get(original.requestId)).toEqual(expected);
      });
    });

    describe("get", () => {
      it("returns undefined when no request has the id", async () => {
        // Act
        const found = await store.get(`req-${randomUUID()}`);

        // Assess
        expect(found).toBeUndefined();
      });
    });

    describe("markEnqueued", () => {
      it("sets enqueuedAt and clears an earlier failure reason", async () => {
        // Prepare
        const record = requestRecord();
        await store.create(record);
        await store.markFailed(record.requestId, "The queue was unavailable.");

        // Act
        await store.markEnqueued(record.requestId, "2025-06-01T12:05:00.000Z");

        // Assess
        const stored = await store.get(record.requestId);
        expect(stored).toEqual({ ...record, enqueuedAt: "2025-06-01T12:05:00.000Z" });
        expect(stored).not.toHaveProperty("failureReason");
      });

      it("creates nothing when the request is unknown", async () => {
        // Prepare
        const requestId = `req-${randomUUID()}`;

        // Act
        await store.markEnqueued(requestId, "2025-06-01T12:05:00.000Z");

        // Assess
        expect(await store.get(requestId)).toBeUndefined();
      });
    });

    describe("markCancelled", () => {
      it("records who asked to cancel and when, and returns the request as it now stands", async () => {
        // Prepare
        const record = requestRecord({ caller: "key:crm" });
        await store.create(record);

        // Act
        const returned = await store.markCancelled(record.requestId, "operator:ops", "2025-06-01T12:10:00.000Z");

        // Assess
        const expected = { ...record, cancelledBy: "operator:ops", cancelledAt: "2025-06-01T12:10:00.000Z" };
        expect(returned).toEqual(expected);
        expect(await store.get(record.requestId)).toEqual(expected);
      });

      it("keeps the first cancellation when it is asked again", async () => {
        // Prepare
        const record = requestRecord({ caller: "key:crm" });
        await store.create(record);
        await store.markCancelled(record.requestId, "key:crm", "2025-06-01T12:10:00.000Z");

        // Act
        const returned = await store.markCancelled(record.requestId, "operator:ops", "2025-06-01T12:20:00.000Z");

        // Assess
        expect(returned).toMatchObject({ cancelledBy: "key:crm", cancelledAt: "2025-06-01T12:10:00.000Z" });
        expect(await store.get(record.requestId)).toMatchObject({
          cancelledBy: "key:crm",
          cancelledAt: "2025-06-01T12:10:00.000Z",
        });
      });

      it("creates nothing and returns undefined when the request is unknown", async () => {
        // Prepare
        const requestId = `req-${randomUUID()}`;

        // Act
        const returned = await store.markCancelled(requestId, "operator:ops", "2025-06-01T12:10:00.000Z");

        // Assess
        expect(returned).toBeUndefined();
        expect(await store.get(requestId)).toBeUndefined();
      });
    });

    describe("markFailed", () => {
      it("records the failure reason and keeps the rest of the request", async () => {
        // Prepare
        const record = requestRecord({ idempotencyKey: `key-${randomUUID()}` });
        await store.create(record);

        // Act
        await store.markFailed(record.requestId, "The queue was unavailable.");

        // Assess
        expect(await store.get(record.requestId)).toEqual({ ...record, failureReason: "The queue was unavailable." });
      });

      it("creates nothing when the request is unknown", async () => {
        // Prepare
        const requestId = `req-${randomUUID()}`;

        // Act
        await store.markFailed(requestId, "whatever");

        // Assess
        expect(await store.get(requestId)).toBeUndefined();
      });

      it("keeps both changes when markFailed and markEnqueued run at once", async () => {
        // Prepare
        const record = requestRecord();
        await store.create(record);

        // Act
        await Promise.all([
          store.markFailed(record.requestId, "first attempt failed"),
          store.markEnqueued(record.requestId, "2025-06-01T12:05:00.000Z"),
        ]);

        // Assess: whichever ran last, no update was lost half-way (enqueuedAt is always there).
        const stored = await store.get(record.requestId);
        expect(stored?.enqueuedAt).toBe("2025-06-01T12:05:00.000Z");
        expect([undefined, "first attempt failed"]).toContain(stored?.failureReason);
      });
    });

    describe("update", () => {
      it("writes the change and returns the request as it now stands", async () => {
        // Prepare
        const record = requestRecord();
        await store.create(record);

        // Act
        const updated = await store.update(record.requestId, (r) => ({
          ...r,
          summary: {
            state: "submitted",
            progress: { chunks: 1, sent: 1, pending: 0, failed: 0, cancelled: 0, unknown: 0 },
            at: "2025-06-01T12:01:00.000Z",
          },
        }));

        // Assess
        expect(updated?.summary?.state).toBe("submitted");
        expect(await store.get(record.requestId)).toEqual(updated);
      });

      it("loses neither change when two updates race", async () => {
        // Prepare
        const record = requestRecord();
        await store.create(record);
        const mark = {
          at: "2025-06-01T12:02:00.000Z",
          kind: "send",
          messageId: "m-1",
          receiveCount: 50,
          lastError: "PassEntry could not be reached.",
        };

        // Act
        await Promise.all([
          store.update(record.requestId, (r) => ({ ...r, deadLetter: mark })),
          store.markEnqueued(record.requestId, "2025-06-01T12:05:00.000Z"),
        ]);

        // Assess
        const stored = await store.get(record.requestId);
        expect(stored?.deadLetter).toEqual(mark);
        expect(stored?.enqueuedAt).toBe("2025-06-01T12:05:00.000Z");
      });

      it("writes nothing and returns undefined when the request is unknown", async () => {
        expect(await store.update("req-missing", (r) => ({ ...r, failureReason: "x" }))).toBeUndefined();
        expect(await store.get("req-missing")).toBeUndefined();
      });
    });

    describe("listRecent", () => {
      /** Requests created one minute apart, oldest first; their ids sort in the other direction, so order comes from the time. */
      async function createdMinutesApart(
        count: number,
        overrides: (i: number) => Partial<RequestRecord> = () => ({}),
      ): Promise<RequestRecord[]> {
        const records: RequestRecord[] = [];
        for (let i = 0; i < count; i++) {
          const record = requestRecord({
            requestId: `req-${String(99 - i).padStart(2, "0")}-${randomUUID()}`,
            createdAt: new Date(Date.parse("2025-06-01T12:00:00.000Z") + i * 60_000).toISOString(),
            ...overrides(i),
          });
          await store.create(record);
          records.push(record);
        }
        return records;
      }
      const all = () => true;

      it("pages every request newest first, each exactly once, whatever the page size", async () => {
        // Prepare
        const records = await createdMinutesApart(7);

        // Act
        const seen: string[] = [];
        let after;
        for (let page = 0; page < 10; page++) {
          const answer = await store.listRecent({ after, limit: 3, maxExamined: 100, accept: all });
          seen.push(...answer.records.map((r) => r.requestId));
          if (!answer.next) break;
          after = answer.next;
        }

        // Assess
        expect(seen).toEqual(records.map((r) => r.requestId).reverse());
      });

      it("orders requests created in the same millisecond by id, and pages past them", async () => {
        // Prepare
        const createdAt = "2025-06-01T12:00:00.000Z";
        const ids = ["req-a", "req-b", "req-c"];
        for (const requestId of ids) await store.create(requestRecord({ requestId, createdAt }));

        // Act
        const first = await store.listRecent({ limit: 2, maxExamined: 100, accept: all });
        const second = await store.listRecent({ after: first.next, limit: 2, maxExamined: 100, accept: all });

        // Assess
        expect(first.records.map((r) => r.requestId)).toEqual(["req-c", "req-b"]);
        expect(second.records.map((r) => r.requestId)).toEqual(["req-a"]);
        expect(second.next).toBeUndefined();
      });

      it("keeps only what accept takes, and stops after maxExamined with a place to go on from", async () => {
        // Prepare: every third request is from the shop.
        const records = await createdMinutesApart(9, (i) => ({ caller: i % 3 === 0 ? "key:shop" : "key:crm" }));
        const shop = (r: RequestRecord) => r.caller === "key:shop";

        // Act
        const bounded = await store.listRecent({ limit: 10, maxExamined: 4, accept: shop });
        const rest = await store.listRecent({ after: bounded.next, limit: 10, maxExamined: 100, accept: shop });

        // Assess: the newest four hold one shop request (i = 6); the rest hold the other two.
        expect(bounded.records.map((r) => r.requestId)).toEqual([records[6]!.requestId]);
        expect(bounded.next).toBeDefined();
        expect(rest.records.map((r) => r.requestId)).toEqual([records[3]!.requestId, records[0]!.requestId]);
        expect(rest.next).toBeUndefined();
      });

      it("with an owner, reads only that caller's requests: another caller's volume neither fills nor cuts the page", async () => {
        // Prepare: the shop made the newest six; the crm three older ones; one came straight from the queue (no caller).
        const crm = await createdMinutesApart(3, () => ({ caller: "key:crm" }));
        await createdMinutesApart(1, () => ({ caller: undefined }));
        const shop = await createdMinutesApart(6, () => ({ caller: "key:shop" }));
        await store.create(
          requestRecord({
            requestId: `late-${randomUUID()}`,
            createdAt: "2025-06-01T13:00:00.000Z",
            caller: "signer:crm",
          }),
        );

        // Act: a page may look at two records only, yet the crm's first page holds its two newest.
        const first = await store.listRecent({ owner: "key:crm", limit: 2, maxExamined: 2, accept: all });
        const second = await store.listRecent({
          owner: "key:crm",
          after: first.next,
          limit: 2,
          maxExamined: 2,
          accept: all,
        });
        const shops = await store.listRecent({ owner: "key:shop", limit: 10, maxExamined: 100, accept: all });

        // Assess
        expect(first.records.map((r) => r.requestId)).toEqual([crm[2]!.requestId, crm[1]!.requestId]);
        expect(second.records.map((r) => r.requestId)).toEqual([crm[0]!.requestId]);
        expect(second.next).toBeUndefined();
        expect(shops.records.map((r) => r.requestId)).toEqual(shop.map((r) => r.requestId).reverse());
      });

      it("lists only requests created at or after since", async () => {
        // Prepare
        const records = await createdMinutesApart(5);

        // Act
        const answer = await store.listRecent({
          since: records[3]!.createdAt,
          limit: 10,
          maxExamined: 100,
          accept: all,
        });

        // Assess
        expect(answer.records.map((r) => r.requestId)).toEqual([records[4]!.requestId, records[3]!.requestId]);
      });

      it("shows a request's latest state after an update", async () => {
        // Prepare
        const [record] = await createdMinutesApart(1);
        await store.update(record!.requestId, (r) => ({
          ...r,
          cancelledBy: "key:crm",
          cancelledAt: "2025-06-01T13:00:00.000Z",
        }));

        // Act
        const answer = await store.listRecent({ limit: 10, maxExamined: 100, accept: all });

        // Assess
        expect(answer.records[0]?.cancelledBy).toBe("key:crm");
      });
    });
  });
}
