/**
 * PassEntry's documented limits, and the margins we keep from them: every rule that depends on one
 * derives from the constant here, so a change at PassEntry is one edit.
 */

const MINUTE_MS = 60_000;

/** PassEntry refuses a `scheduledAt` less than an hour ahead. */
export const PASSENTRY_MIN_NOTICE_MS = 60 * MINUTE_MS;

/**
 * What we add to PassEntry's notice wherever we choose a `scheduledAt` ourselves: the time a message
 * spends in our queue, a trigger that fires a little late, and clocks that disagree a little.
 */
export const NOTICE_MARGIN_MS = 5 * MINUTE_MS;

/**
 * The shortest lead we ask PassEntry for (1 h 5 min): a send-now batch's placeholder `scheduledAt`,
 * the threshold below which a caller's `scheduledAt` is an early send, an automation's earliest
 * schedule, and a promotion's shortest lead time.
 */
export const MIN_LEAD_MS = PASSENTRY_MIN_NOTICE_MS + NOTICE_MARGIN_MS;

/** The same, in whole minutes, for the rules written in minutes (automations, promotions). */
export const MIN_LEAD_MINUTES = MIN_LEAD_MS / MINUTE_MS;

/** PassEntry documents "at most 500 recipients per API call". */
export const MAX_RECIPIENTS_PER_BATCH = 500;

/** PassEntry allows 10 calls a second per endpoint; PASSENTRY_RATE_PER_SECOND may not exceed it. */
export const PASSENTRY_MAX_CALLS_PER_SECOND = 10;
