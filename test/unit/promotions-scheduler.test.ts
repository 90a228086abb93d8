/**
 * The embedded home's promotion scheduler, on a clock the test moves: it fires each enabled
 * promotion's trigger once per UTC hour, with the event EventBridge Scheduler would send, retries
 * a failed trigger at its next check, and leaves no timer behind when stopped.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { Promotion, type PlannerEvent, type PromotionInput } from "../../functions/core/promotions.js";
import { PromotionScheduler } from "../../local/promotion-scheduler.js";

const MINUTE = 60_000;

function promotion(overrides: Partial<PromotionInput> = {}): Promotion {
  return Promotion.parse({
    id: "friday-happy-hour",
    name: "Friday happy hour",
    enabled: true,
    cron: "0 17 * * 5",
    timeZone: "Europe/London",
    entityId: "my-entity",
    message: "Happy hour starts now!",
    audience: { segments: [{ groupTag: "happy-hour" }] },
    ...overrides,
  });
}

const schedulers: PromotionScheduler[] = [];
afterEach(async () => {
  for (const s of schedulers.splice(0)) await s.stop();
});

function build(promotions: Promotion[], startAt: string, trigger?: (event: PlannerEvent) => Promise<unknown>) {
  let now = Date.parse(startAt);
  const events: PlannerEvent[] = [];
  const log = new MemoryLog();
  const scheduler = new PromotionScheduler({
    promotions,
    log,
    clock: { now: () => now },
    trigger: trigger ?? (async (event) => void events.push(event)),
  });
  schedulers.push(scheduler);
  return {
    scheduler,
    events,
    log,
    advance: (ms: number) => (now += ms),
    set: (iso: string) => (now = Date.parse(iso)),
  };
}

describe("PromotionScheduler", () => {
  it("fires each enabled promotion once for the current UTC hour, with the EventBridge Scheduler event", async () => {
    const { scheduler, events } = build(
      [promotion(), promotion({ id: "brunch", enabled: false })],
      "2026-07-03T14:37:12Z",
    );

    await scheduler.check();
    await scheduler.check();

    expect(events).toEqual([{ promotionId: "friday-happy-hour", scheduledTime: "2026-07-03T14:00:00Z" }]);
  });

  it("fires again only when the next hour begins, whatever the time of the check", async () => {
    const { scheduler, events, advance } = build([promotion()], "2026-07-03T14:00:00Z");

    await scheduler.check();
    advance(59 * MINUTE + 59_000);
    await scheduler.check();
    advance(1_000);
    await scheduler.check();

    expect(events.map((e) => e.scheduledTime)).toEqual(["2026-07-03T14:00:00Z", "2026-07-03T15:00:00Z"]);
  });

  it("fires the current hour after a sleep of several hours, not every hour it missed", async () => {
    const { scheduler, events, set } = build([promotion()], "2026-07-03T10:05:00Z");

    await scheduler.check();
    set("2026-07-03T14:20:00Z");
    await scheduler.check();

    expect(events.map((e) => e.scheduledTime)).toEqual(["2026-07-03T10:00:00Z", "2026-07-03T14:00:00Z"]);
  });

  it("retries a failed trigger at the next check in the same hour, and logs the failure", async () => {
    let failures = 1;
    const events: PlannerEvent[] = [];
    const { scheduler, log, advance } = build([promotion()], "2026-07-03T14:00:00Z", async (event) => {
      if (failures-- > 0) throw new Error("queue unavailable");
      events.push(event);
    });

    await scheduler.check();
    advance(MINUTE);
    await scheduler.check();
    await scheduler.check();

    expect(events).toEqual([{ promotionId: "friday-happy-hour", scheduledTime: "2026-07-03T14:00:00Z" }]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: "error", message: "promotion trigger failed; retrying at the next check" }),
    );
  });

  it("fires at once when started and leaves no timer once stopped", async () => {
    const { scheduler, events } = build([promotion()], "2026-07-03T14:10:00Z");
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

    scheduler.start();
    await vi.waitFor(() => expect(events).toHaveLength(1));
    await scheduler.stop();

    expect(events).toEqual([{ promotionId: "friday-happy-hour", scheduledTime: "2026-07-03T14:00:00Z" }]);
    expect(process.getActiveResourcesInfo().filter((r) => r === "Timeout").length).toBeLessThanOrEqual(timersBefore);
  });
});
