/**
 * Protects the one home of PassEntry's limits: every lead time we choose derives from its one-hour
 * notice (so none can fall under it), and each rule that depends on a limit reads it from there.
 */
import { describe, expect, it } from "vitest";
import { DEFAULTS, loadLocalConfig } from "../../functions/config.js";
import { earlySendAt } from "../../functions/core/batch-rules.js";
import { describeIssues } from "../../functions/core/describe-issues.js";
import {
  MAX_RECIPIENTS_PER_BATCH,
  MIN_LEAD_MINUTES,
  MIN_LEAD_MS,
  NOTICE_MARGIN_MS,
  PASSENTRY_MAX_CALLS_PER_SECOND,
  PASSENTRY_MIN_NOTICE_MS,
} from "../../functions/core/passentry-limits.js";
import { checkPromotionsFile, MIN_LEAD_TIME_MINUTES } from "../../functions/core/promotions.js";
import { TriggerRequestBody } from "../../functions/core/schemas.js";

describe("PassEntry's limits", () => {
  it("derive every lead time from the one-hour notice plus a five-minute margin", () => {
    expect(PASSENTRY_MIN_NOTICE_MS).toBe(60 * 60_000);
    expect(MIN_LEAD_MS).toBe(PASSENTRY_MIN_NOTICE_MS + NOTICE_MARGIN_MS);
    expect(MIN_LEAD_MS).toBe(65 * 60_000);
    expect(MIN_LEAD_MINUTES * 60_000).toBe(MIN_LEAD_MS);
    expect(MIN_LEAD_TIME_MINUTES).toBe(MIN_LEAD_MINUTES);
  });

  it("make a scheduledAt under the lead an early send, and one at the lead a plain schedule", () => {
    const postedAt = Date.parse("2030-01-01T00:00:00Z");
    const at = (ms: number) => ({
      message: "Hi",
      segments: [{ groupTag: "vip" }],
      scheduledAt: new Date(postedAt + ms).toISOString(),
    });
    expect(earlySendAt(at(MIN_LEAD_MS - 1_000), postedAt)).toBe(new Date(postedAt + MIN_LEAD_MS - 1_000).toISOString());
    expect(earlySendAt(at(MIN_LEAD_MS), postedAt)).toBeUndefined();
  });

  it("cap a promotion's recipients at one PassEntry call, and the pace at PassEntry's rate", () => {
    const problems = (json: unknown) => (checkPromotionsFile(json) as { problems?: string[] }).problems ?? [];
    const promotion = (count: number) => ({
      promotions: [
        {
          id: "p",
          name: "P",
          enabled: false,
          cron: "0 14 * * 5",
          timeZone: "Europe/London",
          entityId: "e",
          message: "Hi",
          audience: { recipients: Array.from({ length: count }, (_, i) => ({ passId: `pass-${i}` })) },
        },
      ],
    });
    expect(problems(promotion(MAX_RECIPIENTS_PER_BATCH))).toEqual([]);
    expect(problems(promotion(MAX_RECIPIENTS_PER_BATCH + 1)).join()).toContain(
      `audience.recipients must hold at most ${MAX_RECIPIENTS_PER_BATCH} recipients`,
    );
    expect(DEFAULTS.passEntryRatePerSecond).toBeLessThan(PASSENTRY_MAX_CALLS_PER_SECOND);
    expect(() => loadLocalConfig({ PASSENTRY_RATE_PER_SECOND: String(PASSENTRY_MAX_CALLS_PER_SECOND + 1) })).toThrow(
      `at most ${PASSENTRY_MAX_CALLS_PER_SECOND}`,
    );
  });
});

describe("describeIssues", () => {
  it("leads each problem with its field's path unless the message already names it", () => {
    const parsed = TriggerRequestBody.safeParse({ batch: { message: " ", recipients: [{ variables: {} }] } });
    expect(parsed.success).toBe(false);
    expect(describeIssues(parsed.error!)).toEqual([
      "batch.message must not be blank",
      expect.stringMatching(/^batch\.recipients\.0: must name a pass/),
    ]);
  });
});
