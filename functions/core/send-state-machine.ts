/**
 * The send state machine: the one place that decides what may happen to one part (chunk) of a
 * request, and above all whether a POST to PassEntry may leave.
 *
 * Every entry of the send ledger is in one of the states of `SendState` (schemas.ts). Every move is
 * a row of `TRANSITIONS` below: from which states, on which event, under which guard, to which
 * state, with which changes to the entry, and what the caller is to do next. A row that `refuses`
 * writes nothing and says why. `transition()` reads the entry, finds the first matching row and
 * writes its changes only over the version it read (a compare-and-set), so two writers can never
 * both win, and retries on a lost race by deciding again on what is there now.
 *
 * Three rules hold the guarantees together:
 * - A POST leaves only after `startPost` succeeded for the holder's claim token (owner + attempt):
 *   not while a cancel is stamped, not while an earlier POST's outcome is unknown.
 * - Nothing is ever deleted: a released claim keeps "an outcome is unknown" and the cancel stamp.
 * - A cancel stamp outlives every move: whoever records the batch as sent also sees the stamp and
 *   cancels the batch at PassEntry; whoever would post instead cancels the part.
 */
import type { LedgerWrite, SendKey, SendLedger } from "./ports.js";
import type { SendRecord, SendState } from "./schemas.js";
import { LedgerConflictError } from "./errors.js";

/** Who holds a claim: the worker, and which claim of the entry it is. */
export interface ClaimToken {
  owner: string;
  attempt: number;
}

/** What PassEntry told us about a batch it holds for the part. */
export interface BatchFacts {
  batchId: string;
  batchStatus?: string | undefined;
  totalCount?: number | null | undefined;
}

/** What a status check, a send-now or a cancellation learned about a recorded batch. */
export interface BatchUpdate {
  batchStatus?: string;
  totalCount?: number | null;
  errorsCsvUrl?: string | null;
  deliveryCsvUrl?: string | null;
  scheduledAt?: string | null;
  statusCheckedAt?: string;
  sendNowAt?: string;
  /** An early send's requested time: its send-now follow-up waits for it (send-request.ts). */
  sendAt?: string;
  note?: string;
}

/** What a shared batch's own part was decided as, for its members to follow. */
export type GroupOutcome = { sent: BatchFacts } | { unknown: string } | { cancelled: string };

export type SendEvent =
  /** A worker wants the part: claim it for `leaseMs`. */
  | { type: "claim"; owner: string; now: number; leaseMs: number }
  /** The holder extends its lease (while reconciling, before waiting). */
  | { type: "renew"; token: ClaimToken; now: number; leaseMs: number }
  /** The holder is about to POST, with this marker in the batch name. The only door to a POST. */
  | { type: "startPost"; token: ClaimToken; now: number; leaseMs: number; marker: string; members?: readonly string[] }
  /** PassEntry answered the POST with a batch (or an answer arrived late, whoever holds the part now). */
  | { type: "created"; token: ClaimToken; now: number; batch: BatchFacts }
  /** PassEntry certainly did not create the batch (429, circuit open): the holder may try again. */
  | { type: "notCreated"; token: ClaimToken; now: number }
  /** The POST's outcome is not known (5xx, timeout, dropped connection): look before posting again. */
  | { type: "outcomeUnknown"; token: ClaimToken; now: number; reason: string }
  /** What searching PassEntry's batch list found. */
  | { type: "reconciled"; token: ClaimToken; now: number; found: BatchFacts | "absent" | "undecided"; reason?: string }
  /** PassEntry refused the batch for good (a 4xx other than 401/403/429). */
  | { type: "failed"; token: ClaimToken; now: number; reason: string }
  /** The holder gives the part back; the queue brings the message again later. */
  | { type: "release"; token: ClaimToken; now: number; reconcileNotBefore?: number; reason?: string }
  /** The request was cancelled. */
  | { type: "cancel"; now: number }
  /** Tracking, send-now or a cancellation learned something about the batch. */
  | { type: "observed"; now: number; update: BatchUpdate }
  /** The sent batch's first follow-up is on the queue: the send is finished. */
  | { type: "followUpQueued"; now: number }
  /** An operator decided an `unknown` part: it is this batch, or it is not at PassEntry and may be sent. */
  | { type: "resolve"; now: number; by: string; as: { sent: string } | "release" }
  /** A shared batch (`groupId`) takes this part's recipients; its own part is claimed by the grouping worker. */
  | { type: "join"; now: number; groupId: string; recipientCount: number }
  /**
   * The part leaves its group, whose POST will never carry it: the group was given up or refused,
   * or the part was left out when the group's POST started (the caller checked the group's part).
   */
  | { type: "leave"; now: number; groupId: string; reason: string }
  /** The group's part was decided: its batch exists, may exist, or was stopped. */
  | { type: "groupDecided"; now: number; groupId: string; outcome: GroupOutcome }
  /** A part that never posted (a group whose grouping worker died) is given up for good: it can never be posted after this. */
  | { type: "abandon"; now: number; reason: string };

