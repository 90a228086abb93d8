/**
 * Shared batches: PassEntry limits calls, not recipients (10 calls a second, 500 recipients each),
 * so requests of one caller that differ only in their recipients share PassEntry batches.
 *
 * Who shares: requests with `recipients` (never `segments`), at most 500 of them, from the same
 * caller (a batch's id, counts and CSVs would show one caller another's recipients), agreeing on
 * everything else that makes a batch (entity, message template, `scheduledAt` or "send now", name,
 * tag, any allowed extra key), and not opting out (`"coalesce": false`). Two requests naming the
 * same pass never share a batch: each pass gets each message it was sent.
 *
 * How: the sender takes the queue messages of one delivery (SQS hands it up to a batch's worth,
 * gathered over its batching window; the embedded home's runner does the same) and packs the
 * shareable ones into groups of up to 500 recipients. A group is a part of its own in the send
 * ledger (`grp-<uuid>`#0, with a marker and reconciliation like any other) and a stored request
 * (source `group`, listing its members). Every guarantee stays per member:
 *
 * 1. The grouping worker claims the group's part, then each member's part `join`s it (only a part
 *    nothing of its own can be at PassEntry for, and nobody holds), then stores the group request.
 * 2. Right before every POST the group's part decides which members it carries (a member cancelled
 *    meanwhile is left out: its cancel before the POST is exact) and records them with the POST.
 * 3. Once the group's part is decided, each member follows: sent (pointing at the shared batch),
 *    unknown, cancelled, or, if PassEntry refused the shared batch or nobody carried the member,
 *    `leave`s to be sent again. A refused shared batch is split in halves and sent again, so one
 *    bad pass cannot fail 499 good ones.
 * 4. A member redelivered before that (a worker died, a 429 storm) finds its part `shared` and
 *    drives its group's part itself: the same claim, the same reconciliation, then step 3. A group
 *    whose grouping worker died before its first POST is given up (`abandon`, after its lease) and
 *    its members leave to be sent again.
 * A member's cancel after the POST stops the shared batch only when every member asked; otherwise
 * the request says why not (follow-up.ts).
 */
import { createHash, randomUUID } from "node:crypto";
import { canonicalJson } from "./accept-request.js";
import { wantsSendNow } from "./batch-rules.js";
import { RetryLaterError } from "./errors.js";
import { occurredAt, publishOutcome } from "./outcome-events.js";
import { refreshSummary } from "./request-summary.js";
import type { SendKey } from "./ports.js";
import { MAX_RECIPIENTS_PER_BATCH } from "./passentry-limits.js";
import type { RequestRecord, SendRecord, SendRequest, WalletMessageBatch } from "./schemas.js";
import {
  announceCancelled,
  holdPart,
  outcomeOf,
  queueFirstFollowUp,
  sendPart,
  sendRequest,
  type ChunkOutcome,
  type PostPlan,
  type SendDeps,
} from "./send-request.js";
import { transition, transitionMany, type GroupOutcome } from "./send-state-machine.js";

/** A shared batch's body stays well inside what one stored request (a DynamoDB item: 400 KB) can hold. */
export const MAX_SHARED_BATCH_BYTES = 200_000;

/** A request that may share a batch, with what packing needs to know. */
export interface Shareable {
  request: SendRequest;
  /** The stored request: its caller is the one the door recorded, never what a queue message claims. */
  stored: RequestRecord;
  key: string;
  recipients: number;
  bytes: number;
  passes: string[];
}

/** What became of one member request of a delivery. */
export type MemberResult = { outcome: ChunkOutcome } | { retry: RetryLaterError };

/**
 * The sharing key of a request: equal keys may share a batch. Undefined when the request may not
 * share (segments, more than one batch's worth, opted out, no known caller, a group itself).
 *
 * @example shareKey(request, stored) // "3b7c…" for { message: "Hi %{name}", recipients: [{ passId: "p-1", … }] }
 */
