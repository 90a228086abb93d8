/**
 * The sender's follow-ups against the sandbox: send-now (create an hour ahead, poll until validated,
 * send now), status tracking to a terminal status (with waits for far schedules), and the outcome
 * events. Short sandbox timings and backoffs keep each test to about a second; assertions are on what
 * the sandbox received, what the queue holds, and what GET /api/v1/requests/{id} answers.
 */
import { afterEach, describe, expect, it } from "vitest";
import { MIN_LEAD_MS } from "../../functions/core/passentry-limits.js";
import type { EventPublisher } from "../../functions/core/ports.js";
import { COMPLETE_WITH_ERRORS_MARKER, FAIL_VALIDATION_MARKER } from "../../local/passentry-sandbox/sandbox.js";
import { exampleBody, requestStatusEvent, sqsEvent, sqsRecord, triggerEvent } from "../support/events.js";
import { CANARY_TOKEN, startHarness, type Harness, type HarnessOptions } from "../support/harness.js";

const CREATE = "POST /api/v1/entities/:id/messaging/wallet";
const SHOW = "GET /api/v1/batches/:id";
const SEND_NOW = "POST /api/v1/batches/:id/send-now";

/** PassEntry validates quickly and keeps batches scheduled until told: send-now decides. */
const SANDBOX = { validatingMs: 50, scheduledMs: Infinity, sendingMs: 50 };
const FOLLOW_UPS = { firstDelaySeconds: 0.03, maxDelaySeconds: 0.2 };

let h: Harness;
afterEach(async () => {
  expect(h.log.text()).not.toContain(CANARY_TOKEN);
  expect(h.everythingStored()).not.toContain(CANARY_TOKEN);
  await h.close();
});

async function start(options: HarnessOptions = {}) {
  h = await startHarness({ sandbox: SANDBOX, followUps: FOLLOW_UPS, events: true, ...options });
  return h;
}

function body(changes: Record<string, unknown>): { batch: Record<string, unknown> } {
  const b = exampleBody();
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete b.batch[key];
    else b.batch[key] = value;
  }
  return b;
}

async function accept(requestBody: unknown): Promise<string> {
  const answer = await h.accept(triggerEvent({ body: requestBody }));
  expect(answer.statusCode).toBe(202);
  return answer.body.data.id;
}

const view = async (requestId: string) => (await h.requestStatus(requestStatusEvent(requestId))).body.data.attributes;
const routes = () => h.sandbox.requests().map((r) => r.routeKey);
const eventTypes = () => h.published.map((e) => e.detailType);