export type SendEventType = SendEvent["type"];
type EventOf<T extends SendEventType> = Extract<SendEvent, { type: T }>;

/**
 * What the caller does after a move:
 * - `post`: it holds the part and nothing stands in the way: `startPost`, then POST.
 * - `reconcile`: it holds the part, but a batch may exist: search PassEntry's list first.
 * - `sent`: the batch was just recorded: announce it and queue its first follow-up.
 * - `cancelled`, `failed`, `unknown`: just decided so: announce it.
 * - `hold`: it still holds the part (a renewal or a known failure): carry on.
 * - `released`: it gave the part back: hand the message back to the queue.
 * - `stamped`: the cancel is recorded; whoever holds or later decides the part acts on it.
 * - `cancelAtPassEntry`: the cancel is recorded on a part PassEntry holds: cancel the batch there.
 * - `requeue`: an operator released an `unknown` part: queue the request again.
 * - `joined`: the part rides in a shared batch now: its group's part decides it.
 * - `none`: nothing more.
 */
export type NextStep =
  | "post"
  | "reconcile"
  | "sent"
  | "cancelled"
  | "failed"
  | "unknown"
  | "hold"
  | "released"
  | "stamped"
  | "cancelAtPassEntry"
  | "requeue"
  | "joined"
  | "none";

/**
 * Why a row wrote nothing:
 * - `busy`: another worker holds a live claim, or a settle window runs: look again at `retryAt`.
 * - `decided`: the part is sent, failed, unknown or cancelled.
 * - `notHolder`: the caller's claim token is no longer the entry's (its lease lapsed and another took it).
 * - `cancelRequested`: the holder may not POST: the request was cancelled. Release the part.
 * - `mustReconcile`: the holder may not POST before it has searched for an earlier batch.
 * - `absent`: no entry to act on.
 * - `notApplicable`: the event means nothing in this state (e.g. `observed` on an unsent part).
 * - `grouped`: the part rides in a shared batch: follow its group's part (`entry.groupId`).
 */
export type Refusal =
  | "busy"
  | "decided"
  | "notHolder"
  | "cancelRequested"
  | "mustReconcile"
  | "absent"
  | "notApplicable"
  | "grouped";

type From = SendState | "absent";

interface Row<T extends SendEventType> {
  /** Names the row in logs and tests. */
  id: string;
  from: readonly From[];
  on: T;
  /** The row applies only when this holds (besides `from` and `on`). */
  when?: (entry: SendRecord | undefined, event: EventOf<T>) => boolean;
  /** A refusing row writes nothing. */
  refuses?: Refusal;
  /** The state after the move; "stays" keeps the entry's own. */
  to?: SendState | "stays";
  /** Fields to change (a field set to `undefined` is removed). `state`, `version` and `updatedAt` are the machine's. */
  set?: (entry: SendRecord | undefined, event: EventOf<T>) => Partial<SendRecord>;
  then: NextStep;
}

// One helper per rule the rows share, so that each guard reads as a sentence.
const holds = (entry: SendRecord | undefined, token: ClaimToken) =>
  entry !== undefined && entry.owner === token.owner && entry.attempt === token.attempt;
const leaseLive = (entry: SendRecord | undefined, now: number) => (entry?.leaseUntil ?? 0) > now;
const stamped = (entry: SendRecord | undefined) => entry?.cancelRequestedAt !== undefined;
/** A POST of an earlier attempt may have created a batch nobody recorded. */
const mayHaveBatch = (entry: SendRecord | undefined) => entry?.needsReconcile === true || entry?.inFlight !== undefined;
const settling = (entry: SendRecord | undefined, now: number) => (entry?.reconcileNotBefore ?? 0) > now;
const iso = (ms: number) => new Date(ms).toISOString();

const UNSENT: readonly From[] = ["claimed", "open"];
const DECIDED: readonly From[] = ["sent", "failed", "unknown", "cancelled"];
const ANY: readonly From[] = ["absent", "claimed", "open", "shared", "sent", "failed", "unknown", "cancelled"];
const inGroup = (entry: SendRecord | undefined, groupId: string) =>
  entry?.state === "shared" && entry.groupId === groupId;

