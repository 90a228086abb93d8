/**
 * Use case: plan a promotion's next occurrences as send requests, from an hourly trigger.
 *
 * Each promotion has one trigger that fires every hour, on the hour, in UTC. A trigger scheduled
 * for T owns the occurrences in [T + leadTime, T + leadTime + 1 h): consecutive triggers own
 * consecutive hours, so the owned windows partition time and every occurrence has exactly one
 * owner, whatever DST does in the promotion's zone (occurrences are computed there, by croner).
 * The trigger runs in UTC rather than in the promotion's zone because EventBridge Scheduler, in a
 * zone with DST, fires the repeated fall-back hour only once: an hourly trigger in Europe/London
 * would leave one UTC hour a year without a trigger, and whatever fell in its window unplanned.
 *
 * Every occurrence becomes one request whose id carries the occurrence instant
 * (`promo-<promotionId>-20301231T170000Z`). A trigger that fires twice, late or after a retry
 * meets the same id: the stored request answers "already queued", and even two triggers racing
 * past that check only queue the same business key twice, which the send ledger sends once.
 *
 * A trigger also re-checks the occurrences between one hour and leadTime ahead, owned by earlier
 * triggers: one that failed, was missed, or a lead time raised by a deploy loses nothing that
 * PassEntry can still take. An occurrence less than an hour ahead is skipped with a warning:
 * PassEntry refuses a `scheduledAt` that close.
 */
import { callerId } from "./callers.js";
import { toQueueMessage } from "./accept-request.js";
import { ServiceUnavailableError } from "./errors.js";
import type { Clock, Log, MessageQueue, RequestStore } from "./ports.js";
import { PASSENTRY_MIN_NOTICE_MS } from "./passentry-limits.js";
import { batchFor, compactUtc, localIso, occurrencesBetween, utcIso, type Promotion } from "./promotions.js";
import type { RequestRecord } from "./schemas.js";

export interface PlanDeps {
  store: RequestStore;
  queue: MessageQueue;
  clock: Clock;
  log: Log;
}

const MINUTE_MS = 60_000;
/** How often each promotion's trigger fires; the infra schedule and the local scheduler both use it. */
export const TRIGGER_PERIOD_MS = 60 * MINUTE_MS;
const MIN_NOTICE_MS = PASSENTRY_MIN_NOTICE_MS;

/**
 * The request id of one occurrence: the business key that makes planning idempotent.
 *
 * @example
 *   promotionRequestId("friday-happy-hour", Date.parse("2030-12-31T17:00:00Z")) // "promo-friday-happy-hour-20301231T170000Z"
 */
export function promotionRequestId(promotionId: string, occurrenceMs: number): string {
  return `promo-${promotionId}-${compactUtc(occurrenceMs)}`;
}

/** The start of the UTC hour holding `ms`: what an hourly trigger's scheduled time is (and is rounded to). */
export function triggerHour(ms: number): number {
  return Math.floor(ms / TRIGGER_PERIOD_MS) * TRIGGER_PERIOD_MS;
}

/** The occurrences a trigger scheduled at `triggerTime` owns: [T + leadTime, T + leadTime + 1 h). */
export function ownedWindow(
  promotion: Pick<Promotion, "leadTimeMinutes">,
  triggerTime: number,
): { from: number; to: number } {
  const from = triggerHour(triggerTime) + promotion.leadTimeMinutes * MINUTE_MS;
  return { from, to: from + TRIGGER_PERIOD_MS };
}

/** The trigger that owns an occurrence, i.e. when its send request is planned. */
export function owningTrigger(promotion: Pick<Promotion, "leadTimeMinutes">, occurrenceMs: number): number {
  return triggerHour(occurrenceMs - promotion.leadTimeMinutes * MINUTE_MS);
}

export type OccurrenceOutcome =
  /** A send request was stored and queued now. */
  | "queued"
  /** An earlier trigger (or this one, firing twice) already queued it. */
  | "already-queued"
  /** Listed in the promotion's `skip`. */
  | "skipped-listed"
  /** Less than an hour ahead: PassEntry would refuse it. */
  | "skipped-late";

export interface PlannedOccurrence {
  requestId: string;
  /** The occurrence, UTC. */
  scheduledAt: string;
  /** The occurrence in the promotion's zone, e.g. 2026-07-03T17:00:00+01:00. */
  localTime: string;
  outcome: OccurrenceOutcome;
}

export interface PlanResult {
  promotionId: string;
  /** The owned window, UTC. */
  window: { from: string; to: string };
  occurrences: PlannedOccurrence[];
}

/**
 * Plans the occurrences a trigger is responsible for (see the module comment).
 *
 * @example
 *   await planPromotion(deps, fridayHappyHour, Date.parse("2030-12-27T15:00:00Z"))
 *   // Friday 17:00 London with a 120-minute lead: queues promo-friday-happy-hour-20301227T170000Z,
 *   // scheduledAt 2030-12-27T17:00:00Z
 */
