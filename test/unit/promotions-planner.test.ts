/**
 * The promotion planner (use case and Lambda handler) over the real SQLite request store and
 * queue: what each hourly trigger puts on the queue, that a DST week swept hour by hour queues
 * every occurrence exactly once, and that repeated, late, missed and failing triggers neither
 * lose nor double a send.
 */
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { openSqlite, type SqliteDatabase } from "../../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue } from "../../functions/adapters/sqlite-message-queue.js";
import { SqliteRequestStore } from "../../functions/adapters/sqlite-request-store.js";
import { ServiceUnavailableError } from "../../functions/core/errors.js";
import {
  ownedWindow,
  owningTrigger,
  planPromotion,
  promotionRequestId,
  TRIGGER_PERIOD_MS,
  type PlanDeps,
} from "../../functions/core/plan-promotions.js";
import type { MessageQueue } from "../../functions/core/ports.js";
import { Promotion, type PromotionInput } from "../../functions/core/promotions.js";
import { SendRequestMessage } from "../../functions/core/schemas.js";
import { makePlannerHandler } from "../../functions/handlers/planner.js";
import { composePlanner } from "../../functions/composition.js";
import { loadFixture } from "../support/events.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;

function promotion(overrides: Partial<PromotionInput> = {}): Promotion {
  return Promotion.parse({
    id: "friday-happy-hour",
    name: "Friday happy hour",
    enabled: true,
    cron: "0 17 * * 5",
    timeZone: "Europe/London",
    leadTimeMinutes: 120,
    entityId: "my-entity",
    message: "Happy hour starts now!",
    audience: { segments: [{ groupTag: "happy-hour" }] },
    tag: "happy-hour",
    ...overrides,
  });
}

/** A queue that fails while `failing` is true, as SQS does during an outage. */
class OutageQueue implements MessageQueue {
  failing = false;
  constructor(private readonly inner: MessageQueue) {}
  async send(body: unknown, options?: { delaySeconds?: number }) {
    if (this.failing) throw new Error("SQS SendMessage failed: ServiceUnavailable (simulated)");
    return this.inner.send(body, options);
  }
}

let db: SqliteDatabase;
let store: SqliteRequestStore;
let queue: SqliteMessageQueue;
let outageQueue: OutageQueue;
let log: MemoryLog;
let now: number;
let deps: PlanDeps;

beforeEach(() => {
  db = openSqlite(":memory:");
  store = new SqliteRequestStore(db);
  queue = new SqliteMessageQueue(db);
  outageQueue = new OutageQueue(queue);
  log = new MemoryLog();
  now = 0;
  deps = { store, queue: outageQueue, clock: { now: () => now }, log };
});
afterEach(() => db.close());

/** The queued messages, parsed with the sender's own schema. */
const queued = () => queue.peek().map((m) => SendRequestMessage.parse(JSON.parse(m.body)));

/** Fires the trigger scheduled for `at` (ISO), on time unless `lateByMs` is given. */
async function trigger(p: Promotion, at: string, lateByMs = 0) {
  now = Date.parse(at) + lateByMs;
  return planPromotion(deps, p, Date.parse(at));
}