/** A new claim over whatever the entry was: the next attempt, by this owner, for `leaseMs`. */
function claimFields(entry: SendRecord | undefined, event: EventOf<"claim">): Partial<SendRecord> {
  return {
    owner: event.owner,
    attempt: (entry?.attempt ?? 0) + 1,
    claimedAt: iso(event.now),
    leaseUntil: event.now + event.leaseMs,
    // A lapsed claim whose POST was in flight: that POST may have created the batch.
    needsReconcile: mayHaveBatch(entry) || undefined,
    inFlight: undefined,
    reconcileNotBefore: undefined,
  };
}

function sentFields(_entry: SendRecord | undefined, batch: BatchFacts): Partial<SendRecord> {
  return {
    batchId: batch.batchId,
    ...(batch.batchStatus !== undefined ? { batchStatus: batch.batchStatus } : {}),
    ...(batch.totalCount !== undefined ? { totalCount: batch.totalCount } : {}),
    leaseUntil: 0,
    inFlight: undefined,
    needsReconcile: undefined,
    reconcileNotBefore: undefined,
    reason: undefined,
  };
}

const cancelStamp = (entry: SendRecord | undefined, event: { now: number }): Partial<SendRecord> => ({
  cancelRequestedAt: entry?.cancelRequestedAt ?? iso(event.now),
});
const CANCELLED_BEFORE_SENT = "The request was cancelled before this part was sent.";

/** Types one row by its event, so its guard and changes see that event's fields. */
function row<T extends SendEventType>(definition: Row<T>): RowShape {
  return definition as unknown as RowShape;
}

/**
 * Every move of a part, in the order they are tried: the first row whose `from`, `on` and `when`
 * match decides. Refusals are rows too, so the table says what happens in every state.
 */
