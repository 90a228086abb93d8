/**
 * The SendLedger contract: what every ledger adapter (SQLite, DynamoDB) must do so that the send
 * state machine's rules hold the same in both homes. It covers the storage itself (versioned
 * compare-and-set, nothing deleted) and then EVERY row of the state machine's table, applied through
 * the adapter, plus races between writers. Run it with `describeSendLedgerContract`.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LedgerWrite, SendKey, SendLedger } from "../../functions/core/ports.js";
import type { SendRecord, SendState } from "../../functions/core/schemas.js";
import {
  TRANSITIONS,
  transition,
  type NextStep,
  type Refusal,
  type SendEvent,
} from "../../functions/core/send-state-machine.js";

export interface SendLedgerHarness {
  ledger: SendLedger;
  close(): Promise<void>;
}

const T0 = Date.parse("2025-06-01T12:00:00.000Z");
const LEASE_MS = 60_000;
const A = { owner: "worker-a", attempt: 1 };
const B = { owner: "worker-b", attempt: 2 };
const iso = (ms: number) => new Date(ms).toISOString();

const freshKey = (chunk = 0): SendKey => ({ requestId: `req-${randomUUID()}`, chunk });

/** An entry in `state`, held by worker A (attempt 1) until T0 + lease unless `over` says otherwise. */
function entryIn(key: SendKey, state: SendState, over: Partial<SendRecord> = {}): SendRecord {
  const held = state === "claimed";
  return {
    ...key,
    state,
    version: 3,
    owner: A.owner,
    attempt: A.attempt,
    claimedAt: iso(T0 - 1_000),
    leaseUntil: held ? T0 + LEASE_MS : 0,
    ...(state === "sent" ? { batchId: "batch-1", batchStatus: "validating" } : {}),
    updatedAt: iso(T0 - 1_000),
    ...over,
  };
}

interface Example {
  before?: (key: SendKey) => SendRecord;
  event: SendEvent;
  moved: boolean;
  state?: SendState;
  then?: NextStep;
  refusal?: Refusal;
  /** Fields the stored entry must hold afterwards. */
  fields?: Partial<SendRecord>;
  /** Fields it must no longer hold. */
  removed?: (keyof SendRecord)[];
}

const claimEvent = (owner = "worker-b", now = T0 + 1): SendEvent => ({ type: "claim", owner, now, leaseMs: LEASE_MS });
const lapsed = T0 + LEASE_MS + 1;
const found = { batchId: "batch-9", batchStatus: "scheduled", totalCount: 3 };

