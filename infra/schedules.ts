import { parsePromotionsFile } from "../functions/core/promotions.js";
import promotionsDocument from "../promotions.json" with { type: "json" };
import { lambda } from "./lambda.js";
import { functions, promotionSchedules, promotionTrigger } from "./manifest.js";

/**
 * Recurring promotions: one EventBridge Scheduler schedule per promotion in promotions.json, the
 * same file the planner Lambda bundles and the local scheduler reads. The file is validated here
 * with the same schema, so a bad promotion stops the deploy with sentences naming it.
 *
 * Each schedule fires the planner hourly in UTC with `{ promotionId, scheduledTime }` (see
 * `promotionTrigger` in the manifest for why UTC). A disabled promotion keeps its schedule,
 * created disabled: the console shows every promotion and its state, and turning one off or on
 * is a one-word change that touches no other. The planner also refuses a promotion the bundled
 * file marks disabled, so enabling a schedule by hand in the console sends nothing.
 *
 * `sst.aws.CronV2` builds its own function from the arguments it is given, so each promotion
 * gets its own small planner Lambda with the same handler and links (queue + table, no token).
 */
export const schedules = promotionSchedules(parsePromotionsFile(promotionsDocument)).map(
  (spec) =>
    new sst.aws.CronV2(spec.name, {
      function: lambda(functions.planner),
      schedule: promotionTrigger.schedule,
      timezone: promotionTrigger.timezone,
      enabled: spec.enabled,
      retries: promotionTrigger.retries,
      event: spec.event,
    }),
);