export const TRANSITIONS: readonly RowShape[] = [
  // --- claim: a worker wants to send the part ------------------------------------------------
  row({ id: "claim-new", from: ["absent"], on: "claim", to: "claimed", set: claimFields, then: "post" }),
  row({
    id: "claim-settling",
    from: ["open"],
    on: "claim",
    when: (e, ev) => settling(e, ev.now),
    refuses: "busy",
    then: "none",
  }),
  row({
    id: "claim-held",
    from: ["claimed"],
    on: "claim",
    when: (e, ev) => leaseLive(e, ev.now),
    refuses: "busy",
    then: "none",
  }),
  // Cancelled while nobody was posting: nothing can exist at PassEntry, so the part is cancelled for good.
  row({
    id: "claim-cancelled-unposted",
    from: UNSENT,
    on: "claim",
    when: (e) => stamped(e) && !mayHaveBatch(e),
    to: "cancelled",
    set: () => ({ leaseUntil: 0, reason: CANCELLED_BEFORE_SENT }),
    then: "cancelled",
  }),
  // A POST of an earlier claim may have created the batch: the new holder looks for it first.
  row({
    id: "claim-take-unsure",
    from: UNSENT,
    on: "claim",
    when: (e) => mayHaveBatch(e),
    to: "claimed",
    set: claimFields,
    then: "reconcile",
  }),
  row({ id: "claim-take", from: UNSENT, on: "claim", to: "claimed", set: claimFields, then: "post" }),
  row({ id: "claim-decided", from: DECIDED, on: "claim", refuses: "decided", then: "none" }),
  row({ id: "claim-grouped", from: ["shared"], on: "claim", refuses: "grouped", then: "none" }),

  // --- renew: the holder keeps its claim alive ------------------------------------------------
  row({
    id: "renew",
    from: ["claimed"],
    on: "renew",
    when: (e, ev) => holds(e, ev.token),
    to: "claimed",
    set: (_e, ev) => ({ leaseUntil: ev.now + ev.leaseMs }),
    then: "hold",
  }),
  row({ id: "renew-lost", from: ANY, on: "renew", refuses: "notHolder", then: "none" }),

  // --- startPost: the only door to a POST -----------------------------------------------------
  // Looking for an earlier batch comes first, even when cancelled: a batch found must be cancelled at PassEntry.
  row({
    id: "post-unreconciled",
    from: ["claimed"],
    on: "startPost",
    when: (e, ev) => holds(e, ev.token) && mayHaveBatch(e),
    refuses: "mustReconcile",
    then: "none",
  }),
  row({
    id: "post-cancelled",
    from: ["claimed"],
    on: "startPost",
    when: (e, ev) => holds(e, ev.token) && stamped(e),
    refuses: "cancelRequested",
    then: "none",
  }),
  row({
    id: "post",
    from: ["claimed"],
    on: "startPost",
    when: (e, ev) => holds(e, ev.token),
    to: "claimed",
    set: (e, ev) => ({
      inFlight: ev.token.attempt,
      leaseUntil: ev.now + ev.leaseMs,
      marker: ev.marker,
      firstPostAt: e?.firstPostAt ?? ev.now,
      posts: (e?.posts ?? 0) + 1,
      ...(ev.members ? { members: [...ev.members] } : {}),
    }),
    then: "post",
  }),
  row({ id: "post-lost", from: ANY, on: "startPost", refuses: "notHolder", then: "none" }),

  // --- created: PassEntry has the batch -------------------------------------------------------
  row({
    id: "created-again",
    from: ["sent"],
    on: "created",
    when: (e, ev) => e?.batchId === ev.batch.batchId,
    refuses: "decided",
    then: "none",
  }),
  // Two batches for one part can only come from a POST that outlived its lease: keep the evidence.
  row({
    id: "created-duplicate",
    from: ["sent"],
    on: "created",
    to: "sent",
    set: (e, ev) => ({
      duplicateBatchIds: [...(e?.duplicateBatchIds ?? []), ev.batch.batchId],
      note: `PassEntry created a second batch (${ev.batch.batchId}) for this part after a POST outlived its lease.`,
    }),
    then: "none",
  }),
  // Evidence beats tokens: whoever holds the part now, and whatever was decided without this answer, the batch exists.
  row({
    id: "created",
    from: ["claimed", "open", "unknown", "failed", "cancelled"],
    on: "created",
    to: "sent",
    set: (e, ev) => sentFields(e, ev.batch),
    then: "sent",
  }),
  row({ id: "created-absent", from: ["absent"], on: "created", refuses: "absent", then: "none" }),

  // --- notCreated / outcomeUnknown: the POST's answer --------------------------------------------
  row({
    id: "not-created",
    from: ["claimed"],
    on: "notCreated",
    when: (e, ev) => holds(e, ev.token),
    to: "claimed",
    set: () => ({ inFlight: undefined }),
    then: "hold",
  }),
  row({ id: "not-created-lost", from: ANY, on: "notCreated", refuses: "notHolder", then: "none" }),
  row({
    id: "outcome-unknown",
    from: ["claimed"],
    on: "outcomeUnknown",
    when: (e, ev) => holds(e, ev.token),
    to: "claimed",
    set: (_e, ev) => ({ inFlight: undefined, needsReconcile: true, reason: ev.reason }),
    then: "reconcile",
  }),
  row({ id: "outcome-unknown-lost", from: ANY, on: "outcomeUnknown", refuses: "notHolder", then: "none" }),

  // --- reconciled: what PassEntry's list showed -----------------------------------------------
  row({
    id: "reconciled-found",
    from: ["claimed"],
    on: "reconciled",
    when: (e, ev) => holds(e, ev.token) && typeof ev.found === "object",
    to: "sent",
    set: (e, ev) => sentFields(e, ev.found as BatchFacts),
    then: "sent",
  }),
  row({
    id: "reconciled-absent-cancelled",
    from: ["claimed"],
    on: "reconciled",
    when: (e, ev) => holds(e, ev.token) && ev.found === "absent" && stamped(e),
    to: "cancelled",
    set: () => ({ leaseUntil: 0, inFlight: undefined, needsReconcile: undefined, reason: CANCELLED_BEFORE_SENT }),
    then: "cancelled",
  }),
  row({
    id: "reconciled-absent",
    from: ["claimed"],
    on: "reconciled",
    when: (e, ev) => holds(e, ev.token) && ev.found === "absent",
    to: "claimed",
    set: () => ({ inFlight: undefined, needsReconcile: undefined, reason: undefined }),
    then: "post",
  }),
  row({
    id: "reconciled-undecided",
    from: ["claimed"],
    on: "reconciled",
    when: (e, ev) => holds(e, ev.token),
    to: "unknown",
    set: (_e, ev) => ({
      leaseUntil: 0,
      inFlight: undefined,
      reason: ev.reason ?? "PassEntry's batch list could not tell whether the batch exists.",
    }),
    then: "unknown",
  }),
  row({ id: "reconciled-lost", from: ANY, on: "reconciled", refuses: "notHolder", then: "none" }),

  // --- failed: PassEntry refused for good ---------------------------------------------------------
  row({
    id: "failed",
    from: ["claimed"],
    on: "failed",
    when: (e, ev) => holds(e, ev.token),
    to: "failed",
    set: (_e, ev) => ({ leaseUntil: 0, inFlight: undefined, reason: ev.reason }),
    then: "failed",
  }),
  row({ id: "failed-lost", from: ANY, on: "failed", refuses: "notHolder", then: "none" }),

  // --- release: the holder gives the part back ----------------------------------------------------
  row({
    id: "release-cancelled",
    from: ["claimed"],
    on: "release",
    when: (e, ev) => holds(e, ev.token) && stamped(e) && !mayHaveBatch(e),
    to: "cancelled",
    set: () => ({ leaseUntil: 0, reason: CANCELLED_BEFORE_SENT }),
    then: "cancelled",
  }),
  row({
    id: "release",
    from: ["claimed"],
    on: "release",
    when: (e, ev) => holds(e, ev.token),
    to: "open",
    set: (e, ev) => ({
      leaseUntil: 0,
      inFlight: undefined,
      needsReconcile: mayHaveBatch(e) || undefined,
      reconcileNotBefore: ev.reconcileNotBefore,
      ...(ev.reason !== undefined ? { reason: ev.reason } : {}),
    }),
    then: "released",
  }),
  row({ id: "release-lost", from: ANY, on: "release", refuses: "notHolder", then: "none" }),

  // --- cancel: the request was cancelled ----------------------------------------------------------
  row({
    id: "cancel-unclaimed",
    from: ["absent"],
    on: "cancel",
    to: "cancelled",
    set: (e, ev) => ({
      ...cancelStamp(e, ev),
      owner: "cancellation",
      attempt: 0,
      leaseUntil: 0,
      reason: CANCELLED_BEFORE_SENT,
    }),
    then: "cancelled",
  }),
  row({
    id: "cancel-open",
    from: ["open"],
    on: "cancel",
    when: (e) => !mayHaveBatch(e),
    to: "cancelled",
    set: (e, ev) => ({ ...cancelStamp(e, ev), reason: CANCELLED_BEFORE_SENT }),
    then: "cancelled",
  }),
  row({ id: "cancel-again", from: ["cancelled"], on: "cancel", refuses: "decided", then: "none" }),
  // In flight, or released with a batch possibly at PassEntry: the holder (or the next) decides, and sees the stamp.
  row({ id: "cancel-in-flight", from: UNSENT, on: "cancel", to: "stays", set: cancelStamp, then: "stamped" }),
  row({ id: "cancel-sent", from: ["sent"], on: "cancel", to: "sent", set: cancelStamp, then: "cancelAtPassEntry" }),
  // In a shared batch not yet posted: left out of its POST (exact), or, if the POST started, handled like a sent part.
  row({ id: "cancel-shared", from: ["shared"], on: "cancel", to: "shared", set: cancelStamp, then: "stamped" }),
  row({ id: "cancel-decided", from: ["failed", "unknown"], on: "cancel", to: "stays", set: cancelStamp, then: "none" }),

  // --- observed / followUpQueued: what happens to a sent batch ------------------------------------
  row({
    id: "observed",
    from: ["sent"],
    on: "observed",
    to: "sent",
    set: (_e, ev) => ({ ...ev.update }),
    then: "none",
  }),
  row({ id: "observed-unsent", from: ANY, on: "observed", refuses: "notApplicable", then: "none" }),
  row({
    id: "follow-up-queued",
    from: ["sent"],
    on: "followUpQueued",
    to: "sent",
    set: (_e, ev) => ({ followUpQueuedAt: iso(ev.now) }),
    then: "none",
  }),
  row({ id: "follow-up-queued-unsent", from: ANY, on: "followUpQueued", refuses: "notApplicable", then: "none" }),

  // --- resolve: an operator decides an unknown part ----------------------------------------------
  row({
    id: "resolve-sent",
    from: ["unknown"],
    on: "resolve",
    when: (_e, ev) => typeof ev.as === "object",
    to: "sent",
    set: (e, ev) => ({
      ...sentFields(e, { batchId: (ev.as as { sent: string }).sent }),
      resolvedBy: ev.by,
      resolvedAt: iso(ev.now),
    }),
    then: "sent",
  }),
  row({
    id: "resolve-cancelled",
    from: ["unknown"],
    on: "resolve",
    when: (e) => stamped(e),
    to: "cancelled",
    set: (_e, ev) => ({ resolvedBy: ev.by, resolvedAt: iso(ev.now), reason: CANCELLED_BEFORE_SENT }),
    then: "cancelled",
  }),
  row({
    id: "resolve-release",
    from: ["unknown"],
    on: "resolve",
    to: "open",
    set: (_e, ev) => ({
      needsReconcile: undefined,
      inFlight: undefined,
      leaseUntil: 0,
      resolvedBy: ev.by,
      resolvedAt: iso(ev.now),
      reason: undefined,
    }),
    then: "requeue",
  }),
  row({ id: "resolve-not-unknown", from: ANY, on: "resolve", refuses: "notApplicable", then: "none" }),

  // --- shared batches (functions/core/coalesce.ts) -------------------------------------------------
  // A part joins a group only if nothing of its own can be at PassEntry and nobody holds it.
  row({
    id: "join-new",
    from: ["absent"],
    on: "join",
    to: "shared",
    set: (_e, ev) => ({
      groupId: ev.groupId,
      recipientCount: ev.recipientCount,
      owner: "group",
      attempt: 0,
      leaseUntil: 0,
    }),
    then: "joined",
  }),
  row({
    id: "join-cancelled",
    from: ["open"],
    on: "join",
    when: (e) => stamped(e) && !mayHaveBatch(e),
    to: "cancelled",
    set: () => ({ reason: CANCELLED_BEFORE_SENT }),
    then: "cancelled",
  }),
  row({
    id: "join",
    from: ["open"],
    on: "join",
    when: (e) => !mayHaveBatch(e),
    to: "shared",
    set: (_e, ev) => ({ groupId: ev.groupId, recipientCount: ev.recipientCount, leaseUntil: 0 }),
    then: "joined",
  }),
  row({ id: "join-unsure", from: ["open"], on: "join", refuses: "mustReconcile", then: "none" }),
  row({ id: "join-held", from: ["claimed"], on: "join", refuses: "busy", then: "none" }),
  row({ id: "join-other", from: ["shared"], on: "join", refuses: "grouped", then: "none" }),
  row({ id: "join-decided", from: DECIDED, on: "join", refuses: "decided", then: "none" }),
  // Leaving: its group will never post it. A cancelled part ends cancelled; any other is open to be sent again.
  row({
    id: "leave-cancelled",
    from: ["shared"],
    on: "leave",
    when: (e, ev) => inGroup(e, ev.groupId) && stamped(e),
    to: "cancelled",
    set: () => ({ groupId: undefined, reason: CANCELLED_BEFORE_SENT }),
    then: "cancelled",
  }),
  row({
    id: "leave",
    from: ["shared"],
    on: "leave",
    when: (e, ev) => inGroup(e, ev.groupId),
    to: "open",
    set: (_e, ev) => ({ groupId: undefined, reason: ev.reason }),
    then: "released",
  }),
  row({ id: "leave-not-member", from: ANY, on: "leave", refuses: "notApplicable", then: "none" }),
  // The group's batch decides its members: a member keeps its own cancel stamp (its cancel after the POST is judged with the others').
  row({
    id: "group-sent",
    from: ["shared"],
    on: "groupDecided",
    when: (e, ev) => inGroup(e, ev.groupId) && "sent" in ev.outcome,
    to: "sent",
    set: (e, ev) => ({
      ...sentFields(e, (ev.outcome as { sent: BatchFacts }).sent),
      totalCount: e?.recipientCount ?? null,
    }),
    then: "sent",
  }),
  row({
    id: "group-unknown",
    from: ["shared"],
    on: "groupDecided",
    when: (e, ev) => inGroup(e, ev.groupId) && "unknown" in ev.outcome,
    to: "unknown",
    set: (_e, ev) => ({ reason: (ev.outcome as { unknown: string }).unknown }),
    then: "unknown",
  }),
  row({
    id: "group-cancelled",
    from: ["shared"],
    on: "groupDecided",
    when: (e, ev) => inGroup(e, ev.groupId) && "cancelled" in ev.outcome,
    to: "cancelled",
    set: (_e, ev) => ({ reason: (ev.outcome as { cancelled: string }).cancelled }),
    then: "cancelled",
  }),
  row({ id: "group-decided-elsewhere", from: ANY, on: "groupDecided", refuses: "notApplicable", then: "none" }),
  // Giving up a group that never posted: afterwards no worker can claim and post it.
  row({
    id: "abandon-new",
    from: ["absent"],
    on: "abandon",
    to: "failed",
    set: (_e, ev) => ({ owner: "abandoned", attempt: 0, leaseUntil: 0, reason: ev.reason }),
    then: "failed",
  }),
  row({
    id: "abandon-held",
    from: ["claimed"],
    on: "abandon",
    when: (e, ev) => leaseLive(e, ev.now),
    refuses: "busy",
    then: "none",
  }),
  row({
    id: "abandon-unsure",
    from: UNSENT,
    on: "abandon",
    when: (e) => mayHaveBatch(e),
    refuses: "mustReconcile",
    then: "none",
  }),
  row({
    id: "abandon",
    from: UNSENT,
    on: "abandon",
    to: "failed",
    set: (_e, ev) => ({ leaseUntil: 0, reason: ev.reason }),
    then: "failed",
  }),
  row({ id: "abandon-decided", from: ["shared", ...DECIDED], on: "abandon", refuses: "decided", then: "none" }),
];