export async function planPromotion(deps: PlanDeps, promotion: Promotion, triggerTime: number): Promise<PlanResult> {
  const owned = ownedWindow(promotion, triggerTime);
  const result: PlanResult = {
    promotionId: promotion.id,
    window: { from: utcIso(owned.from), to: utcIso(owned.to) },
    occurrences: [],
  };
  if (!promotion.enabled) {
    deps.log.info("promotion disabled; nothing planned", {
      promotionId: promotion.id,
      triggerTime: utcIso(triggerTime),
    });
    return result;
  }

  const failures: string[] = [];
  const recheckFrom = triggerHour(triggerTime) + MIN_NOTICE_MS;
  for (const occurrence of occurrencesBetween(promotion, Math.min(recheckFrom, owned.from), owned.to)) {
    const isOwned = occurrence.at >= owned.from;
    const planned: PlannedOccurrence = {
      requestId: promotionRequestId(promotion.id, occurrence.at),
      scheduledAt: utcIso(occurrence.at),
      localTime: localIso(occurrence.at, promotion.timeZone),
      outcome: "queued",
    };
    const fields = {
      promotionId: promotion.id,
      requestId: planned.requestId,
      scheduledAt: planned.scheduledAt,
      localTime: planned.localTime,
    };
    try {
      planned.outcome = await planOccurrence(deps, promotion, occurrence.at, occurrence.skipped, planned.requestId);
    } catch (error) {
      deps.log.error("promotion occurrence not queued", { ...fields, error: (error as Error).message });
      failures.push(planned.requestId);
      continue;
    }
    // A re-checked occurrence that its owner already queued is the normal case: say nothing.
    if (planned.outcome === "already-queued" && !isOwned) continue;
    if (planned.outcome === "skipped-listed" && !isOwned) continue;
    result.occurrences.push(planned);
    if (planned.outcome === "queued")
      deps.log.info(
        isOwned ? "promotion occurrence queued" : "promotion occurrence queued late (its own trigger did not queue it)",
        fields,
      );
    else if (planned.outcome === "already-queued")
      deps.log.info("promotion occurrence already queued; nothing to do", fields);
    else if (planned.outcome === "skipped-listed")
      deps.log.info("promotion occurrence skipped: listed in skip", fields);
    else {
      deps.log.warn("promotion occurrence skipped: less than an hour ahead, PassEntry would refuse it", {
        ...fields,
        minutesAhead: Math.round((occurrence.at - deps.clock.now()) / MINUTE_MS),
      });
    }
  }
  deps.log.info("promotion trigger ran", {
    promotionId: promotion.id,
    triggerTime: utcIso(triggerTime),
    window: result.window,
    queued: result.occurrences.filter((o) => o.outcome === "queued").length,
    failed: failures.length,
  });
  if (failures.length > 0) {
    // Thrown so that the trigger is retried (EventBridge Scheduler retries; the ids make it safe).
    throw new ServiceUnavailableError(
      `${failures.length} occurrence(s) of promotion "${promotion.id}" could not be queued: ${failures.join(", ")}.`,
    );
  }
  return result;
}

async function planOccurrence(
  deps: PlanDeps,
  promotion: Promotion,
  at: number,
  listedInSkip: boolean,
  requestId: string,
): Promise<OccurrenceOutcome> {
  if (listedInSkip) return "skipped-listed";
  const existing = await deps.store.get(requestId);
  if (existing?.enqueuedAt !== undefined) return "already-queued";
  const now = deps.clock.now();
  if (at - now < MIN_NOTICE_MS) return "skipped-late";

  const record = await deps.store.ensure({
    requestId,
    entityId: promotion.entityId,
    source: "schedule",
    // Its own caller: only operators may read or cancel a promotion's request, whose id is predictable.
    caller: callerId("schedule", promotion.id),
    createdAt: new Date(now).toISOString(),
    batch: batchFor(promotion, at),
  });
  // Another trigger may have stored and queued it between our read and our write.
  if (record.enqueuedAt !== undefined) return "already-queued";
  await enqueue(deps, record);
  return "queued";
}

async function enqueue(deps: PlanDeps, record: RequestRecord): Promise<void> {
  try {
    await deps.queue.send(toQueueMessage(record));
  } catch (error) {
    // Visible in GET /api/v1/requests/{id} until a retried trigger queues it (markEnqueued clears it).
    await deps.store
      .markFailed(
        record.requestId,
        "The scheduled request could not be queued; later triggers retry while it is at least an hour ahead.",
      )
      .catch(() => undefined);
    throw error;
  }
  await deps.store.markEnqueued(record.requestId, new Date(deps.clock.now()).toISOString());
}