describe("planPromotion", () => {
  it("queues one send request for the occurrence in the trigger's window, at the exact local time in UTC", async () => {
    // Act: 14:00 UTC + 120 min lead owns [16:00, 17:00) UTC; Friday 17:00 BST is 16:00 UTC.
    const result = await trigger(promotion(), "2026-07-03T14:00:00Z");

    // Assess
    expect(result.window).toEqual({ from: "2026-07-03T16:00:00Z", to: "2026-07-03T17:00:00Z" });
    expect(result.occurrences).toEqual([
      {
        requestId: "promo-friday-happy-hour-20260703T160000Z",
        scheduledAt: "2026-07-03T16:00:00Z",
        localTime: "2026-07-03T17:00:00+01:00",
        outcome: "queued",
      },
    ]);
    expect(queued()).toEqual([
      {
        requestId: "promo-friday-happy-hour-20260703T160000Z",
        entityId: "my-entity",
        source: "schedule",
        acceptedAt: "2026-07-03T14:00:00.000Z",
        batch: {
          message: "Happy hour starts now!",
          segments: [{ groupTag: "happy-hour" }],
          scheduledAt: "2026-07-03T16:00:00Z",
          name: "Friday happy hour",
          tag: "happy-hour",
        },
      },
    ]);
    const stored = await store.get("promo-friday-happy-hour-20260703T160000Z");
    expect(stored).toMatchObject({ source: "schedule", entityId: "my-entity", enqueuedAt: "2026-07-03T14:00:00.000Z" });
  });

  it("queues nothing when the window holds no occurrence", async () => {
    // 16:00 UTC owns [18:00, 19:00) and re-checks [17:00, 18:00): the 16:00 occurrence is behind it.
    const result = await trigger(promotion(), "2026-07-03T16:00:00Z");

    expect(result.occurrences).toEqual([]);
    expect(queued()).toEqual([]);
  });

  it("sends recipients, not segments, for a recipient promotion", async () => {
    await trigger(promotion({ audience: { recipients: [{ passId: "p-1" }] } }), "2026-07-03T14:00:00Z");

    expect(queued()[0]!.batch).toMatchObject({ recipients: [{ passId: "p-1" }] });
    expect(queued()[0]!.batch.segments).toBeUndefined();
  });

  it("builds request ids that the queue message schema accepts, for the longest promotion id", () => {
    const id = promotionRequestId("a".repeat(60), Date.parse("2030-12-31T17:00:00Z"));

    expect(id).toBe(`promo-${"a".repeat(60)}-20301231T170000Z`);
    expect(SendRequestMessage.shape.requestId.safeParse(id).success).toBe(true);
  });

  it("queues one message when the same trigger fires twice, and answers the second with already-queued", async () => {
    await trigger(promotion(), "2026-07-03T14:00:00Z");
    const second = await trigger(promotion(), "2026-07-03T14:00:00Z", 30_000);

    expect(second.occurrences.map((o) => o.outcome)).toEqual(["already-queued"]);
    expect(queued()).toHaveLength(1);
  });

  it("skips an occurrence less than an hour ahead with a warning and queues nothing (a trigger 65 minutes late)", async () => {
    const result = await trigger(promotion(), "2026-07-03T14:00:00Z", 65 * MINUTE);

    expect(result.occurrences.map((o) => o.outcome)).toEqual(["skipped-late"]);
    expect(queued()).toEqual([]);
    expect(await store.get("promo-friday-happy-hour-20260703T160000Z")).toBeUndefined();
    expect(log.lines).toContainEqual({
      level: "warn",
      message: "promotion occurrence skipped: less than an hour ahead, PassEntry would refuse it",
      fields: expect.objectContaining({
        promotionId: "friday-happy-hour",
        requestId: "promo-friday-happy-hour-20260703T160000Z",
        minutesAhead: 55,
      }),
    });
  });

  it("still queues an occurrence for a trigger late by less than leadTime minus one hour", async () => {
    const result = await trigger(promotion(), "2026-07-03T14:00:00Z", 59 * MINUTE);

    expect(result.occurrences.map((o) => o.outcome)).toEqual(["queued"]);
    expect(queued()).toHaveLength(1);
  });

  it("does not queue an occurrence listed in skip, and says so", async () => {
    const result = await trigger(promotion({ skip: ["2026-07-03T17:00:00+01:00"] }), "2026-07-03T14:00:00Z");

    expect(result.occurrences.map((o) => o.outcome)).toEqual(["skipped-listed"]);
    expect(queued()).toEqual([]);
    expect(log.lines.map((l) => l.message)).toContain("promotion occurrence skipped: listed in skip");
  });

  it("plans nothing for a disabled promotion", async () => {
    const result = await trigger(promotion({ enabled: false }), "2026-07-03T14:00:00Z");

    expect(result.occurrences).toEqual([]);
    expect(queued()).toEqual([]);
  });

  it("loses nothing when a trigger is missed: the next one queues what the missed one owned while it is an hour ahead", async () => {
    // Prepare: a daily 15:30 UTC promotion; the 13:00 trigger (owning [15:00, 16:00)) never ran.
    const p = promotion({ cron: "30 15 * * *", timeZone: "UTC" });

    // Act
    const result = await trigger(p, "2026-07-03T14:00:00Z");

    // Assess
    expect(result.occurrences).toEqual([
      expect.objectContaining({ scheduledAt: "2026-07-03T15:30:00Z", outcome: "queued" }),
    ]);
    expect(queued().map((m) => m.batch.scheduledAt)).toEqual(["2026-07-03T15:30:00Z"]);
    expect(log.lines.map((l) => l.message)).toContain(
      "promotion occurrence queued late (its own trigger did not queue it)",
    );
  });

  it("throws a retryable error when the queue is down, shows the request as failed, and queues it on the retry", async () => {
    // Act: the trigger fails while SQS is down...
    outageQueue.failing = true;
    const failed = trigger(promotion(), "2026-07-03T14:00:00Z");
    await expect(failed).rejects.toBeInstanceOf(ServiceUnavailableError);
    const during = await store.get("promo-friday-happy-hour-20260703T160000Z");
    // ...and EventBridge Scheduler retries it a minute later.
    outageQueue.failing = false;
    const retried = await trigger(promotion(), "2026-07-03T14:00:00Z", MINUTE);

    // Assess
    expect(during?.failureReason).toMatch(/could not be queued/);
    expect(retried.occurrences.map((o) => o.outcome)).toEqual(["queued"]);
    expect(queued()).toHaveLength(1);
    expect((await store.get("promo-friday-happy-hour-20260703T160000Z"))?.failureReason).toBeUndefined();
  });
});