/** One example per row of the state machine (a test below fails when a row has none). */
export const EXAMPLES: Record<string, Example> = {
  "claim-new": {
    event: claimEvent("worker-a", T0),
    moved: true,
    state: "claimed",
    then: "post",
    fields: { owner: "worker-a", attempt: 1, leaseUntil: T0 + LEASE_MS, version: 1 },
  },
  "claim-settling": {
    before: (k) => entryIn(k, "open", { needsReconcile: true, reconcileNotBefore: T0 + 30_000 }),
    event: claimEvent(),
    moved: false,
    refusal: "busy",
  },
  "claim-held": {
    before: (k) => entryIn(k, "claimed"),
    event: claimEvent("worker-b", T0 + LEASE_MS - 1),
    moved: false,
    refusal: "busy",
  },
  "claim-cancelled-unposted": {
    before: (k) => entryIn(k, "claimed", { cancelRequestedAt: iso(T0) }),
    event: claimEvent("worker-b", lapsed),
    moved: true,
    state: "cancelled",
    then: "cancelled",
    fields: { cancelRequestedAt: iso(T0) },
  },
  "claim-take-unsure": {
    before: (k) => entryIn(k, "claimed", { inFlight: 1 }),
    event: claimEvent("worker-b", lapsed),
    moved: true,
    state: "claimed",
    then: "reconcile",
    fields: { owner: "worker-b", attempt: 2, needsReconcile: true, leaseUntil: lapsed + LEASE_MS },
    removed: ["inFlight"],
  },
  "claim-take": {
    before: (k) => entryIn(k, "open"),
    event: claimEvent("worker-b"),
    moved: true,
    state: "claimed",
    then: "post",
    fields: { owner: "worker-b", attempt: 2, leaseUntil: T0 + 1 + LEASE_MS },
    removed: ["needsReconcile"],
  },
  "claim-decided": { before: (k) => entryIn(k, "sent"), event: claimEvent(), moved: false, refusal: "decided" },

  renew: {
    before: (k) => entryIn(k, "claimed"),
    event: { type: "renew", token: A, now: T0 + 5_000, leaseMs: LEASE_MS },
    moved: true,
    state: "claimed",
    then: "hold",
    fields: { leaseUntil: T0 + 5_000 + LEASE_MS },
  },
  "renew-lost": {
    before: (k) => entryIn(k, "claimed", { owner: B.owner, attempt: B.attempt }),
    event: { type: "renew", token: A, now: T0, leaseMs: LEASE_MS },
    moved: false,
    refusal: "notHolder",
  },

  "post-cancelled": {
    before: (k) => entryIn(k, "claimed", { cancelRequestedAt: iso(T0) }),
    event: { type: "startPost", token: A, now: T0, leaseMs: LEASE_MS, marker: "[wm:x:0:1]" },
    moved: false,
    refusal: "cancelRequested",
  },
  "post-unreconciled": {
    before: (k) => entryIn(k, "claimed", { needsReconcile: true, cancelRequestedAt: iso(T0) }),
    event: { type: "startPost", token: A, now: T0, leaseMs: LEASE_MS, marker: "[wm:x:0:1]" },
    moved: false,
    refusal: "mustReconcile",
  },
  post: {
    before: (k) => entryIn(k, "claimed"),
    event: { type: "startPost", token: A, now: T0 + 10, leaseMs: LEASE_MS, marker: "[wm:x:0:1]" },
    moved: true,
    state: "claimed",
    then: "post",
    fields: { inFlight: 1, marker: "[wm:x:0:1]", firstPostAt: T0 + 10, posts: 1, leaseUntil: T0 + 10 + LEASE_MS },
  },
  "post-lost": {
    before: (k) => entryIn(k, "sent"),
    event: { type: "startPost", token: A, now: T0, leaseMs: LEASE_MS, marker: "[wm:x:0:1]" },
    moved: false,
    refusal: "notHolder",
  },

  "created-again": {
    before: (k) => entryIn(k, "sent"),
    event: { type: "created", token: A, now: T0, batch: { batchId: "batch-1" } },
    moved: false,
    refusal: "decided",
  },
  "created-duplicate": {
    before: (k) => entryIn(k, "sent"),
    event: { type: "created", token: A, now: T0, batch: { batchId: "batch-2" } },
    moved: true,
    state: "sent",
    then: "none",
    fields: { batchId: "batch-1", duplicateBatchIds: ["batch-2"] },
  },
  created: {
    before: (k) => entryIn(k, "claimed", { inFlight: 1, cancelRequestedAt: iso(T0) }),
    event: { type: "created", token: A, now: T0, batch: found },
    moved: true,
    state: "sent",
    then: "sent",
    fields: { batchId: "batch-9", batchStatus: "scheduled", totalCount: 3, leaseUntil: 0, cancelRequestedAt: iso(T0) },
    removed: ["inFlight", "needsReconcile"],
  },
  "created-absent": { event: { type: "created", token: A, now: T0, batch: found }, moved: false, refusal: "absent" },

  "not-created": {
    before: (k) => entryIn(k, "claimed", { inFlight: 1 }),
    event: { type: "notCreated", token: A, now: T0 },
    moved: true,
    state: "claimed",
    then: "hold",
    removed: ["inFlight"],
  },
  "not-created-lost": {
    before: (k) => entryIn(k, "open"),
    event: { type: "notCreated", token: A, now: T0 },
    moved: false,
    refusal: "notHolder",
  },
  "outcome-unknown": {
    before: (k) => entryIn(k, "claimed", { inFlight: 1 }),
    event: { type: "outcomeUnknown", token: A, now: T0, reason: "PassEntry failed with 500." },
    moved: true,
    state: "claimed",
    then: "reconcile",
    fields: { needsReconcile: true, reason: "PassEntry failed with 500." },
    removed: ["inFlight"],
  },
  "outcome-unknown-lost": {
    before: (k) => entryIn(k, "claimed", { owner: B.owner, attempt: B.attempt }),
    event: { type: "outcomeUnknown", token: A, now: T0, reason: "x" },
    moved: false,
    refusal: "notHolder",
  },

  "reconciled-found": {
    before: (k) => entryIn(k, "claimed", { needsReconcile: true }),
    event: { type: "reconciled", token: A, now: T0, found },
    moved: true,
    state: "sent",
    then: "sent",
    fields: { batchId: "batch-9" },
    removed: ["needsReconcile"],
  },
  "reconciled-absent-cancelled": {
    before: (k) => entryIn(k, "claimed", { needsReconcile: true, cancelRequestedAt: iso(T0) }),
    event: { type: "reconciled", token: A, now: T0, found: "absent" },
    moved: true,
    state: "cancelled",
    then: "cancelled",
    removed: ["needsReconcile"],
  },
  "reconciled-absent": {
    before: (k) => entryIn(k, "claimed", { needsReconcile: true, reason: "timed out" }),
    event: { type: "reconciled", token: A, now: T0, found: "absent" },
    moved: true,
    state: "claimed",
    then: "post",
    removed: ["needsReconcile", "reason"],
  },
  "reconciled-undecided": {
    before: (k) => entryIn(k, "claimed", { needsReconcile: true }),
    event: { type: "reconciled", token: A, now: T0, found: "undecided", reason: "Searched 40 pages." },
    moved: true,
    state: "unknown",
    then: "unknown",
    fields: { reason: "Searched 40 pages.", leaseUntil: 0 },
  },
  "reconciled-lost": {
    before: (k) => entryIn(k, "unknown"),
    event: { type: "reconciled", token: A, now: T0, found: "absent" },
    moved: false,
    refusal: "notHolder",
  },

  failed: {
    before: (k) => entryIn(k, "claimed", { inFlight: 1 }),
    event: { type: "failed", token: A, now: T0, reason: "PassEntry rejected it with 422." },
    moved: true,
    state: "failed",
    then: "failed",
    fields: { reason: "PassEntry rejected it with 422.", leaseUntil: 0 },
    removed: ["inFlight"],
  },
  "failed-lost": {
    before: (k) => entryIn(k, "claimed", { owner: B.owner, attempt: B.attempt }),
    event: { type: "failed", token: A, now: T0, reason: "x" },
    moved: false,
    refusal: "notHolder",
  },

  "release-cancelled": {
    before: (k) => entryIn(k, "claimed", { cancelRequestedAt: iso(T0) }),
    event: { type: "release", token: A, now: T0 },
    moved: true,
    state: "cancelled",
    then: "cancelled",
    fields: { cancelRequestedAt: iso(T0) },
  },
  release: {
    before: (k) => entryIn(k, "claimed", { needsReconcile: true, cancelRequestedAt: iso(T0) }),
    event: { type: "release", token: A, now: T0, reconcileNotBefore: T0 + 30_000, reason: "timed out" },
    moved: true,
    state: "open",
    then: "released",
    // A release keeps what the next holder must know: a batch may exist, and the request was cancelled.
    fields: {
      needsReconcile: true,
      cancelRequestedAt: iso(T0),
      reconcileNotBefore: T0 + 30_000,
      leaseUntil: 0,
      reason: "timed out",
    },
  },
  "release-lost": {
    before: (k) => entryIn(k, "claimed", { owner: B.owner, attempt: B.attempt }),
    event: { type: "release", token: A, now: T0 },
    moved: false,
    refusal: "notHolder",
  },

  "cancel-unclaimed": {
    event: { type: "cancel", now: T0 },
    moved: true,
    state: "cancelled",
    then: "cancelled",
    fields: { cancelRequestedAt: iso(T0), version: 1 },
  },
  "cancel-open": {
    before: (k) => entryIn(k, "open"),
    event: { type: "cancel", now: T0 },
    moved: true,
    state: "cancelled",
    then: "cancelled",
    fields: { cancelRequestedAt: iso(T0) },
  },
  "cancel-again": {
    before: (k) => entryIn(k, "cancelled", { cancelRequestedAt: iso(T0 - 5) }),
    event: { type: "cancel", now: T0 },
    moved: false,
    refusal: "decided",
  },
  "cancel-in-flight": {
    before: (k) => entryIn(k, "claimed", { inFlight: 1 }),
    event: { type: "cancel", now: T0 },
    moved: true,
    state: "claimed",
    then: "stamped",
    fields: { cancelRequestedAt: iso(T0), inFlight: 1 },
  },
  "cancel-sent": {
    before: (k) => entryIn(k, "sent"),
    event: { type: "cancel", now: T0 },
    moved: true,
    state: "sent",
    then: "cancelAtPassEntry",
    fields: { cancelRequestedAt: iso(T0), batchId: "batch-1" },
  },
  "cancel-decided": {
    before: (k) => entryIn(k, "unknown"),
    event: { type: "cancel", now: T0 },
    moved: true,
    state: "unknown",
    then: "none",
    fields: { cancelRequestedAt: iso(T0) },
  },

  observed: {
    before: (k) => entryIn(k, "sent"),
    event: { type: "observed", now: T0, update: { batchStatus: "successful", totalCount: 7 } },
    moved: true,
    state: "sent",
    then: "none",
    fields: { batchStatus: "successful", totalCount: 7 },
  },
  "observed-unsent": {
    before: (k) => entryIn(k, "claimed"),
    event: { type: "observed", now: T0, update: { batchStatus: "successful" } },
    moved: false,
    refusal: "notApplicable",
  },
  "follow-up-queued": {
    before: (k) => entryIn(k, "sent"),
    event: { type: "followUpQueued", now: T0 },
    moved: true,
    state: "sent",
    then: "none",
    fields: { followUpQueuedAt: iso(T0) },
  },
  "follow-up-queued-unsent": {
    before: (k) => entryIn(k, "failed"),
    event: { type: "followUpQueued", now: T0 },
    moved: false,
    refusal: "notApplicable",
  },

  "resolve-sent": {
    before: (k) => entryIn(k, "unknown", { reason: "lost" }),
    event: { type: "resolve", now: T0, by: "operator:ops", as: { sent: "batch-7" } },
    moved: true,
    state: "sent",
    then: "sent",
    fields: { batchId: "batch-7", resolvedBy: "operator:ops", resolvedAt: iso(T0) },
    removed: ["reason"],
  },
  "resolve-cancelled": {
    before: (k) => entryIn(k, "unknown", { cancelRequestedAt: iso(T0) }),
    event: { type: "resolve", now: T0, by: "operator:ops", as: "release" },
    moved: true,
    state: "cancelled",
    then: "cancelled",
    fields: { resolvedBy: "operator:ops" },
  },
  "resolve-release": {
    before: (k) => entryIn(k, "unknown", { needsReconcile: true, reason: "lost" }),
    event: { type: "resolve", now: T0, by: "operator:ops", as: "release" },
    moved: true,
    state: "open",
    then: "requeue",
    fields: { resolvedBy: "operator:ops" },
    removed: ["needsReconcile", "reason"],
  },
  "claim-grouped": {
    before: (k) => entryIn(k, "shared", { groupId: "grp-1" }),
    event: claimEvent(),
    moved: false,
    refusal: "grouped",
  },
  "cancel-shared": {
    before: (k) => entryIn(k, "shared", { groupId: "grp-1" }),
    event: { type: "cancel", now: T0 },
    moved: true,
    state: "shared",
    then: "stamped",
    fields: { cancelRequestedAt: iso(T0), groupId: "grp-1" },
  },

  "join-new": {
    event: { type: "join", now: T0, groupId: "grp-1", recipientCount: 3 },
    moved: true,
    state: "shared",
    then: "joined",
    fields: { groupId: "grp-1", recipientCount: 3, leaseUntil: 0, version: 1 },
  },
  "join-cancelled": {
    before: (k) => entryIn(k, "open", { cancelRequestedAt: iso(T0) }),
    event: { type: "join", now: T0, groupId: "grp-1", recipientCount: 1 },
    moved: true,
    state: "cancelled",
    then: "cancelled",
  },
  join: {
    before: (k) => entryIn(k, "open"),
    event: { type: "join", now: T0, groupId: "grp-1", recipientCount: 1 },
    moved: true,
    state: "shared",
    then: "joined",
    fields: { groupId: "grp-1", recipientCount: 1 },
  },
  "join-unsure": {
    before: (k) => entryIn(k, "open", { needsReconcile: true }),
    event: { type: "join", now: T0, groupId: "grp-1", recipientCount: 1 },
    moved: false,
    refusal: "mustReconcile",
  },
  "join-held": {
    before: (k) => entryIn(k, "claimed"),
    event: { type: "join", now: T0, groupId: "grp-1", recipientCount: 1 },
    moved: false,
    refusal: "busy",
  },
  "join-other": {
    before: (k) => entryIn(k, "shared", { groupId: "grp-0" }),
    event: { type: "join", now: T0, groupId: "grp-1", recipientCount: 1 },
    moved: false,
    refusal: "grouped",
  },
  "join-decided": {
    before: (k) => entryIn(k, "sent"),
    event: { type: "join", now: T0, groupId: "grp-1", recipientCount: 1 },
    moved: false,
    refusal: "decided",
  },
  "leave-cancelled": {
    before: (k) => entryIn(k, "shared", { groupId: "grp-1", cancelRequestedAt: iso(T0) }),
    event: { type: "leave", now: T0, groupId: "grp-1", reason: "left out" },
    moved: true,
    state: "cancelled",
    then: "cancelled",
    removed: ["groupId"],
  },
  leave: {
    before: (k) => entryIn(k, "shared", { groupId: "grp-1" }),
    event: { type: "leave", now: T0, groupId: "grp-1", reason: "refused" },
    moved: true,
    state: "open",
    then: "released",
    fields: { reason: "refused" },
    removed: ["groupId"],
  },
  "leave-not-member": {
    before: (k) => entryIn(k, "shared", { groupId: "grp-0" }),
    event: { type: "leave", now: T0, groupId: "grp-1", reason: "x" },
    moved: false,
    refusal: "notApplicable",
  },
  "group-sent": {
    before: (k) => entryIn(k, "shared", { groupId: "grp-1", recipientCount: 2, cancelRequestedAt: iso(T0) }),
    event: {
      type: "groupDecided",
      now: T0,
      groupId: "grp-1",
      outcome: { sent: { batchId: "batch-5", batchStatus: "validating" } },
    },
    moved: true,
    state: "sent",
    then: "sent",
    // A member keeps its own count (the batch's total is the group's) and its own cancel stamp.
    fields: {
      batchId: "batch-5",
      batchStatus: "validating",
      totalCount: 2,
      groupId: "grp-1",
      cancelRequestedAt: iso(T0),
    },
  },
  "group-unknown": {
    before: (k) => entryIn(k, "shared", { groupId: "grp-1" }),
    event: { type: "groupDecided", now: T0, groupId: "grp-1", outcome: { unknown: "lost" } },
    moved: true,
    state: "unknown",
    then: "unknown",
    fields: { reason: "lost" },
  },
  "group-cancelled": {
    before: (k) => entryIn(k, "shared", { groupId: "grp-1" }),
    event: { type: "groupDecided", now: T0, groupId: "grp-1", outcome: { cancelled: "stopped" } },
    moved: true,
    state: "cancelled",
    then: "cancelled",
    fields: { reason: "stopped" },
  },
  "group-decided-elsewhere": {
    before: (k) => entryIn(k, "sent"),
    event: { type: "groupDecided", now: T0, groupId: "grp-1", outcome: { unknown: "x" } },
    moved: false,
    refusal: "notApplicable",
  },
  "abandon-new": {
    event: { type: "abandon", now: T0, reason: "worker died" },
    moved: true,
    state: "failed",
    then: "failed",
    fields: { reason: "worker died", version: 1 },
  },
  "abandon-held": {
    before: (k) => entryIn(k, "claimed"),
    event: { type: "abandon", now: T0, reason: "x" },
    moved: false,
    refusal: "busy",
  },
  "abandon-unsure": {
    before: (k) => entryIn(k, "claimed", { inFlight: 1 }),
    event: { type: "abandon", now: lapsed, reason: "x" },
    moved: false,
    refusal: "mustReconcile",
  },
  abandon: {
    before: (k) => entryIn(k, "claimed"),
    event: { type: "abandon", now: lapsed, reason: "worker died" },
    moved: true,
    state: "failed",
    then: "failed",
    fields: { reason: "worker died", leaseUntil: 0 },
  },
  "abandon-decided": {
    before: (k) => entryIn(k, "sent"),
    event: { type: "abandon", now: T0, reason: "x" },
    moved: false,
    refusal: "decided",
  },

  "resolve-not-unknown": {
    before: (k) => entryIn(k, "sent"),
    event: { type: "resolve", now: T0, by: "operator:ops", as: "release" },
    moved: false,
    refusal: "notApplicable",
  },
};