export function shareKey(request: SendRequest, stored: RequestRecord): string | undefined {
  const batch = request.batch;
  if (batch.recipients === undefined || batch.recipients.length > MAX_RECIPIENTS_PER_BATCH) return undefined;
  if (batch.coalesce === false || request.source === "group" || stored.caller === undefined) return undefined;
  const { recipients: _recipients, coalesce: _coalesce, sendNow: _sendNow, ...template } = batch;
  const digest = createHash("sha256").update(
    canonicalJson({ caller: stored.caller, entityId: request.entityId, sendNow: wantsSendNow(batch), template }),
  );
  return digest.digest("hex");
}

/**
 * A cheap look at a queue message's body: could it share a batch? (Whether it really may is decided
 * later, with its stored caller.) The embedded home uses it to decide whether to gather more.
 */
export function mayShareBatch(body: string): boolean {
  return body.includes('"recipients"') && !body.includes('"followUp"') && !body.includes('"coalesce":false');
}

/** What names a pass in a recipient: everything but its variables. */
export function passOf(recipient: object): string {
  const { variables: _variables, ...identity } = recipient as Record<string, unknown>;
  return canonicalJson(identity);
}

export function toShareable(request: SendRequest, stored: RequestRecord, key: string): Shareable {
  const recipients = request.batch.recipients ?? [];
  return {
    request,
    stored,
    key,
    recipients: recipients.length,
    bytes: Buffer.byteLength(JSON.stringify(recipients)),
    passes: recipients.map(passOf),
  };
}

/**
 * Packs requests of one sharing key into groups, in arrival order: a request joins the first group
 * with room (recipients, bytes) and none of its passes; otherwise it opens a new one.
 */
export function packGroups(requests: readonly Shareable[]): Shareable[][] {
  const groups: { members: Shareable[]; recipients: number; bytes: number; passes: Set<string> }[] = [];
  for (const request of requests) {
    const fits = groups.find(
      (g) =>
        g.recipients + request.recipients <= MAX_RECIPIENTS_PER_BATCH &&
        g.bytes + request.bytes <= MAX_SHARED_BATCH_BYTES &&
        !request.passes.some((p) => g.passes.has(p)) &&
        !hasDuplicates(request.passes),
    );
    if (fits) {
      fits.members.push(request);
      fits.recipients += request.recipients;
      fits.bytes += request.bytes;
      for (const p of request.passes) fits.passes.add(p);
    } else
      groups.push({
        members: [request],
        recipients: request.recipients,
        bytes: request.bytes,
        passes: new Set(request.passes),
      });
  }
  return groups.map((g) => g.members);
}

function hasDuplicates(passes: readonly string[]): boolean {
  return new Set(passes).size !== passes.length;
}

const memberKey = (requestId: string): SendKey => ({ requestId, chunk: 0 });

/** What settling a group's members needs (the resolve command has no PassEntry client). */
export type SettleDeps = Pick<SendDeps, "ledger" | "store" | "clock" | "log" | "events" | "onUnknownOutcome">;

/**
 * Sends requests that share a key: as one shared batch if at least two can join it, each on its own
 * otherwise. Never throws for one member's sake: each member gets its own result.
 */