/** A row's id, e.g. "claim-new". */
export type TransitionId = string;

export type Decision =
  | { kind: "move"; row: TransitionId; to: SendState; changes: Partial<SendRecord>; then: NextStep }
  | { kind: "refuse"; row: TransitionId | "none"; refusal: Refusal };

/**
 * Decides what `event` does to `entry` (undefined: no entry yet), without writing anything.
 *
 * @example decide(undefined, { type: "claim", owner: "w1", now: 0, leaseMs: 60_000 }).kind // "move"
 */
export function decide(entry: SendRecord | undefined, event: SendEvent): Decision {
  const from: From = entry?.state ?? "absent";
  for (const row of TRANSITIONS) {
    if (row.on !== event.type || !row.from.includes(from)) continue;
    if (row.when && !row.when(entry, event)) continue;
    if (row.refuses) return { kind: "refuse", row: row.id, refusal: row.refuses };
    const to = row.to === "stays" || row.to === undefined ? (entry?.state ?? "cancelled") : row.to;
    return { kind: "move", row: row.id, to, changes: row.set ? row.set(entry, event) : {}, then: row.then };
  }
  return { kind: "refuse", row: "none", refusal: entry ? "notApplicable" : "absent" };
}

interface RowShape {
  id: string;
  from: readonly From[];
  on: SendEventType;
  when?: (entry: SendRecord | undefined, event: SendEvent) => boolean;
  refuses?: Refusal;
  to?: SendState | "stays";
  set?: (entry: SendRecord | undefined, event: SendEvent) => Partial<SendRecord>;
  then: NextStep;
}