export function describeSendLedgerContract(
  name: string,
  makeHarness: () => Promise<SendLedgerHarness>,
  options: { propertyRuns?: number } = {},
): void {
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

    describe("storage", () => {
      /** A move as the state machine hands it over: the whole entry after it, and what it changes. */
      const moveTo = (key: SendKey, before: SendRecord | undefined, changes: Partial<SendRecord>): LedgerWrite => {
        const next = { ...(before ?? ({} as SendRecord)), ...changes } as Record<string, unknown>;
        for (const [field, value] of Object.entries(next)) if (value === undefined) delete next[field];
        return { key, expectedVersion: before?.version, next: next as SendRecord, changes };
      };
      const create = (entry: SendRecord) =>
        ledger.write({ key: entry, expectedVersion: undefined, next: entry, changes: entry });

      it("creates an entry once: a second create of the same key writes nothing", async () => {
        const key = freshKey();
        expect(await create(entryIn(key, "claimed"))).toBe(true);
        expect(await create(entryIn(key, "cancelled"))).toBe(false);
        expect((await ledger.get(key))?.state).toBe("claimed");
      });

      it("writes a change only over the expected version, and leaves the entry as it was otherwise", async () => {
        const key = freshKey();
        const stored = entryIn(key, "claimed");
        await create(stored);
        expect(await ledger.write({ ...moveTo(key, stored, { state: "sent", version: 4 }), expectedVersion: 2 })).toBe(
          false,
        );
        expect(await ledger.get(key)).toEqual(stored);
        expect(await ledger.write(moveTo(key, stored, { state: "sent", batchId: "b-1", version: 4 }))).toBe(true);
        expect(await ledger.get(key)).toMatchObject({ state: "sent", batchId: "b-1", version: 4, owner: A.owner });
      });

      it("removes the fields a change sets to undefined and keeps every other", async () => {
        const key = freshKey();
        const stored = entryIn(key, "claimed", { inFlight: 1, note: "kept", totalCount: null });
        await create(stored);
        await ledger.write(moveTo(key, stored, { inFlight: undefined, version: 4 }));
        const read = await ledger.get(key);
        expect(read).not.toHaveProperty("inFlight");
        expect(read).toMatchObject({ note: "kept", totalCount: null, version: 4 });
      });

      it("refuses a change to a key that has no entry", async () => {
        const key = freshKey();
        expect(
          await ledger.write({
            key,
            expectedVersion: 1,
            next: entryIn(key, "sent", { version: 2 }),
            changes: { state: "sent", version: 2 },
          }),
        ).toBe(false);
        expect(await ledger.get(key)).toBeUndefined();
      });

      it("writes many moves, each on its own condition: one lost race does not stop the others", async () => {
        const [a, b, c] = [freshKey(), freshKey(), freshKey()];
        const storedB = entryIn(b, "claimed");
        await create(storedB);
        const written = await ledger.writeMany([
          { key: a, expectedVersion: undefined, next: entryIn(a, "shared", { groupId: "g" }), changes: {} },
          { ...moveTo(b, storedB, { state: "sent", version: 4 }), expectedVersion: 9 },
          { key: c, expectedVersion: undefined, next: entryIn(c, "shared", { groupId: "g" }), changes: {} },
        ]);
        expect(written).toEqual([true, false, true]);
        expect((await ledger.get(a))?.state).toBe("shared");
        expect(await ledger.get(b)).toEqual(storedB);
        expect((await ledger.get(c))?.state).toBe("shared");
      });

      it("reads many entries in the order asked, with a gap where a key has none", async () => {
        const [a, b, c] = [freshKey(), freshKey(), freshKey()];
        await create(entryIn(a, "claimed"));
        await create(entryIn(c, "sent"));
        const entries = await ledger.getMany([c, b, a]);
        expect(entries.map((e) => e?.state)).toEqual(["sent", undefined, "claimed"]);
        expect(await ledger.getMany([])).toEqual([]);
      });

      it("lists a request's entries by chunk, and no other request's", async () => {
        const key = freshKey();
        for (const chunk of [2, 0, 1]) await create(entryIn({ ...key, chunk }, "claimed"));
        await create(entryIn(freshKey(), "claimed"));
        expect((await ledger.list(key.requestId)).map((e) => e.chunk)).toEqual([0, 1, 2]);
      });
    });

    describe("every transition of the send state machine", () => {
      it("has an example for every row", () => {
        const missing = TRANSITIONS.map((row) => row.id).filter((id) => !(id in EXAMPLES));
        expect(missing).toEqual([]);
      });

      it.each(Object.entries(EXAMPLES))("%s", async (id, example) => {
        // Prepare
        const key = freshKey();
        const before = example.before?.(key);
        if (before) await ledger.write({ key, expectedVersion: undefined, next: before, changes: before });

        // Act
        const result = await transition(ledger, key, example.event);

        // Assess
        expect(result.row).toBe(id);
        expect(result.moved).toBe(example.moved);
        const stored = await ledger.get(key);
        if (!example.moved) {
          expect(result.moved ? undefined : result.refusal).toBe(example.refusal);
          expect(stored).toEqual(before);
          return;
        }
        expect(result.moved ? result.then : undefined).toBe(example.then);
        expect(stored).toEqual(result.entry);
        expect(stored?.state).toBe(example.state);
        if (before && result.entry !== before) expect(stored?.version).toBe(before.version + 1);
        expect(stored).toMatchObject(example.fields ?? {});
        for (const field of example.removed ?? []) expect(stored).not.toHaveProperty(field);
      });
    });

    describe("races", () => {
      it("grants one claim when ten workers claim at once", async () => {
        const key = freshKey();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => transition(ledger, key, claimEvent(`worker-${i}`, T0))),
        );
        expect(results.filter((r) => r.moved)).toHaveLength(1);
        expect(results.filter((r) => !r.moved && r.refusal === "busy")).toHaveLength(9);
      });

      it("keeps a cancel that lands between a holder's read and its write (the holder decides again)", async () => {
        // Prepare: the holder's write waits until the cancel is stored.
        const key = freshKey();
        const holding = entryIn(key, "claimed", { inFlight: 1 });
        await ledger.write({ key, expectedVersion: undefined, next: holding, changes: holding });
        let cancelled!: Promise<unknown>;
        const paused: SendLedger = {
          get: (k) => ledger.get(k),
          getMany: (keys) => ledger.getMany(keys),
          list: (r) => ledger.list(r),
          writeMany: (moves) => ledger.writeMany(moves),
          write: async (move) => {
            cancelled ??= transition(ledger, key, { type: "cancel", now: T0 });
            await cancelled;
            return ledger.write(move);
          },
        };

        // Act
        const created = await transition(paused, key, { type: "created", token: A, now: T0, batch: found });

        // Assess
        expect(created.moved && created.then).toBe("sent");
        expect(await ledger.get(key)).toMatchObject({ state: "sent", batchId: "batch-9", cancelRequestedAt: iso(T0) });
      });

      it("decides a holder's move on the entry it last wrote without reading, yet never over a change it has not seen", async () => {
        // Prepare: the holder's claim, as it wrote it; a ledger that counts reads.
        const key = freshKey();
        const holding = entryIn(key, "claimed", { inFlight: 1 });
        await ledger.write({ key, expectedVersion: undefined, next: holding, changes: holding });
        const known = (await ledger.get(key))!;
        let reads = 0;
        const counting: SendLedger = {
          get: (k) => {
            reads++;
            return ledger.get(k);
          },
          getMany: (keys) => ledger.getMany(keys),
          list: (r) => ledger.list(r),
          write: (move) => ledger.write(move),
          writeMany: (moves) => ledger.writeMany(moves),
        };

        // Act 1: nothing changed since: recorded with no read.
        const quiet = await transition(counting, key, { type: "created", token: A, now: T0, batch: found }, known);

        // Assess 1
        expect(quiet.moved && quiet.then).toBe("sent");
        expect(reads).toBe(0);

        // Act 2: a cancel lands after the holder's last write; the holder still decides on its stale copy.
        const second = freshKey();
        await ledger.write({
          key: second,
          expectedVersion: undefined,
          next: { ...holding, ...second },
          changes: { ...holding, ...second },
        });
        const stale = (await ledger.get(second))!;
        await transition(ledger, second, { type: "cancel", now: T0 });
        const raced = await transition(counting, second, { type: "created", token: A, now: T0, batch: found }, stale);

        // Assess 2: its write lost on the version, it read what stands and kept the cancel stamp.
        expect(raced.moved && raced.then).toBe("sent");
        expect(await ledger.get(second)).toMatchObject({ state: "sent", cancelRequestedAt: iso(T0) });
        expect(reads).toBe(1);
      });

      it("never refuses on the entry a holder last wrote: a refusal is decided again on a fresh read", async () => {
        // Prepare: the holder's copy says another worker holds the claim; the entry really is open.
        const key = freshKey();
        const open = entryIn(key, "open");
        await ledger.write({ key, expectedVersion: undefined, next: open, changes: open });
        const stale = {
          ...(await ledger.get(key))!,
          state: "claimed" as const,
          owner: "worker-x",
          leaseUntil: T0 + LEASE_MS,
        };

        // Act
        const claim = await transition(ledger, key, claimEvent("worker-b", T0 + 1), stale);

        // Assess
        expect(claim.moved).toBe(true);
        expect(await ledger.get(key)).toMatchObject({ state: "claimed", owner: "worker-b" });
      });

      it("keeps every cancel stamp and every recorded batch whatever the order of concurrent moves", async () => {
        const token = fc.constantFrom(A, B);
        const event: fc.Arbitrary<SendEvent> = fc.oneof(
          fc.constantFrom<SendEvent>(claimEvent("worker-a", T0), claimEvent("worker-b", lapsed), {
            type: "cancel",
            now: T0,
          }),
          token.map(
            (t): SendEvent => ({ type: "startPost", token: t, now: T0, leaseMs: LEASE_MS, marker: "[wm:x:0:1]" }),
          ),
          token.map((t): SendEvent => ({ type: "created", token: t, now: T0, batch: found })),
          token.map((t): SendEvent => ({ type: "outcomeUnknown", token: t, now: T0, reason: "500" })),
          token.map((t): SendEvent => ({ type: "release", token: t, now: T0 })),
          token.map((t): SendEvent => ({ type: "reconciled", token: t, now: T0, found: "absent" })),
        );
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.array(event, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }),
            async (rounds) => {
              const key = freshKey();
              let cancelSeen = false;
              let sentBatch: string | undefined;
              for (const round of rounds) {
                // Each round's moves run concurrently.
                const results = await Promise.all(round.map((e) => transition(ledger, key, e)));
                if (round.some((e) => e.type === "cancel")) cancelSeen = true;
                const stored = await ledger.get(key);
                if (cancelSeen) expect(stored?.cancelRequestedAt, "a cancel stamp was lost").toBeDefined();
                if (sentBatch) expect(stored).toMatchObject({ state: "sent", batchId: sentBatch });
                if (stored?.state === "sent") sentBatch = stored.batchId;
                // No two claims are granted for the same attempt.
                const granted = results
                  .filter((r) => r.moved && r.row.startsWith("claim-"))
                  .map((r) => r.entry?.attempt);
                expect(new Set(granted).size).toBe(granted.length);
              }
            },
          ),
          { numRuns: options.propertyRuns ?? 100 },
        );
      });
    });
  });
}
