/**
 * Wiring of the promotion triggers, checked without AWS: one EventBridge Scheduler schedule per
 * promotion in the committed promotions.json, each invoking the planner hourly in UTC with the
 * event the planner parses, and a planner that can queue but never reach PassEntry.
 * Runs in `npm test` and in `npm run check:infra`.
 */
import { describe, expect, it } from "vitest";
import { functions, promotionSchedules, promotionTrigger } from "../../infra/manifest.js";
import { TRIGGER_PERIOD_MS } from "../../functions/core/plan-promotions.js";
import { parsePromotionsFile, PlannerEvent } from "../../functions/core/promotions.js";
import { callArguments, readProjectFile, stripComments } from "./support/infra-sources.js";

const committed = parsePromotionsFile(JSON.parse(readProjectFile("promotions.json")));

describe("promotion planner function", () => {
  it("runs the planner handler with the table, the queue and its failure queue, and no secret", () => {
    expect(functions.planner.handler).toBe("functions/handlers/planner.handler");
    expect(Object.keys(functions.planner.access).sort()).toEqual(["messagesQueue", "promotionFailuresQueue", "table"]);
  });

  it("has Lambda retry a failed trigger twice, then hand it to the failure destination", () => {
    expect(promotionTrigger.plannerAsyncRetries).toBe(2);
  });
});

describe("promotion triggers", () => {
  it("fire hourly on the hour in UTC, the period the planner's windows assume", () => {
    // EventBridge Scheduler cron: minutes hours day-of-month month day-of-week year.
    expect(promotionTrigger.schedule).toBe("cron(0 * * * ? *)");
    expect(promotionTrigger.timezone).toBe("UTC");
    expect(TRIGGER_PERIOD_MS).toBe(60 * 60 * 1000);
  });

  it("retry a failed planner run, within EventBridge Scheduler's limit of 185", () => {
    expect(promotionTrigger.retries).toBeGreaterThanOrEqual(1);
    expect(promotionTrigger.retries).toBeLessThanOrEqual(185);
  });

  it("are one schedule per committed promotion, disabled ones created disabled", () => {
    const specs = promotionSchedules(committed);

    expect(specs.map((s) => s.promotionId)).toEqual(committed.map((p) => p.id));
    expect(specs.map((s) => s.enabled)).toEqual(committed.map((p) => p.enabled));
    for (const spec of specs) expect(spec.name).toMatch(/^Promotion[A-Z][A-Za-z0-9]*$/);
    expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
  });

  it("name the schedule after the promotion in PascalCase", () => {
    expect(promotionSchedules([{ id: "friday-happy-hour", enabled: true }])[0]!.name).toBe("PromotionFridayHappyHour");
  });

  it("refuse two promotions whose SST names would collide", () => {
    expect(() =>
      promotionSchedules([
        { id: "sale-2", enabled: true },
        { id: "sale2", enabled: true },
      ]),
    ).toThrow(/"sale-2" and "sale2" would share the SST name PromotionSale2/);
  });

  it("hand the planner an event it accepts once Scheduler fills in the scheduled time", () => {
    for (const spec of promotionSchedules(committed)) {
      const delivered = JSON.parse(
        JSON.stringify(spec.event).replace(promotionTrigger.scheduledTime, "2026-07-03T14:00:00Z"),
      );

      expect(PlannerEvent.parse(delivered)).toEqual({
        promotionId: spec.promotionId,
        scheduledTime: "2026-07-03T14:00:00Z",
      });
    }
  });
});

describe("infra/schedules.ts follows the manifest", () => {
  const code = stripComments(readProjectFile("infra/schedules.ts"));

  it("validates the same promotions.json the planner bundles", () => {
    expect(code).toMatch(/import promotionsDocument from "\.\.\/promotions\.json" with \{ type: "json" \}/);
    expect(code).toContain("promotionSchedules(parsePromotionsFile(promotionsDocument))");
    expect(readProjectFile("functions/handlers/planner.ts")).toMatch(
      /from "\.\.\/\.\.\/promotions\.json" with \{ type: "json" \}/,
    );
  });

  it("creates each CronV2 from a spec, with the planner function and the manifest's trigger", () => {
    const [args, ...others] = callArguments(code, "new sst.aws.CronV2(");

    expect(others).toEqual([]);
    expect(args).toMatch(/^spec\.name,/);
    expect(code).toContain("const planner = lambda(functions.planner, spec.name);");
    for (const expected of [
      "...planner,",
      "retries: promotionTrigger.plannerAsyncRetries",
      "destinationConfig: { onFailure: { destination: promotionFailuresQueue.arn } }",
      "dlq: promotionFailuresQueue.arn",
      "schedule: promotionTrigger.schedule",
      "timezone: promotionTrigger.timezone",
      "enabled: spec.enabled",
      "retries: promotionTrigger.retries",
      "event: spec.event",
    ]) {
      expect(args).toContain(expected);
    }
  });
});