describe("send now", () => {
  it("creates a batch without scheduledAt an hour and five minutes ahead, sends it as soon as PassEntry validated it, and tracks it to successful", async () => {
    await start();
    const requestId = await accept(body({ scheduledAt: undefined }));

    await h.deliverUntilEmpty();

    const [batch] = h.sandbox.batches();
    expect(Date.parse(batch!.body.batch.scheduledAt) - Date.parse(batch!.createdAt)).toBeGreaterThanOrEqual(
      MIN_LEAD_MS - 2_000,
    );
    expect(Date.parse(batch!.body.batch.scheduledAt) - Date.parse(batch!.createdAt)).toBeLessThanOrEqual(
      MIN_LEAD_MS + 2_000,
    );
    expect(batch).toMatchObject({ status: "successful", sentNowAt: expect.any(String) });
    const sequence = routes();
    expect(sequence[0]).toBe(CREATE);
    expect(sequence.filter((r) => r === SEND_NOW)).toHaveLength(1);
    expect(sequence.slice(sequence.indexOf(SEND_NOW) + 1)).toContain(SHOW);
    expect(await view(requestId)).toMatchObject({
      status: "submitted",
      sendNow: true,
      batches: [
        {
          chunk: 0,
          state: "sent",
          batchId: batch!.id,
          status: "successful",
          totalCount: 100,
          deliveryCsvUrl: expect.stringContaining("/delivery.csv"),
          sendNowAt: expect.any(String),
        },
      ],
    });
    expect(h.published.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        type: "WalletMessageBatchCreated",
        requestId,
        chunk: 0,
        batchId: batch!.id,
        status: "validating",
        sendNow: true,
      }),
      expect.objectContaining({
        type: "WalletMessageBatchCompleted",
        requestId,
        chunk: 0,
        batchId: batch!.id,
        status: "successful",
        totalCount: 100,
      }),
    ]);
    expect(h.queuedBodies()).toEqual([]);
  });

  it("honours sendNow: true, and never passes our own field to PassEntry", async () => {
    await start();
    await accept(body({ scheduledAt: undefined, sendNow: true }));

    await h.deliverUntilEmpty();

    const [batch] = h.sandbox.batches();
    expect(batch!.body.batch).not.toHaveProperty("sendNow");
    expect(batch!.sentNowAt).not.toBeNull();
  });

  it("keeps polling while PassEntry is still validating, and calls send-now only once it is scheduled", async () => {
    await start({ sandbox: { ...SANDBOX, validatingMs: 400 } });
    await accept(body({ scheduledAt: undefined }));

    await h.deliverUntilEmpty();

    const sequence = routes();
    const readsBeforeSendNow = sequence.slice(0, sequence.indexOf(SEND_NOW)).filter((r) => r === SHOW);
    expect(readsBeforeSendNow.length).toBeGreaterThanOrEqual(2);
    expect(sequence.filter((r) => r === SEND_NOW)).toHaveLength(1);
    expect(h.sandbox.requests().find((r) => r.routeKey === SEND_NOW)?.status).toBe(200);
  });

  it("records a failed validation with PassEntry's errors CSV, announces it, and never calls send-now", async () => {
    await start();
    const requestId = await accept(body({ scheduledAt: undefined, message: `Hello ${FAIL_VALIDATION_MARKER}` }));

    await h.deliverUntilEmpty();

    expect(routes()).not.toContain(SEND_NOW);
    const [batch] = h.sandbox.batches();
    expect(batch!.status).toBe("failed");
    expect(await view(requestId)).toMatchObject({
      status: "failed",
      failureReason: expect.stringMatching(/validation of batch .* failed; see its errorsCsvUrl/),
      progress: { chunks: 1, failed: 1, sent: 0 },
      batches: [{ state: "sent", status: "failed", errorsCsvUrl: expect.stringContaining("/errors.csv") }],
    });
    expect(h.published.at(-1)?.detail).toMatchObject({
      type: "WalletMessageBatchFailed",
      requestId,
      batchId: batch!.id,
      status: "failed",
      errorsCsvUrl: expect.stringContaining("/errors.csv"),
    });
  });

  it("looks again after PassEntry fails a status read, and still sends now exactly once", async () => {
    await start();
    await accept(body({ scheduledAt: undefined }));
    h.sandbox.injectNext(SHOW, [{ kind: "status", status: 500 }]);

    await h.deliverUntilEmpty();

    expect(
      h.sandbox
        .requests()
        .filter((r) => r.routeKey === SHOW)
        .map((r) => r.status)[0],
    ).toBe(500);
    expect(routes().filter((r) => r === SEND_NOW)).toHaveLength(1);
    expect(h.sandbox.batches()[0]!.status).toBe("successful");
  });

  it("sends now once when the same send-now follow-up is delivered again", async () => {
    await start();
    const requestId = await accept(body({ scheduledAt: undefined }));
    const deliveries = await h.deliverUntilEmpty();
    const sendNowRecord = deliveries
      .flatMap((d) => d.event.Records)
      .find((r) => JSON.parse(r.body).followUp === "send-now" && routes().includes(SEND_NOW))!;

    const response = await h.send(sqsEvent([sqsRecord(JSON.parse(sendNowRecord.body))]));
    await h.deliverUntilEmpty();

    expect(response.batchItemFailures).toEqual([]);
    expect(routes().filter((r) => r === SEND_NOW)).toHaveLength(1);
    expect(await view(requestId)).toMatchObject({ batches: [{ status: "successful" }] });
  });
});