export type TransitionResult =
  /** The move was written: `entry` is the entry as it now stands. */
  | { moved: true; row: TransitionId; entry: SendRecord; then: NextStep; retryAt?: undefined }
  /** Nothing was written; `entry` is what stood in the way (undefined when there is no entry). */
  | { moved: false; row: TransitionId | "none"; refusal: Refusal; entry: SendRecord | undefined; retryAt?: number };

const MAX_RACES = 8;

/**
 * Applies `event` to the part's entry: reads it, decides, and writes the decision over the version
 * read. When another writer got there first, decides again on what it wrote (at most a few times:
 * each lost race means someone else made progress).
 *
 * `known` is the entry as the caller last wrote it (a holder moving its own claim along): the first
 * decision is made on it without reading. That is safe because the write is conditioned on its
 * version, so it lands only if `known` is still exactly what stands; a refusal or a no-op decided on
 * it is never trusted, but read afresh and decided again.
 *
 * @example
 *   const claim = await transition(ledger, { requestId: "r-1", chunk: 0 }, { type: "claim", owner: "w1", now: Date.now(), leaseMs: 60_000 });
 *   if (claim.moved && claim.then === "post") { ... }
 */
export async function transition(
  ledger: SendLedger,
  key: SendKey,
  event: SendEvent,
  known?: SendRecord,
): Promise<TransitionResult> {
  let guess = known;
  for (let race = 0; race < MAX_RACES; race++) {
    const fromGuess = guess !== undefined;
    const entry = guess ?? (await ledger.get(key));
    guess = undefined;
    const decision = decide(entry, event);
    const next =
      decision.kind === "refuse" ? undefined : applyChanges(key, entry, decision.to, decision.changes, event.now);
    const noOp = next !== undefined && entry !== undefined && sameEntry(entry, next);
    if (fromGuess && (next === undefined || noOp)) {
      race--; // not a race: only what the caller last wrote was looked at
      continue;
    }
    if (decision.kind === "refuse")
      return {
        moved: false,
        row: decision.row,
        refusal: decision.refusal,
        entry,
        ...retryAtOf(decision.refusal, entry),
      };
    if (noOp) return { moved: true, row: decision.row, entry: entry!, then: decision.then };
    const written = await ledger.write(moveOf(key, entry, next!));
    if (written) return { moved: true, row: decision.row, entry: next!, then: decision.then };
  }
  throw new LedgerConflictError(
    `The ledger entry ${key.requestId}#${key.chunk} kept changing while "${event.type}" was applied.`,
  );
}

