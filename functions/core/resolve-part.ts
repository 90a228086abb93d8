/**
 * Use case: an operator decides a part left `unknown` (a POST's outcome could not be learnt and
 * PassEntry's list could not tell). After checking PassEntry by hand, they say either
 * - `sent` with the batch id they found: it is recorded, and tracked (or cancelled, if the request
 *   was cancelled) like any other; or
 * - `release`: PassEntry does not have it; the request goes back on the queue and the part is sent
 *   (parts already decided send nothing again).
 * Who decided, and when, stays on the part.
 */
import { isOperator } from "./callers.js";
import { ForbiddenError, NotFoundError, ServiceUnavailableError, ValidationError } from "./errors.js";
import type { Clock, Log, MessageQueue, RequestStore, SendLedger } from "./ports.js";
import * as z from "./zod.js";
import { settleMembers } from "./coalesce.js";
import type { CallerId, FollowUpMessage, RequestRecord, SendRecord, SendRequestMessage } from "./schemas.js";
import { transition } from "./send-state-machine.js";
import { refreshSummary } from "./request-summary.js";

export interface ResolveDeps {
  store: RequestStore;
  ledger: SendLedger;
  queue: MessageQueue;
  clock: Clock;
  log: Log;
}

/** Body of `POST /api/v1/requests/{id}/resolve`. */
export const ResolvePartBody = z
  .object({
    chunk: z._default(z.number().check(z.int(), z.gte(0)), 0),
    resolution: z.enum(["sent", "release"], { error: 'resolution must be "sent" (with batchId) or "release"' }),
    batchId: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  })
  .check(
    z.refine((b) => (b.resolution === "sent") === (b.batchId !== undefined), {
      message: 'batchId is required with "sent" (the batch found at PassEntry), and not allowed with "release"',
      path: ["batchId"],
    }),
  );
export type ResolvePartBody = z.infer<typeof ResolvePartBody>;

/**
 * Only an operator decides: it takes someone who can see every request and check PassEntry by hand.
 * The route asks this first, before reading the body, so another key learns nothing from it.
 */
export function requireOperator(caller: CallerId): void {
  if (!isOperator(caller))
    throw new ForbiddenError(
      "Only an operator key may resolve a part: see API_KEYS (operator:<name>:<key>) or the ApiKeys secret.",
    );
}

/**
 * Records an operator's decision on a part left `unknown` (operators only: requireOperator).
 *
 * @example await resolvePart(deps, "req-1", { chunk: 0, resolution: "sent", batchId: "d29455c9-…" }, "operator:ops");
 */
export async function resolvePart(
  deps: ResolveDeps,
  requestId: string,
  body: ResolvePartBody,
  by: CallerId,
): Promise<SendRecord> {
  requireOperator(by);
  const request = await deps.store.get(requestId);
  if (!request) throw new NotFoundError(`No request has the id ${JSON.stringify(requestId.slice(0, 100))}.`);
  const key = { requestId, chunk: body.chunk };
  const as = body.resolution === "sent" ? { sent: body.batchId! } : ("release" as const);
  const result = await transition(deps.ledger, key, { type: "resolve", now: deps.clock.now(), by, as });
  if (!result.moved) {
    const state = result.entry?.state ?? "not started";
    throw new ValidationError(
      `Part ${body.chunk} of request ${requestId} is ${state}, not unknown: there is nothing to resolve.`,
      [],
      409,
    );
  }
  deps.log.warn("unknown part resolved by an operator", {
    ...key,
    by,
    resolution: body.resolution,
    batchId: body.batchId,
  });

  if (request.source === "group") {
    await resolveGroup(deps, request, result.entry, by);
  } else if (result.then === "requeue") {
    const again: SendRequestMessage = {
      requestId,
      entityId: request.entityId,
      batch: request.batch,
      source: request.source,
      acceptedAt: request.createdAt,
    };
    await queueOrRetry(
      deps,
      again,
      "The part was released, but the request could not be queued again; repeat the resolve.",
    );
  } else if (result.then === "sent") {
    // Follow the recorded batch like one the sender created: track it, or cancel it if the request was
    // cancelled. A member of a shared batch is tracked through its group; its only follow-up is its own
    // cancel (which stops the batch only once every member asked).
    const shared = result.entry.groupId !== undefined;
    const cancelled = result.entry.cancelRequestedAt !== undefined;
    if (cancelled || !shared) {
      const followUp: FollowUpMessage = cancelled
        ? { followUp: "cancel", requestId, attempt: 1 }
        : { followUp: "track", ...key, batchId: body.batchId!, attempt: 1 };
      await queueOrRetry(
        deps,
        followUp,
        "The batch was recorded, but its follow-up could not be queued; its status will not update until a cancel or redrive.",
      );
    }
    await transition(deps.ledger, key, { type: "followUpQueued", now: deps.clock.now() });
  }
  await refreshSummary(deps, requestId);
  return result.entry;
}

/**
 * A shared batch's part decides its members. Recorded as sent: each member is sent in it. Released
 * (PassEntry does not have it): the group is given up and each member is released to be sent again.
 */
async function resolveGroup(deps: ResolveDeps, group: RequestRecord, entry: SendRecord, by: CallerId): Promise<void> {
  const groupKey = { requestId: group.requestId, chunk: 0 };
  if (entry.state === "open") {
    await transition(deps.ledger, groupKey, {
      type: "abandon",
      now: deps.clock.now(),
      reason: `Released by ${by}: its requests are sent again.`,
    });
    for (const id of entry.members ?? group.members ?? []) {
      const member = await deps.ledger.get({ requestId: id, chunk: 0 });
      if (member?.state === "unknown") await resolvePart(deps, id, { chunk: 0, resolution: "release" }, by);
    }
    return;
  }
  // Sent (or cancelled): members still waiting on it follow, then the batch is tracked like any other.
  for (const id of entry.members ?? []) {
    const member = await deps.ledger.get({ requestId: id, chunk: 0 });
    if (member?.state !== "unknown") continue;
    await transition(
      deps.ledger,
      { requestId: id, chunk: 0 },
      { type: "resolve", now: deps.clock.now(), by, as: { sent: entry.batchId! } },
    );
  }
  const settled = await settleMembers(deps, group.requestId);
  // Members that asked to be cancelled meanwhile get their cancel follow-up, as the sender gives them.
  for (const [id, member] of settled.entries) {
    if (member.state === "sent" && member.cancelRequestedAt !== undefined && member.followUpQueuedAt === undefined) {
      await queueOrRetry(
        deps,
        { followUp: "cancel", requestId: id, attempt: 1 } satisfies FollowUpMessage,
        "A cancelled member's cancel follow-up could not be queued; repeat the resolve.",
      );
      await transition(deps.ledger, { requestId: id, chunk: 0 }, { type: "followUpQueued", now: deps.clock.now() });
    }
  }
  if (entry.state === "sent") {
    await queueOrRetry(
      deps,
      { followUp: "track", ...groupKey, batchId: entry.batchId!, attempt: 1 } satisfies FollowUpMessage,
      "The batch was recorded, but its follow-up could not be queued; its status will not update until a cancel or redrive.",
    );
  }
}

async function queueOrRetry(deps: ResolveDeps, body: unknown, failure: string): Promise<void> {
  try {
    await deps.queue.send(body);
  } catch (error) {
    throw new ServiceUnavailableError(failure, { cause: error });
  }
}