describe("status tracking", () => {
  it("tracks a send-now batch to completedWithErrors and announces it with both CSV links", async () => {
    await start();
    const requestId = await accept(body({ scheduledAt: undefined, message: `Hi ${COMPLETE_WITH_ERRORS_MARKER}` }));

    await h.deliverUntilEmpty();

    expect(await view(requestId)).toMatchObject({
      status: "submitted",
      batches: [
        {
          status: "completedWithErrors",
          errorsCsvUrl: expect.any(String),
          deliveryCsvUrl: expect.any(String),
          totalCount: 100,
          statusCheckedAt: expect.any(String),
        },
      ],
    });
    expect(eventTypes()).toEqual(["WalletMessageBatchCreated", "WalletMessageBatchCompleted"]);
    expect(h.published[1]!.detail).toMatchObject({
      status: "completedWithErrors",
      errorsCsvUrl: expect.any(String),
      deliveryCsvUrl: expect.any(String),
    });
  });

  it("sends an early batch (scheduledAt under an hour ahead) at its time: before it, only reads until validation is over; then send-now, then tracks it to successful", async () => {
    // Under PassEntry's hour of notice: created for the earliest time PassEntry accepts, sent now at scheduledAt.
    await start({ sandbox: { ...SANDBOX, scheduledMs: Number.POSITIVE_INFINITY } });
    const scheduledAt = new Date(h.clock.now() + 1_500).toISOString();
    const requestId = await accept(body({ scheduledAt }));

    await h.deliverUntilEmpty();

    const created = h.sandbox.requests().find((r) => r.routeKey === CREATE)!;
    const sentNow = h.sandbox.requests().filter((r) => r.routeKey === SEND_NOW);
    const readsBeforeItsTime = h.sandbox
      .requests()
      .filter((r) => r.routeKey === SHOW && r.at - created.at < 1_000)
      .map((r) => r.at - created.at);
    // Validation takes 50 ms here: a refusal would show at once; a validated batch waits for its time unpolled.
    expect(readsBeforeItsTime.length, "read until validation was over").toBeGreaterThanOrEqual(1);
    expect(
      readsBeforeItsTime.filter((ms) => ms > 500),
      "PassEntry was not called again once the batch was validated, until scheduledAt (1.5 s after accepting)",
    ).toEqual([]);
    expect(sentNow).toHaveLength(1);
    expect(sentNow[0]!.at - created.at, "send-now waited for scheduledAt").toBeGreaterThanOrEqual(1_000);
    expect(
      Date.parse(h.sandbox.batches()[0]!.scheduledAt) - Date.parse(h.sandbox.batches()[0]!.createdAt),
    ).toBeGreaterThanOrEqual(60 * 60_000);
    expect(await view(requestId)).toMatchObject({
      status: "submitted",
      sendNow: false,
      batches: [
        {
          status: "successful",
          sendAt: new Date(Date.parse(scheduledAt)).toISOString(),
          sendNowAt: expect.any(String),
        },
      ],
    });
    expect(eventTypes()).toEqual(["WalletMessageBatchCreated", "WalletMessageBatchCompleted"]);
  });

  it("announces the outcome of a batch that was already final when reconciliation found it", async () => {
    await start({ timeoutSettleMs: 200 });
    const requestId = await accept(body({ message: `Hello ${FAIL_VALIDATION_MARKER}` }));
    h.sandbox.injectNext(CREATE, [{ kind: "drop-after-create" }]);
    await h.deliverQueued();
    await new Promise((resolve) => setTimeout(resolve, 300));

    await h.deliverUntilEmpty();

    expect(h.sandbox.batches()).toHaveLength(1);
    expect(h.log.lines.map((l) => l.message)).toContain("request submitted (found by reconciliation)");
    expect(h.published.map((e) => [e.detailType, e.detail.status])).toEqual([
      ["WalletMessageBatchCreated", "failed"],
      ["WalletMessageBatchFailed", "failed"],
    ]);
    expect(await view(requestId)).toMatchObject({
      status: "failed",
      batches: [{ status: "failed", errorsCsvUrl: expect.any(String) }],
    });
  });

  it("does not track a batch scheduled more than 7 days ahead, and says so in the request", async () => {
    await start();
    const requestId = await accept(body({}));

    await h.deliverUntilEmpty();

    expect(await view(requestId)).toMatchObject({
      status: "submitted",
      batches: [
        {
          status: "scheduled",
          note: expect.stringMatching(/scheduled for 2030-03-31T13:16:26Z, more than 7 days ahead/),
        },
      ],
    });
    expect(h.queuedBodies()).toEqual([]);
    expect(eventTypes()).toEqual(["WalletMessageBatchCreated"]);
  });

  it("waits for a batch two days ahead in hops of at most 900 s, without calling PassEntry until near its time", async () => {
    await start();
    const scheduledAt = new Date(h.clock.now() + 2 * 86_400_000).toISOString();
    await accept(body({ scheduledAt }));
    const waiting = async () => {
      for (let i = 0; i < 200; i++) {
        const held = h.queuedBodies().find((b) => b.notBefore !== undefined);
        if (held) return held;
        await h.deliverQueued();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error("no waiting follow-up appeared");
    };
    const held = await waiting();
    const readsSoFar = h.sandbox.requests().length;
    const delaySeconds =
      (h.db.prepare("SELECT visible_at - sent_at AS delay FROM queue_messages").get() as { delay: number }).delay /
      1000;

    // Deliver the waiting follow-up early, as a redrive would: it only waits on.
    const response = await h.send(sqsEvent([sqsRecord(held)]));

    expect(held).toMatchObject({
      followUp: "track",
      attempt: 1,
      notBefore: new Date(Date.parse(scheduledAt)).toISOString(),
    });
    expect(delaySeconds).toBe(900);
    expect(response.batchItemFailures).toEqual([]);
    expect(h.sandbox.requests()).toHaveLength(readsSoFar);
    expect(h.queuedBodies()).toEqual([held, held]);
  });
});

describe("outcome events", () => {
  it("never fails or repeats a send when publishing fails; it logs a warning", async () => {
    const failing: EventPublisher = { publish: async () => Promise.reject(new Error("EventBridge is down")) };
    await start({ events: failing });
    const requestId = await accept(body({}));

    const { response } = await h.deliverQueued();

    expect(response.batchItemFailures).toEqual([]);
    expect(h.sandbox.batches()).toHaveLength(1);
    expect(await view(requestId)).toMatchObject({ status: "submitted" });
    expect(h.log.lines).toContainEqual(
      expect.objectContaining({
        level: "warn",
        message: "outcome event not published",
        fields: expect.objectContaining({ type: "WalletMessageBatchCreated", requestId, error: "EventBridge is down" }),
      }),
    );
  });

  it("announces a refused create as WalletMessageBatchFailed without a batch id", async () => {
    await start();
    const requestId = await accept(body({}));
    h.sandbox.injectNext(CREATE, [{ kind: "status", status: 422, body: { errors: ["Segment not found"] } }]);

    await h.deliverQueued();

    expect(h.published.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        type: "WalletMessageBatchFailed",
        requestId,
        chunk: 0,
        batchId: null,
        status: "failed",
        reason: expect.stringContaining("Segment not found"),
      }),
    ]);
  });

  it("announces a queue message that is not a request as WalletMessageRequestRejected, with its message id and readable request id", async () => {
    await start();
    const record = sqsRecord({ requestId: "order-77", entityId: "ent-1", batch: { message: "" } });

    const response = await h.send(sqsEvent([record, sqsRecord("<html>502</html>")]));

    expect(response.batchItemFailures).toEqual([]);
    expect(h.published.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        type: "WalletMessageRequestRejected",
        requestId: "order-77",
        messageId: record.messageId,
        status: "rejected",
        problems: expect.arrayContaining([expect.stringMatching(/batch\.message/)]),
      }),
      expect.objectContaining({
        type: "WalletMessageRequestRejected",
        requestId: null,
        reason: "The message body is not JSON.",
      }),
    ]);
    expect(h.sandbox.requests()).toEqual([]);
  });
});