/**
 * Applies one event to each of several entries (the members of a shared batch): decided each on
 * its own, written together as cheaply as the ledger allows, and any that lost a race applied
 * again alone. The same rules as `transition`, for many entries at the cost of about one.
 */
export async function transitionMany(
  ledger: SendLedger,
  items: readonly { key: SendKey; event: SendEvent }[],
): Promise<TransitionResult[]> {
  const results: TransitionResult[] = new Array(items.length);
  const pending: { index: number; result: TransitionResult & { moved: true } }[] = [];
  const moves: LedgerWrite[] = [];
  const entries = await ledger.getMany(items.map((i) => i.key));
  for (const [index, { key, event }] of items.entries()) {
    const entry = entries[index];
    const decision = decide(entry, event);
    if (decision.kind === "refuse") {
      results[index] = {
        moved: false,
        row: decision.row,
        refusal: decision.refusal,
        entry,
        ...retryAtOf(decision.refusal, entry),
      };
      continue;
    }
    const next = applyChanges(key, entry, decision.to, decision.changes, event.now);
    if (entry !== undefined && sameEntry(entry, next)) {
      results[index] = { moved: true, row: decision.row, entry, then: decision.then };
      continue;
    }
    pending.push({ index, result: { moved: true, row: decision.row, entry: next, then: decision.then } });
    moves.push(moveOf(key, entry, next));
  }
  const written = moves.length > 0 ? await ledger.writeMany(moves) : [];
  for (const [i, { index, result }] of pending.entries()) {
    results[index] = written[i] ? result : await transition(ledger, items[index]!.key, items[index]!.event);
  }
  return results;
}