export async function sendShared(deps: SendDeps, members: readonly Shareable[]): Promise<Map<string, MemberResult>> {
  const results = new Map<string, MemberResult>();
  if (members.length < 2) {
    for (const m of members) results.set(m.request.requestId, await alone(deps, m.request));
    return results;
  }
  const groupId = `grp-${randomUUID()}`;
  const groupKey = memberKey(groupId);
  const claim = await transition(deps.ledger, groupKey, {
    type: "claim",
    owner: deps.owner,
    now: deps.clock.now(),
    leaseMs: deps.leaseMs,
  });
  if (!claim.moved) throw new Error(`A new group ${groupId} was already claimed.`); // a fresh uuid: cannot happen
  const token = { owner: deps.owner, attempt: claim.entry.attempt };

  const joined: Shareable[] = [];
  const apart: Shareable[] = [];
  const joins = await transitionMany(
    deps.ledger,
    members.map((m) => ({
      key: memberKey(m.request.requestId),
      event: { type: "join" as const, now: deps.clock.now(), groupId, recipientCount: m.recipients },
    })),
  );
  for (const [i, join] of joins.entries()) {
    const m = members[i]!;
    if (join.moved && join.then === "joined") joined.push(m);
    else if (join.moved && join.then === "cancelled")
      results.set(m.request.requestId, {
        outcome: await announceCancelled(deps, m.request, memberKey(m.request.requestId), join.entry),
      });
    else apart.push(m); // held by another worker, decided, or in another group: its own path decides
  }

  if (joined.length < 2) {
    // One member is no shared batch: give the group up (it never posted) and send that one alone.
    await transition(deps.ledger, groupKey, {
      type: "failed",
      token,
      now: deps.clock.now(),
      reason: "Fewer than two requests could join this shared batch; each was sent on its own.",
    });
    await transitionMany(
      deps.ledger,
      joined.map((m) => ({
        key: memberKey(m.request.requestId),
        event: { type: "leave" as const, now: deps.clock.now(), groupId, reason: "sent on its own" },
      })),
    );
    apart.push(...joined);
  } else {
    const group = groupRequestOf(groupId, joined);
    await deps.store.create(group);
    deps.log.info("requests share a batch", {
      requestId: groupId,
      members: joined.length,
      recipients: group.batch.recipients?.length,
    });
    try {
      const known = new Map(joined.map((m) => [m.request.requestId, m.request.batch.recipients ?? []]));
      await holdPart(deps, toGroupSend(group), groupKey, group.batch, token, "post", planFor(deps, group, known));
    } catch (error) {
      if (!(error instanceof RetryLaterError)) throw error;
      // The group's part was handed back: its members come back with their messages and drive it then.
      for (const m of joined) results.set(m.request.requestId, { retry: error });
      for (const m of apart) results.set(m.request.requestId, await alone(deps, m.request));
      return results;
    }
    const settled = await settleMembers(deps, groupId);
    await refreshSummary(deps, groupId);
    const refused = settled.state === "failed" ? joined.filter((m) => settled.left.includes(m.request.requestId)) : [];
    for (const m of joined)
      if (!refused.includes(m))
        results.set(m.request.requestId, await memberResult(deps, m.request, settled.entries.get(m.request.requestId)));
    if (refused.length > 0) {
      // PassEntry refused the shared batch; one member may be to blame. Halves are sent again, down to single requests.
      deps.log.warn("PassEntry refused a shared batch; sending its halves", {
        requestId: groupId,
        members: refused.length,
        reason: settled.reason,
      });
      const half = Math.ceil(refused.length / 2);
      for (const part of [refused.slice(0, half), refused.slice(half)])
        for (const [id, result] of await sendShared(deps, part)) results.set(id, result);
    }
  }
  for (const m of apart) results.set(m.request.requestId, await alone(deps, m.request));
  return results;
}

/** A request sent the usual way; a wait it meets is its own result, not everyone's. */
async function alone(deps: SendDeps, request: SendRequest): Promise<MemberResult> {
  try {
    const [outcome] = await sendRequest(deps, request);
    return { outcome: outcome! };
  } catch (error) {
    if (error instanceof RetryLaterError) return { retry: error };
    throw error;
  }
}

async function memberResult(deps: SendDeps, request: SendRequest, settled?: SendRecord): Promise<MemberResult> {
  const key = memberKey(request.requestId);
  const entry = settled ?? (await deps.ledger.get(key));
  if (entry?.state === "open") return alone(deps, request); // left the group (e.g. it was not carried): send it now
  try {
    // Cancelled after the POST, while it was still `shared` (the DELETE only stamped it): its cancel follow-up runs now.
    if (entry?.state === "sent") await queueFirstFollowUp(deps, request, key, entry);
  } catch (error) {
    if (error instanceof RetryLaterError) return { retry: error };
    throw error;
  }
  return { outcome: outcomeOf(key, entry!) };
}

