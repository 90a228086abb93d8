import { parsePromotionsFile } from "../functions/core/promotions.js";
import promotionsDocument from "../promotions.json" with { type: "json" };
import { lambda } from "./lambda.js";
import { functions, promotionSchedules, promotionTrigger, schedulerTrustPolicy } from "./manifest.js";
import { promotionFailuresQueue } from "./queue.js";

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
 * gets its own small planner Lambda with the same handler and access (table + queue, no token).
 * A trigger that never plans lands on PromotionFailuresQueue (alarmed) from either side:
 * Scheduler's dead-letter queue when it cannot invoke the planner, the planner's on-failure
 * destination when every asynchronous attempt threw.
 */
export const promotions = promotionSchedules(parsePromotionsFile(promotionsDocument));

const account = aws.getCallerIdentityOutput({}).accountId;

export const schedules = promotions.map((spec) => {
  const planner = lambda(functions.planner, spec.name);
  return new sst.aws.CronV2(spec.name, {
    function: {
      ...planner,
      retries: promotionTrigger.plannerAsyncRetries,
      transform: {
        ...planner.transform,
        eventInvokeConfig: { destinationConfig: { onFailure: { destination: promotionFailuresQueue.arn } } },
      },
    },
    schedule: promotionTrigger.schedule,
    timezone: promotionTrigger.timezone,
    enabled: spec.enabled,
    retries: promotionTrigger.retries,
    dlq: promotionFailuresQueue.arn,
    event: spec.event,
    transform: {
      role: (args) => {
        args.assumeRolePolicy = account.apply((accountId) => JSON.stringify(schedulerTrustPolicy(accountId)));
      },
    },
  });
});