function moveOf(key: SendKey, entry: SendRecord | undefined, next: SendRecord): LedgerWrite {
  return {
    key,
    expectedVersion: entry?.version,
    next,
    changes: entry === undefined ? next : changedFields(entry, next),
  };
}

function retryAtOf(refusal: Refusal, entry: SendRecord | undefined): { retryAt?: number } {
  if (refusal !== "busy" || !entry) return {};
  return { retryAt: Math.max(entry.leaseUntil, entry.reconcileNotBefore ?? 0) };
}

/** The entry after a move. Fields set to `undefined` are removed. */
function applyChanges(
  key: SendKey,
  entry: SendRecord | undefined,
  to: SendState,
  changes: Partial<SendRecord>,
  now: number,
): SendRecord {
  const base: SendRecord = entry ?? {
    requestId: key.requestId,
    chunk: key.chunk,
    state: to,
    version: 0,
    owner: "",
    attempt: 0,
    leaseUntil: 0,
    updatedAt: iso(now),
  };
  const next: Record<string, unknown> = { ...base, ...changes, state: to };
  for (const [field, value] of Object.entries(next)) if (value === undefined) delete next[field];
  next.version = (entry?.version ?? 0) + 1;
  next.updatedAt = iso(now);
  return next as SendRecord;
}

/** Whether a move would change nothing but the version and time (e.g. a repeated cancel). */
function sameEntry(entry: SendRecord, next: SendRecord): boolean {
  const keys = new Set([...Object.keys(entry), ...Object.keys(next)]);
  keys.delete("version");
  keys.delete("updatedAt");
  for (const k of keys)
    if (JSON.stringify((entry as Record<string, unknown>)[k]) !== JSON.stringify((next as Record<string, unknown>)[k]))
      return false;
  return true;
}

/** What a move changes: new values, and `undefined` for removed fields (so DynamoDB can SET and REMOVE just those). */
export function changedFields(entry: SendRecord, next: SendRecord): Partial<SendRecord> {
  const changes: Record<string, unknown> = {};
  const keys = new Set([...Object.keys(entry), ...Object.keys(next)]);
  for (const k of keys) {
    const before = (entry as Record<string, unknown>)[k];
    const after = (next as Record<string, unknown>)[k];
    if (JSON.stringify(before) !== JSON.stringify(after)) changes[k] = after;
  }
  return changes as Partial<SendRecord>;
}