describe("hourly triggers over a DST week", () => {
  /**
   * Fires every UTC hour from a few hours before `from` (so the first occurrences have their
   * triggers) up to `to`, each on time; returns what was queued.
   */
  async function sweep(p: Promotion, from: string, to: string) {
    for (let t = Date.parse(from) - 4 * HOUR; t < Date.parse(to); t += TRIGGER_PERIOD_MS)
      await trigger(p, new Date(t).toISOString());
    return queued();
  }

  /** Each queued requestId with how many times it was queued. */
  const counts = (messages: SendRequestMessage[]) =>
    messages.reduce<Record<string, number>>((acc, m) => {
      acc[m.requestId!] = (acc[m.requestId!] ?? 0) + 1;
      return acc;
    }, {});

  it.each([
    {
      week: "London spring forward, daily 17:00",
      p: { cron: "0 17 * * *", timeZone: "Europe/London" },
      from: "2026-03-26T00:00:00Z",
      to: "2026-04-02T00:00:00Z",
      expected: ["03-26T17", "03-27T17", "03-28T17", "03-29T16", "03-30T16", "03-31T16", "04-01T16"],
    },
    {
      week: "London spring forward, daily 01:30 (02:00 BST on the change day)",
      p: { cron: "30 1 * * *", timeZone: "Europe/London" },
      from: "2026-03-26T00:00:00Z",
      to: "2026-04-02T00:00:00Z",
      expected: [
        "03-26T01:30",
        "03-27T01:30",
        "03-28T01:30",
        "03-29T01:00",
        "03-30T00:30",
        "03-31T00:30",
        "04-01T00:30",
      ],
    },
    {
      week: "London fall back, daily 17:00",
      p: { cron: "0 17 * * *", timeZone: "Europe/London" },
      from: "2026-10-22T00:00:00Z",
      to: "2026-10-29T00:00:00Z",
      expected: ["10-22T16", "10-23T16", "10-24T16", "10-25T17", "10-26T17", "10-27T17", "10-28T17"],
    },
    {
      week: "London fall back, daily 01:30 (once, at 01:30 BST)",
      p: { cron: "30 1 * * *", timeZone: "Europe/London" },
      from: "2026-10-22T00:00:00Z",
      to: "2026-10-29T00:00:00Z",
      expected: [
        "10-22T00:30",
        "10-23T00:30",
        "10-24T00:30",
        "10-25T00:30",
        "10-26T01:30",
        "10-27T01:30",
        "10-28T01:30",
      ],
    },
    {
      week: "New York spring forward, daily 17:00",
      p: { cron: "0 17 * * *", timeZone: "America/New_York" },
      from: "2026-03-05T00:00:00Z",
      to: "2026-03-12T00:00:00Z",
      expected: ["03-05T22", "03-06T22", "03-07T22", "03-08T21", "03-09T21", "03-10T21", "03-11T21"],
    },
    {
      week: "New York fall back, daily 01:30 (once, at 01:30 EDT)",
      p: { cron: "30 1 * * *", timeZone: "America/New_York" },
      from: "2026-10-29T00:00:00Z",
      to: "2026-11-05T00:00:00Z",
      expected: [
        "10-29T05:30",
        "10-30T05:30",
        "10-31T05:30",
        "11-01T05:30",
        "11-02T06:30",
        "11-03T06:30",
        "11-04T06:30",
      ],
    },
    {
      week: "New York fall back, daily 17:00",
      p: { cron: "0 17 * * *", timeZone: "America/New_York" },
      from: "2026-10-29T00:00:00Z",
      to: "2026-11-05T00:00:00Z",
      expected: ["10-29T21", "10-30T21", "10-31T21", "11-01T22", "11-02T22", "11-03T22", "11-04T22"],
    },
  ])("$week: queues every occurrence exactly once, at its UTC instant", async ({ p, from, to, expected }) => {
    // Act: a trigger every hour of the week; the last ones plan occurrences up to 3 h past `to`.
    const messages = await sweep(promotion({ id: "daily", ...p }), from, to);

    // Assess
    const toIso = (short: string) => `2026-${short}${short.length === 8 ? ":00:00" : ":00"}Z`;
    const wanted = expected.map(toIso);
    const inWeek = messages.map((m) => m.batch.scheduledAt!).filter((at) => at >= from && at < to);
    expect(inWeek.sort()).toEqual(wanted.sort());
    expect(Object.values(counts(messages)).every((n) => n === 1)).toBe(true);
    // Each was queued by the trigger that owns it, none by a later re-check.
    expect(log.lines.filter((l) => l.message.includes("queued late") && String(l.fields.scheduledAt) >= from)).toEqual(
      [],
    );
    expect(messages.every((m) => m.requestId === promotionRequestId("daily", Date.parse(m.batch.scheduledAt!)))).toBe(
      true,
    );
  });

  it("gives every occurrence exactly one owning trigger: owned windows partition time", () => {
    const p = promotion({ leadTimeMinutes: 65 });
    for (let t = Date.parse("2026-10-24T00:00:00Z"); t < Date.parse("2026-10-26T00:00:00Z"); t += 7 * MINUTE) {
      const owner = owningTrigger(p, t);
      const window = ownedWindow(p, owner);
      expect(t >= window.from && t < window.to).toBe(true);
      expect(t < ownedWindow(p, owner + HOUR).from && t >= ownedWindow(p, owner - HOUR).to).toBe(true);
      expect(ownedWindow(p, owner - HOUR).to).toBe(window.from);
    }
  });
});

