/**
 * Seam for recurring promotions (EventBridge Scheduler via `sst.aws.CronV2`), added later.
 *
 * How to fill it: declare the promotions as data that the local scheduler reads too, add a
 * `planner` entry to `functions` in `manifest.ts` (capabilities `["queue", "table"]`, plus
 * `"passEntryToken"` only if it must call PassEntry), and create one CronV2 per promotion here:
 *
 *   new sst.aws.CronV2(`Promotion${id}`, {
 *     schedule: "cron(0 17 ? * FRI *)",
 *     timezone: "Europe/London",
 *     function: lambda(functions.planner),
 *     event: { promotionId: id, scheduledTime: "<aws.scheduler.scheduled-time>" },
 *   });
 *
 * then import this module from `sst.config.ts` (it already is) and its wiring tests pick it up.
 */
export const schedules: readonly unknown[] = [];
