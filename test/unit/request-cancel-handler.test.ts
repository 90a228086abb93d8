/**
 * DELETE /api/v1/requests/{requestId}: parts not yet sent are cancelled at once and never sent;
 * batches already created are cancelled at PassEntry by the sender's `cancel` follow-up while they
 * are still validating or scheduled; batches PassEntry is already sending are reported as such.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { isMarkedFor } from "../../functions/core/batch-rules.js";
import {
  exampleBody,
  FIXTURE_API_KEY,
  requestCancelEvent,
  requestStatusEvent,
  triggerEvent,
} from "../support/events.js";
import { CANARY_TOKEN, startHarness, type Harness, type HarnessOptions } from "../support/harness.js";

const CREATE = "POST /api/v1/entities/:id/messaging/wallet";
const CANCEL = "PATCH /api/v1/batches/:id/cancel";
const SANDBOX = { validatingMs: 50, scheduledMs: Infinity, sendingMs: 50 };
const FOLLOW_UPS = { firstDelaySeconds: 0.03, maxDelaySeconds: 0.2 };
const LEASE_MS = 300;

let h: Harness;
afterEach(async () => {
  for (const secret of [CANARY_TOKEN, FIXTURE_API_KEY]) {
    expect(h.log.text()).not.toContain(secret);
    expect(h.everythingStored()).not.toContain(secret);
  }
  await h.close();
});

async function start(options: HarnessOptions = {}) {
  h = await startHarness({ sandbox: SANDBOX, followUps: FOLLOW_UPS, events: true, leaseMs: LEASE_MS, ...options });
  return h;
}

function audience(size: number) {
  const body = exampleBody();
  delete body.batch.segments;
  body.batch.recipients = Array.from({ length: size }, (_, i) => ({ externalId: `member-${i}` }));
  return body;
}

async function accept(body: unknown = exampleBody()): Promise<string> {
  const answer = await h.accept(triggerEvent({ body }));
  expect(answer.statusCode).toBe(202);
  return answer.body.data.id;
}

const view = async (requestId: string) => (await h.requestStatus(requestStatusEvent(requestId))).body.data.attributes;
const cancels = () => h.sandbox.requests().filter((r) => r.routeKey === CANCEL);
const failedEvents = () => h.published.filter((e) => e.detailType === "WalletMessageBatchFailed").map((e) => e.detail);

describe("request cancel handler (DELETE /api/v1/requests/{requestId})", () => {
  it("cancels every part not yet sent: 202 with the request cancelled, and nothing ever reaches PassEntry", async () => {
    await start();
    const requestId = await accept(audience(1_200));

    const answer = await h.requestCancel(requestCancelEvent(requestId));
    await h.deliverUntilEmpty();

    expect(answer.statusCode).toBe(202);
    expect(answer.body.data).toMatchObject({
      id: requestId,
      attributes: {
        status: "cancelled",
        cancelRequestedAt: expect.any(String),
        progress: { chunks: 3, cancelled: 3, pending: 0 },
      },
    });
    expect(answer.body.data.attributes.batches.map((b: { state: string }) => b.state)).toEqual([
      "cancelled",
      "cancelled",
      "cancelled",
    ]);
    expect(h.sandbox.requests()).toEqual([]);
    expect(await view(requestId)).toMatchObject({ status: "cancelled" });
    expect(failedEvents()).toEqual(
      [0, 1, 2].map((chunk) => expect.objectContaining({ requestId, chunk, batchId: null, status: "cancelled" })),
    );
  });

  it("cancels at PassEntry a created batch that is still scheduled, and announces it", async () => {
    await start();
    const requestId = await accept();
    await h.deliverUntilEmpty();
    const [batch] = h.sandbox.batches();

    const answer = await h.requestCancel(requestCancelEvent(requestId));

    expect(answer.statusCode).toBe(202);
    expect(answer.body.data.attributes).toMatchObject({ status: "submitted", cancelRequestedAt: expect.any(String) });
    expect(h.queuedBodies()).toEqual([{ followUp: "cancel", requestId, attempt: 1 }]);

    await h.deliverUntilEmpty();

    expect(h.sandbox.batches()[0]).toMatchObject({ id: batch!.id, status: "cancelled" });
    expect(cancels()).toHaveLength(1);
    expect(await view(requestId)).toMatchObject({
      status: "cancelled",
      progress: { cancelled: 1 },
      batches: [
        { state: "sent", batchId: batch!.id, status: "cancelled", note: "Cancelled at PassEntry before it was sent." },
      ],
    });
    expect(failedEvents()).toEqual([
      expect.objectContaining({ requestId, chunk: 0, batchId: batch!.id, status: "cancelled" }),
    ]);
  });

  it("says so when PassEntry is already sending the batch, and leaves it alone", async () => {
    await start({ sandbox: { ...SANDBOX, sendingMs: 60_000 }, followUps: { ...FOLLOW_UPS, maxChecks: 3 } });
    const requestId = await accept({ batch: { message: "Doors open now", segments: [{ groupTag: "vip" }] } });
    await h.deliverUntilEmpty();
    expect(h.sandbox.batches()[0]?.status).toBe("sending");

    await h.requestCancel(requestCancelEvent(requestId));
    await h.deliverUntilEmpty();

    expect(cancels().map((r) => r.status)).toEqual([422]);
    expect(h.sandbox.batches()[0]?.status).toBe("sending");
    expect(await view(requestId)).toMatchObject({
      status: "submitted",
      cancelRequestedAt: expect.any(String),
      batches: [{ status: "sending", note: "Not cancelled: PassEntry had already started sending this batch." }],
    });
    expect(failedEvents()).toEqual([]);
  });

  it("never sends a part that was in flight when the request was cancelled, and cancels the part already created", async () => {
    await start({ timeoutSettleMs: LEASE_MS });
    const requestId = await accept(audience(1_200));
    // Chunk 0 is created; chunk 1's connection drops (its outcome unknown), so it is handed back to be looked for; chunk 2 waits.
    h.sandbox.injectNext(CREATE, [{ kind: "delay", ms: 0 }, { kind: "drop" }]);
    await h.deliverQueued();

    const answer = await h.requestCancel(requestCancelEvent(requestId));
    await sleep(LEASE_MS + 50);
    await h.deliverUntilEmpty();

    expect(answer.body.data.attributes.batches.map((b: { state: string }) => b.state)).toEqual([
      "sent",
      "open",
      "cancelled",
    ]);
    const created = h.sandbox.batches();
    expect(created.map((b) => isMarkedFor(b.name, { requestId, chunk: 0 }))).toEqual([true]);
    expect(created[0]!.status).toBe("cancelled");
    expect(h.log.lines).toContainEqual(
      expect.objectContaining({
        message: "send cancelled before it was sent",
        fields: expect.objectContaining({ requestId, chunk: 1 }),
      }),
    );
    expect(await view(requestId)).toMatchObject({
      status: "cancelled",
      progress: { chunks: 3, cancelled: 3, sent: 0, pending: 0 },
    });
    expect(
      failedEvents()
        .map((e) => [e.chunk, e.status])
        .sort(),
    ).toEqual([
      [0, "cancelled"],
      [1, "cancelled"],
      [2, "cancelled"],
    ]);
  });

  it("is safe to repeat: a second DELETE cancels nothing twice", async () => {
    await start();
    const requestId = await accept();
    await h.deliverUntilEmpty();
    await h.requestCancel(requestCancelEvent(requestId));
    await h.deliverUntilEmpty();

    const again = await h.requestCancel(requestCancelEvent(requestId));
    await h.deliverUntilEmpty();

    expect(again.statusCode).toBe(202);
    expect(again.body.data.attributes.status).toBe("cancelled");
    expect(cancels()).toHaveLength(1);
    expect(failedEvents()).toHaveLength(1);
  });

  it("answers 503 when the follow-up cannot be queued, with the unsent parts cancelled all the same", async () => {
    await start();
    const requestId = await accept();
    h.acceptQueue.failNextSends(1);

    const answer = await h.requestCancel(requestCancelEvent(requestId));
    await h.deliverUntilEmpty();

    expect(answer.statusCode).toBe(503);
    expect(h.sandbox.requests()).toEqual([]);
    expect(await view(requestId)).toMatchObject({ status: "cancelled" });
  });

  it("answers 401 and cancels nothing without a valid API key", async () => {
    await start();
    const requestId = await accept();

    const answer = await h.requestCancel(
      requestCancelEvent(requestId, { headers: { authorization: "Bearer not-a-key" } }),
    );
    await h.deliverUntilEmpty();

    expect(answer.statusCode).toBe(401);
    expect(h.sandbox.batches()).toHaveLength(1);
    expect(await view(requestId)).toMatchObject({ status: "submitted", cancelRequestedAt: null });
  });

  it("answers 404 for a request it does not know", async () => {
    await start();

    const answer = await h.requestCancel(requestCancelEvent("no-such-request"));

    expect(answer.statusCode).toBe(404);
    expect(answer.body.errors[0]).toMatch(/no-such-request/);
    expect(h.queuedBodies()).toEqual([]);
  });
});
