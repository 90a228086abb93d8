/**
 * Recurring promotions through the embedded home: the planner handler (as the scheduler or
 * EventBridge Scheduler invokes it) queues each occurrence, the sender delivers it, and the
 * PassEntry sandbox receives exactly one batch per occurrence, whatever the trigger does twice.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { Promotion } from "../../functions/core/promotions.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../local/stack.js";
import { runningClockFrom } from "../support/harness.js";
import { markedName } from "../support/events.js";

const API_KEY = "e2e-key-0123456789";
/** A Friday, two hours before happy hour in London (17:00 BST = 16:00 UTC). */
const FRIDAY_14_UTC = "2026-07-03T14:00:00Z";
const OCCURRENCE_ID = "promo-friday-happy-hour-20260703T160000Z";

const happyHour = Promotion.parse({
  id: "friday-happy-hour",
  name: "Friday happy hour",
  enabled: true,
  cron: "0 17 * * 5",
  timeZone: "Europe/London",
  leadTimeMinutes: 120,
  entityId: "ent-42",
  message: "Happy hour starts now!",
  audience: { segments: [{ groupTag: "happy-hour" }] },
  tag: "happy-hour",
});

describe("promotions in the local stack", () => {
  let sandbox: Sandbox;
  let dataDir: string;
  let log: MemoryLog;
  const stacks: LocalStack[] = [];

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), "wm-e2e-promotions-"));
    log = new MemoryLog();
  });
  afterEach(async () => {
    for (const stack of stacks.splice(0)) await stack.stop().catch(() => undefined);
    await sandbox?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Sandbox and stack on one clock that starts at `startsAt` and runs in real time. */
  async function start(startsAt: string, overrides: Partial<LocalStackOptions> = {}) {
    const clock = runningClockFrom(Date.parse(startsAt));
    sandbox = await startSandbox({ tokens: ["e2e-token"], now: clock.now });
    const stack = await startLocalStack({
      DATA_DIR: dataDir,
      PASSENTRY_BASE_URL: sandbox.url,
      PASSENTRY_TOKEN: "e2e-token",
      // An operator key: a promotion's requests belong to the promotion, and only operators read them.
      API_KEYS: `operator:e2e:${API_KEY}`,
      log,
      idlePollMs: 20,
      clock,
      promotions: [happyHour],
      ...overrides,
    });
    stacks.push(stack);
    return stack;
  }

  /**
   * Waits until no send request is left on the queue and the occurrence's send is decided. Batch
   * tracking follow-ups may stay queued for a while; they never post a new batch.
   */
  async function sendsSettled(stack: LocalStack) {
    await vi.waitFor(
      async () => {
        const sendRequests = stack.queue.peek().filter((m) => !("followUp" in JSON.parse(m.body)));
        expect(sendRequests).toEqual([]);
        const sends = await stack.ledger.list(OCCURRENCE_ID);
        expect(sends.length).toBeGreaterThan(0);
        expect(sends.every((s) => s.state === "sent")).toBe(true);
      },
      { timeout: 15_000, interval: 25 },
    );
  }

  const status = async (stack: LocalStack, requestId: string) => {
    const answer = await fetch(`${stack.url}/api/v1/requests/${requestId}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    return { status: answer.status, body: (await answer.json()) as any };
  };

  it("delivers one batch when the same hourly trigger fires twice, visible at GET /api/v1/requests/{id}", async () => {
    // Prepare
    const stack = await start(FRIDAY_14_UTC);
    const event = { promotionId: "friday-happy-hour", scheduledTime: FRIDAY_14_UTC };

    // Act
    const first = await stack.planner(event);
    const second = await stack.planner(event);
    await sendsSettled(stack);

    // Assess
    expect(first).toMatchObject({ status: "planned", occurrences: [{ requestId: OCCURRENCE_ID, outcome: "queued" }] });
    expect(second).toMatchObject({
      status: "planned",
      occurrences: [{ requestId: OCCURRENCE_ID, outcome: "already-queued" }],
    });
    const batches = sandbox.batches();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({
      entityId: "ent-42",
      message: "Happy hour starts now!",
      scheduledAt: "2026-07-03T16:00:00Z",
      tag: "happy-hour",
    });
    expect(batches[0]!.body.batch.segments).toEqual([{ groupTag: "happy-hour" }]);
    expect(batches[0]!.name).toEqual(markedName(OCCURRENCE_ID, 0, "Friday happy hour"));
    const view = await status(stack, OCCURRENCE_ID);
    expect(view.status).toBe(200);
    expect(view.body.data.attributes).toMatchObject({
      status: "submitted",
      source: "schedule",
      scheduledAt: "2026-07-03T16:00:00Z",
      batchId: batches[0]!.id,
    });
  });

  it("delivers one batch when two invocations of the same trigger race (the send ledger decides)", async () => {
    // Prepare: two workers; a short lease so that a worker finding the other's claim busy looks
    // again within seconds instead of the default minute.
    const stack = await start(FRIDAY_14_UTC, { SENDER_WORKERS: 2, SEND_LEASE_MS: 2_000 });
    const event = { promotionId: "friday-happy-hour", scheduledTime: FRIDAY_14_UTC };

    // Act
    await Promise.all([stack.planner(event), stack.planner(event), stack.planner(event)]);
    await sendsSettled(stack);

    // Assess

    expect(sandbox.batches()).toHaveLength(1);
    expect(await stack.ledger.list(OCCURRENCE_ID)).toHaveLength(1);
  });

  it("skips an occurrence for a trigger so late that it is less than an hour ahead: a warning, nothing queued, nothing sent", async () => {
    // Prepare: the 14:00 trigger runs at 15:05, 55 minutes before happy hour.
    const stack = await start("2026-07-03T15:05:00Z");

    // Act
    const answer = await stack.planner({ promotionId: "friday-happy-hour", scheduledTime: FRIDAY_14_UTC });

    // Assess
    expect(answer).toMatchObject({
      status: "planned",
      occurrences: [{ requestId: OCCURRENCE_ID, outcome: "skipped-late" }],
    });
    expect(stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
    expect((await status(stack, OCCURRENCE_ID)).status).toBe(404);
    expect(sandbox.batches()).toHaveLength(0);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: "warn",
        message: "promotion occurrence skipped: less than an hour ahead, PassEntry would refuse it",
      }),
    );
  });

  it("refuses a malformed trigger event without queueing anything", async () => {
    const stack = await start(FRIDAY_14_UTC);

    const answer = await stack.planner({ promotionId: "friday-happy-hour", scheduledTime: "tomorrow" });

    expect(answer.status).toBe("rejected");
    expect(stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  });

  it("fires the current hour's trigger when the scheduler starts, and delivers the occurrence it owns", async () => {
    // Prepare + Act: npm start at 14:20 on the Friday, scheduler on.
    await start("2026-07-03T14:20:00Z", { startScheduler: true });

    // Assess
    await vi.waitFor(() => expect(sandbox.batches()).toHaveLength(1), { timeout: 10_000, interval: 50 });
    expect(sandbox.batches()[0]).toMatchObject({ scheduledAt: "2026-07-03T16:00:00Z" });
  });
});
