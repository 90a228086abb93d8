/**
 * Hourly promotion trigger → send requests on the queue. EventBridge Scheduler (one `CronV2` per
 * promotion, infra/schedules.ts) and the local scheduler both invoke it with
 * `{ promotionId, scheduledTime }`; the planner turns the occurrences that trigger owns into
 * queued send requests (functions/core/plan-promotions.ts).
 *
 * An event that can never succeed (malformed, or naming no known promotion) is logged and
 * answered, not thrown: a retry would fail the same way. A queue failure is thrown, so that the
 * scheduler retries; the request ids make a retry harmless.
 */
import { describeIssues } from "../core/describe-issues.js";
import { planPromotion, type PlanResult } from "../core/plan-promotions.js";
import { parsePromotionsFile, PlannerEvent } from "../core/promotions.js";
import type { PlannerDeps } from "../handler-deps.js";
import { awsPlannerDeps } from "../wiring/planner.js";
// Bundled into this Lambda by esbuild: changing a promotion is a deploy, reviewed like code.
import promotionsDocument from "../../promotions.json" with { type: "json" };
import { withLambdaContext } from "../wiring/aws-base.js";

export type PlannerAnswer = ({ status: "planned" } & PlanResult) | { status: "rejected"; problems: string[] };

export function makePlannerHandler(getDeps: () => PlannerDeps) {
  return async (event: unknown): Promise<PlannerAnswer> => {
    const deps = getDeps();
    const parsed = PlannerEvent.safeParse(event);
    if (!parsed.success) {
      const problems = describeIssues(parsed.error);
      deps.log.error("planner event rejected: not a promotion trigger", { problems });
      return { status: "rejected", problems };
    }
    const { promotionId, scheduledTime } = parsed.data;
    const promotion = deps.promotions.find((p) => p.id === promotionId);
    if (!promotion) {
      const problems = [
        `No promotion has the id ${JSON.stringify(promotionId.slice(0, 100))} in this deploy's promotions.json.`,
      ];
      deps.log.error("planner event rejected: unknown promotion", { promotionId: promotionId.slice(0, 100) });
      return { status: "rejected", problems };
    }
    return { status: "planned", ...(await planPromotion(deps.plan, promotion, Date.parse(scheduledTime))) };
  };
}

export const handler = withLambdaContext(
  makePlannerHandler(awsPlannerDeps(() => parsePromotionsFile(promotionsDocument))),
);
