/**
 * When the sender looks at a batch again, and how it leaves itself the note to do so: a delayed
 * message on its own queue (SQS holds a message back for at most 900 s), with exponential backoff
 * and jitter so that many batches created together do not poll PassEntry together.
 */
import type { Log, MessageQueue } from "./ports.js";
import type { FollowUpMessage } from "./schemas.js";

/** SQS's longest DelaySeconds; longer waits are several hops (`notBefore`). */
export const MAX_QUEUE_DELAY_SECONDS = 900;

/** How created batches are followed up (defaults: functions/config.ts DEFAULTS.followUps). */
export interface FollowUpTimings {
  /** The first re-check, doubled per attempt (2, 4, 8 … s) up to `maxDelaySeconds`. */
  firstDelaySeconds: number;
  /** Never more than MAX_QUEUE_DELAY_SECONDS (SQS's limit). */
  maxDelaySeconds: number;
  /**
   * A batch scheduled further ahead than this is not tracked (its last known status stays, with a
   * note): polling for months would only spend PassEntry's rate budget.
   */
  trackingHorizonMs: number;
  /** Checks of one batch in one phase (waiting for validation, or for sending to finish) before giving up. */
  maxChecks: number;
  /** Attempts of a cancellation waiting for sends in flight. */
  maxCancelAttempts: number;
}

export interface FollowUpSettings extends FollowUpTimings {
  /** Where follow-ups wait: the sender's own queue. */
  queue: MessageQueue;
}

/**
 * Delay before attempt `attempt` (1-based): first · 2^(attempt-1), capped, then jittered by ±25%
 * (and capped again).
 *
 * @example followUpDelaySeconds(3, { firstDelaySeconds: 2, maxDelaySeconds: 900 }, () => 0.5) // 8
 */
export function followUpDelaySeconds(
  attempt: number,
  settings: Pick<FollowUpSettings, "firstDelaySeconds" | "maxDelaySeconds">,
  random: () => number = Math.random,
): number {
  const cap = Math.min(settings.maxDelaySeconds, MAX_QUEUE_DELAY_SECONDS);
  const base = Math.min(cap, settings.firstDelaySeconds * 2 ** Math.max(0, attempt - 1));
  return Math.min(cap, base * (0.75 + random() / 2));
}

/**
 * Puts a follow-up on the queue. Never throws: a follow-up that cannot be queued is logged and
 * reported as false, since the send it follows has already happened and must not be repeated. Without
 * `followUps` it does nothing and answers false.
 */
export async function enqueueFollowUp(
  deps: { followUps?: FollowUpSettings | undefined; log: Log },
  message: FollowUpMessage,
  delaySeconds: number,
): Promise<boolean> {
  const where = {
    requestId: message.requestId,
    chunk: message.chunk,
    batchId: message.batchId,
    followUp: message.followUp,
    attempt: message.attempt,
  };
  // A home built without follow-ups (tests of sending alone) simply does not track.
  if (!deps.followUps) return false;
  try {
    await deps.followUps.queue.send(message, {
      delaySeconds: Math.max(0, Math.min(MAX_QUEUE_DELAY_SECONDS, delaySeconds)),
    });
    deps.log.info("follow-up scheduled", {
      ...where,
      delaySeconds: Math.round(delaySeconds * 10) / 10,
      ...(message.notBefore ? { notBefore: message.notBefore } : {}),
    });
    return true;
  } catch (error) {
    deps.log.error("follow-up could not be queued", { ...where, error: (error as Error).message });
    return false;
  }
}
