/**
 * How long a message handed back to the queue waits before its next attempt, and how many attempts
 * it gets before the dead-letter queue: sized so that a 6-hour PassEntry outage dead-letters nothing
 * (`test/unit/retry-policy.test.ts` proves the sum), while a message that can never succeed still
 * reaches the dead-letter queue within about half a day. Both homes use these numbers: the AWS
 * queue's redrive policy (infra/manifest.ts) and the local queue (MAX_RECEIVES).
 */

/** The first retry waits this long; each one after waits twice as long as the one before … */
export const FIRST_RETRY_SECONDS = 2;
/** … up to this (15 minutes; SQS's visibility can go to 12 hours, but a recovered PassEntry should not wait long). */
export const MAX_RETRY_SECONDS = 900;
/** Receives before a message is dead-lettered (SQS maxReceiveCount). */
export const MAX_RECEIVES = 50;
/** The outage every queued message must survive without being dead-lettered. */
export const SURVIVED_OUTAGE_SECONDS = 6 * 60 * 60;

/**
 * The wait before the next attempt of a message received `receiveCount` times: 2, 4, 8 … s, at most
 * 900 s, jittered by −20 %…+0 % so that messages failed together do not return together.
 *
 * @example retryBackoffSeconds(3, () => 1) // 8
 */
export function retryBackoffSeconds(receiveCount: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** Math.max(0, receiveCount - 1));
  return Math.max(1, Math.round(base * (0.8 + 0.2 * random())));
}

/** The shortest time a message can spend being retried before it is dead-lettered (every wait at its least). */
export function shortestTimeToDeadLetterSeconds(maxReceives = MAX_RECEIVES): number {
  let total = 0;
  for (let receive = 1; receive < maxReceives; receive++) total += retryBackoffSeconds(receive, () => 0);
  return total;
}