/** The group's stored request: the members' template, their recipients in order, and who they are. */
function groupRequestOf(groupId: string, members: readonly Shareable[]): RequestRecord {
  const first = members[0]!;
  const { recipients: _r, coalesce: _c, ...template } = first.request.batch;
  const batch: WalletMessageBatch = {
    ...template,
    recipients: members.flatMap((m) => m.request.batch.recipients ?? []),
  };
  return {
    requestId: groupId,
    entityId: first.request.entityId,
    source: "group",
    createdAt: new Date().toISOString(),
    ...(first.stored.caller ? { caller: first.stored.caller } : {}),
    batch,
    ...(wantsSendNow(first.request.batch) ? { sendNow: true } : {}),
    members: members.map((m) => m.request.requestId),
  };
}

function toGroupSend(group: RequestRecord): SendRequest {
  return {
    requestId: group.requestId,
    entityId: group.entityId,
    batch: group.batch,
    source: "group",
    acceptedAt: group.createdAt,
  };
}

/**
 * What the group's next POST carries: the listed members whose part is still in the group and not
 * cancelled, with their recipients as each member asked (each keeps its own variables).
 */
function planFor(
  deps: SendDeps,
  group: RequestRecord,
  known = new Map<string, NonNullable<WalletMessageBatch["recipients"]>>(),
): PostPlan {
  return async () => {
    const carried: string[] = [];
    const recipients: NonNullable<WalletMessageBatch["recipients"]> = [];
    for (const id of group.members ?? []) {
      const entry = await deps.ledger.get(memberKey(id));
      if (entry?.state !== "shared" || entry.groupId !== group.requestId || entry.cancelRequestedAt !== undefined)
        continue;
      const own = known.get(id) ?? (await deps.store.get(id))?.batch.recipients;
      if (!own) continue;
      carried.push(id);
      recipients.push(...own);
    }
    if (carried.length === 0)
      return { empty: "Every request of this shared batch was cancelled before it was posted." };
    const { recipients: _all, ...template } = group.batch;
    return { batch: { ...template, recipients }, members: carried };
  };
}

/**
 * Makes every member follow its decided group: sent, unknown or cancelled with it, or `leave` (to be
 * sent again, or cancelled if it asked) when the group will never carry it. Nothing happens while
 * the group's part is undecided. Safe to repeat.
 */
export async function settleMembers(
  deps: SettleDeps,
  groupId: string,
): Promise<{
  state: SendRecord["state"] | "absent";
  reason?: string;
  left: string[];
  entries: Map<string, SendRecord>;
}> {
  const group = await deps.ledger.get(memberKey(groupId));
  const stored = await deps.store.get(groupId);
  const left: string[] = [];
  const entries = new Map<string, SendRecord>();
  if (!group || !["sent", "failed", "unknown", "cancelled"].includes(group.state))
    return { state: group?.state ?? "absent", left, entries };
  const carried = new Set(group.members ?? []);
  const ids = stored?.members ?? group.members ?? [];
  const now = deps.clock.now();
  const outcome: GroupOutcome =
    group.state === "sent"
      ? { sent: { batchId: group.batchId!, batchStatus: group.batchStatus } }
      : group.state === "unknown"
        ? {
            unknown: `Its shared batch (${groupId}) may exist and could not be confirmed: ${group.reason ?? ""}`.trim(),
          }
        : { cancelled: group.reason ?? "The shared batch was cancelled." };
  const leaving =
    group.state === "failed"
      ? `PassEntry refused the shared batch: ${group.reason ?? "no reason given"}`
      : "Left out of the shared batch.";
  const decisions = await transitionMany(
    deps.ledger,
    ids.map((id) => ({
      key: memberKey(id),
      event:
        group.state === "failed" || !carried.has(id)
          ? ({ type: "leave", now, groupId, reason: leaving } as const)
          : ({ type: "groupDecided", now, groupId, outcome } as const),
    })),
  );
  for (const [i, decided] of decisions.entries()) {
    const id = ids[i]!;
    if (!decided.moved) {
      if (decided.entry) entries.set(id, decided.entry);
      continue; // settled before
    }
    entries.set(id, decided.entry);
    if (decided.then === "released") left.push(id);
    await announceMember(deps, id, decided.entry, group, stored);
  }
  return { state: group.state, ...(group.reason ? { reason: group.reason } : {}), left, entries };
}

