/**
 * The status handler shows a caller its own requests only (any other id answers the same 404 as an
 * unknown one), with each part's state.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { requestStatusEvent, triggerEvent } from "../support/events.js";
import { startHarness, type Harness, type HarnessOptions } from "../support/harness.js";

const CREATE = "POST /api/v1/entities/:id/messaging/wallet";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

async function restartWith(options: HarnessOptions): Promise<void> {
  await h.close();
  h = await startHarness(options);
}

async function accept(): Promise<string> {
  const answer = await h.accept(triggerEvent());
  expect(answer.statusCode).toBe(202);
  return answer.body.data.id;
}

describe("request status handler (GET /api/v1/requests/{requestId})", () => {
  it("answers 404 with a JSON error for an id nobody asked for", async () => {
    const answer = await h.requestStatus(requestStatusEvent("3f0b6c1e-0000-4000-8000-000000000000"));

    expect(answer.statusCode).toBe(404);
    expect(answer.headers["content-type"]).toBe("application/json");
    expect(answer.body).toEqual({ errors: ['No request has the id "3f0b6c1e-0000-4000-8000-000000000000".'] });
  });

  it("answers 401 without an API key, even for a request that exists", async () => {
    const requestId = await accept();

    const answer = await h.requestStatus(requestStatusEvent(requestId, { headers: { authorization: undefined } }));

    expect(answer.statusCode).toBe(401);
    expect(answer.body).toEqual({ errors: [expect.stringMatching(/Authorization: Bearer/)] });
  });

  it("answers 401 with a wrong API key", async () => {
    const requestId = await accept();

    const answer = await h.requestStatus(requestStatusEvent(requestId, { headers: { authorization: "Bearer wrong" } }));

    expect(answer.statusCode).toBe(401);
  });

  it("shows a request as queued right after it was accepted", async () => {
    const requestId = await accept();

    const answer = await h.requestStatus(requestStatusEvent(requestId));

    expect(answer.statusCode).toBe(200);
    expect(answer.body.data).toMatchObject({
      id: requestId,
      type: "walletMessageRequest",
      attributes: {
        status: "queued",
        content: "Hello, World!",
        scheduledAt: "2030-03-31T13:16:26Z",
        batchId: null,
        failureReason: null,
        batches: [],
      },
    });
    expect(answer.body.links.self).toBe(`/api/v1/requests/${requestId}`);
  });

  it("shows a request as submitted with the batch id PassEntry holds once the sender ran", async () => {
    const requestId = await accept();
    await h.deliverQueued();

    const answer = await h.requestStatus(requestStatusEvent(requestId));

    const [batch] = h.sandbox.batches();
    expect(batch).toBeDefined();
    expect(answer.body.data.attributes).toMatchObject({
      status: "submitted",
      batchId: batch!.id,
      batchStatus: "validating",
      failureReason: null,
      batches: [{ chunk: 0, state: "sent", batchId: batch!.id, status: "validating", attempt: 1, reason: null }],
    });
  });

  it("shows a request as failed with PassEntry's own error text after a permanent 422", async () => {
    const requestId = await accept();
    h.sandbox.injectNext(CREATE, [{ kind: "status", status: 422, body: { errors: ["Segment not found"] } }]);
    await h.deliverQueued();

    const answer = await h.requestStatus(requestStatusEvent(requestId));

    expect(answer.body.data.attributes).toMatchObject({
      status: "failed",
      batchId: null,
      failureReason: expect.stringContaining("Segment not found"),
      batches: [{ chunk: 0, state: "failed", reason: expect.stringContaining("Segment not found") }],
    });
  });

  it("shows a request as failed, saying nothing was sent, when it could not be queued", async () => {
    h.acceptQueue.failNextSends(1);
    const refused = await h.accept(triggerEvent({ headers: { "idempotency-key": "order-2001" } }));
    expect(refused.statusCode).toBe(503);
    const [requestId] = (h.db.prepare("SELECT request_id FROM requests").all() as { request_id: string }[]).map(
      (r) => r.request_id,
    );

    const answer = await h.requestStatus(requestStatusEvent(requestId!));

    expect(answer.body.data.attributes).toMatchObject({
      status: "failed",
      failureReason: "The request could not be queued; nothing was sent.",
    });
  });

  it("shows the unknown state with its reason when PassEntry's batch list could not decide whether a lost send happened", async () => {
    await restartWith({ reconcilePages: 1, timeoutSettleMs: 1 });
    const requestId = await accept();
    h.sandbox.injectNext(CREATE, [{ kind: "drop" }]);
    await h.deliverQueued();
    for (let i = 0; i < 26; i++)
      await h.passEntry.createBatch({
        entityId: "ent_elsewhere",
        batch: { message: `other ${i}`, segments: [{ groupTag: "x" }] },
      });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await h.deliverQueued();

    const answer = await h.requestStatus(requestStatusEvent(requestId));

    expect(answer.body.data.attributes).toMatchObject({
      status: "unknown",
      batchId: null,
      failureReason: expect.stringMatching(
        /without finding this part's batch or reaching batches older than its first POST; not sending again/,
      ),
      batches: [{ chunk: 0, state: "unknown", attempt: 2, reason: expect.stringMatching(/not sending again/) }],
    });
  });
});