describe("planner handler", () => {
  function handlerWith(promotions: Promotion[]) {
    const plannerDeps = composePlanner({ ...deps, promotions });
    return makePlannerHandler(() => plannerDeps);
  }

  it("plans the promotion named by an EventBridge Scheduler event", async () => {
    // Prepare
    const event = loadFixture("scheduler-promotion-trigger.json");
    now = Date.parse("2026-07-03T14:00:10Z");

    // Act
    const answer = await handlerWith([promotion()])(event);

    // Assess
    expect(answer).toMatchObject({
      status: "planned",
      promotionId: "friday-happy-hour",
      occurrences: [{ outcome: "queued" }],
    });
    expect(queued().map((m) => m.requestId)).toEqual(["promo-friday-happy-hour-20260703T160000Z"]);
  });

  it.each([
    ["a missing scheduledTime", { promotionId: "friday-happy-hour" }, /scheduledTime/],
    [
      "the untemplated placeholder",
      { promotionId: "friday-happy-hour", scheduledTime: "<aws.scheduler.scheduled-time>" },
      /scheduledTime/,
    ],
    [
      "an unknown promotion",
      { promotionId: "summer-sale", scheduledTime: "2026-07-03T14:00:00Z" },
      /No promotion has the id "summer-sale"/,
    ],
    ["not an object", "friday-happy-hour", /expected object/],
  ])("refuses %s with a logged error and queues nothing", async (_, event, problem) => {
    const answer = await handlerWith([promotion()])(event);

    expect(answer.status).toBe("rejected");
    expect(answer.status === "rejected" && answer.problems.join(" ")).toMatch(problem);
    expect(queued()).toEqual([]);
    expect(log.lines.some((l) => l.level === "error")).toBe(true);
  });

  it("loads the committed promotions.json the Lambda bundles", async () => {
    const { parsePromotionsFile } = await import("../../functions/core/promotions.js");
    const committed = parsePromotionsFile(
      JSON.parse(readFileSync(new URL("../../promotions.json", import.meta.url), "utf8")),
    );

    expect(committed.map((p) => p.id)).toContain("friday-happy-hour");
  });
});