/** The member's own outcome event, once its part follows its group. */
async function announceMember(
  deps: SettleDeps,
  requestId: string,
  entry: SendRecord,
  group: SendRecord,
  stored: RequestRecord | undefined,
): Promise<void> {
  // Every member shares the group's entity and timing (they are part of its sharing key).
  const request = stored ?? (await deps.store.get(requestId));
  const common = { requestId, chunk: 0, entityId: request?.entityId ?? null, occurredAt: occurredAt(deps.clock) };
  if (entry.state === "sent") {
    deps.log.info("request submitted in a shared batch", {
      requestId,
      batchId: entry.batchId,
      groupId: group.requestId,
    });
    await publishOutcome(deps, {
      type: "WalletMessageBatchCreated",
      ...common,
      batchId: entry.batchId!,
      status: entry.batchStatus ?? "unknown",
      totalCount: entry.recipientCount ?? null,
      sendNow: request?.sendNow ?? false,
    });
  } else if (entry.state === "cancelled") {
    deps.log.info("send cancelled before it was sent", { requestId, chunk: 0 });
    await publishOutcome(deps, {
      type: "WalletMessageBatchFailed",
      ...common,
      batchId: null,
      status: "cancelled",
      reason: entry.reason ?? "The request was cancelled before this part was sent.",
      errorsCsvUrl: null,
    });
  } else if (entry.state === "unknown") {
    deps.log.error("send outcome unknown", { requestId, chunk: 0, reason: entry.reason });
    deps.onUnknownOutcome?.(memberKey(requestId));
  }
}

/**
 * A member whose part is `shared`: its group decides it. The group's part is driven like any part
 * (claimed, searched for, posted), then the members follow. A group whose grouping worker died
 * before storing it, or before its first POST, is given up once its claim lapses.
 */
export async function followGroup(
  deps: SendDeps,
  request: SendRequest,
  key: SendKey,
  entry: SendRecord,
): Promise<ChunkOutcome> {
  const groupId = entry.groupId!;
  const groupKey = memberKey(groupId);
  const stored = await deps.store.get(groupId);
  let group = await deps.ledger.get(groupKey);
  if (!stored && group?.state !== "failed" && group?.state !== "cancelled") {
    // Its grouping worker died between the joins and storing the group: the group never posted.
    const abandoned = await transition(deps.ledger, groupKey, {
      type: "abandon",
      now: deps.clock.now(),
      reason: "Its grouping worker stopped before the shared batch was stored.",
    });
    if (!abandoned.moved && abandoned.refusal === "busy")
      throw new RetryLaterError(
        `The shared batch ${groupId} is being formed.`,
        Math.max(1, Math.ceil(((abandoned.retryAt ?? 0) - deps.clock.now()) / 1000)),
      );
    group = await deps.ledger.get(groupKey);
  }
  if (stored && (!group || ["claimed", "open"].includes(group.state))) {
    // Drive the group's part as its grouping worker would (this throws RetryLaterError while it is held or settling).
    await sendPart(deps, toGroupSend(stored), groupKey, stored.batch, planFor(deps, stored));
  } else if (stored && group?.state === "sent") {
    await sendPart(deps, toGroupSend(stored), groupKey, stored.batch); // decided: only queues its first follow-up if that was missed
  }
  await settleMembers(deps, groupId);
  const now = await deps.ledger.get(key);
  if (now?.state === "open") return (await sendRequest(deps, request))[0]!; // left its group: sent on its own now
  if (now?.state === "shared" && (group?.state === "failed" || group?.state === "cancelled")) {
    // A group given up before it stored its members: nobody listed this one; it leaves itself.
    await transition(deps.ledger, key, {
      type: "leave",
      now: deps.clock.now(),
      groupId,
      reason: "Its shared batch was given up before it was posted.",
    });
    return (await sendRequest(deps, request))[0]!;
  }
  if (now?.state === "shared") throw new RetryLaterError(`The shared batch ${groupId} is not decided yet.`);
  // Cancelled after the POST, while it was still `shared` (the DELETE only stamped it): its cancel follow-up runs now.
  if (now?.state === "sent") await queueFirstFollowUp(deps, request, key, now);
  return outcomeOf(key, now!);
}
