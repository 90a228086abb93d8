/**
 * Requests for more recipients than PassEntry takes in one call (500): one batch per 500, each with
 * its own ledger entry, each created exactly once whatever fails and is redelivered in between.
 * Asserted by what the sandbox received and what GET /api/v1/requests/{id} answers.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { isMarkedFor } from "../../functions/core/batch-rules.js";
import { exampleBody, requestStatusEvent, triggerEvent } from "../support/events.js";
import { startHarness, type Harness, type HarnessOptions } from "../support/harness.js";

const CREATE = "POST /api/v1/entities/:id/messaging/wallet";
/** Short, so a test can wait for a claim left by a failed attempt to lapse. */
const LEASE_MS = 300;

let h: Harness;
afterEach(async () => {
  await h.close();
});

async function start(options: HarnessOptions = {}) {
  h = await startHarness({ leaseMs: LEASE_MS, ...options });
  return h;
}

function audience(size: number): { batch: Record<string, unknown> } {
  const body = exampleBody();
  delete body.batch.segments;
  body.batch.recipients = Array.from({ length: size }, (_, i) => ({ externalId: `member-${i}` }));
  return body;
}

async function accept(body: unknown): Promise<string> {
  const answer = await h.accept(triggerEvent({ body }));
  expect(answer.statusCode).toBe(202);
  return answer.body.data.id;
}

async function view(requestId: string) {
  return (await h.requestStatus(requestStatusEvent(requestId))).body.data.attributes;
}

/** The sandbox's batches for one request, by chunk, with their recipients' external ids. */
function batchesOf(requestId: string) {
  return [0, 1, 2, 3]
    .map((chunk) => h.sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId, chunk })))
    .filter((found) => found.length > 0);
}

describe("requests over 500 recipients", () => {
  it("sends 1,200 recipients as three PassEntry batches of 500, 500 and 200, in order, each once", async () => {
    await start({ events: true });
    const requestId = await accept(audience(1_200));

    const { response } = await h.deliverQueued();

    expect(response.batchItemFailures).toEqual([]);
    const batches = batchesOf(requestId);
    expect(batches.map((found) => found.length)).toEqual([1, 1, 1]);
    expect(batches.map(([b]) => b!.body.batch.recipients.length)).toEqual([500, 500, 200]);
    expect(batches.flatMap(([b]) => b!.body.batch.recipients.map((r: { externalId: string }) => r.externalId))).toEqual(
      Array.from({ length: 1_200 }, (_, i) => `member-${i}`),
    );
    expect(h.sandbox.batches()).toHaveLength(3);
    expect(await view(requestId)).toMatchObject({
      status: "submitted",
      progress: { chunks: 3, sent: 3, pending: 0, failed: 0 },
      batches: [0, 1, 2].map((chunk) =>
        expect.objectContaining({ chunk, state: "sent", batchId: batches[chunk]![0]!.id }),
      ),
    });
    expect(
      h.published
        .filter((e) => e.detailType === "WalletMessageBatchCreated")
        .map((e) => [e.detail.chunk, e.detail.batchId]),
    ).toEqual(batches.map(([b], chunk) => [chunk, b!.id]));
  });

  it("creates each of the three batches once when chunk 2 of 3 fails with a 5xx: it is looked for, not found, and posted again", async () => {
    await start();
    const requestId = await accept(audience(1_200));
    // The first create goes through; the second gets a 503 (its outcome unknown to us).
    h.sandbox.injectNext(CREATE, [
      { kind: "delay", ms: 0 },
      { kind: "status", status: 503, body: { errors: ["Service Unavailable"] } },
    ]);

    const { response } = await h.deliverQueued();

    expect(response.batchItemFailures).toEqual([]);
    const batches = batchesOf(requestId);
    expect(batches.map((found) => found.length)).toEqual([1, 1, 1]);
    expect(batches.map(([b]) => b!.body.batch.recipients.length)).toEqual([500, 500, 200]);
    expect(
      h.sandbox
        .requests()
        .filter((r) => r.routeKey === CREATE)
        .map((r) => r.status),
    ).toEqual([202, 503, 202, 202]);
    expect(await view(requestId)).toMatchObject({ status: "submitted", progress: { chunks: 3, sent: 3, pending: 0 } });
  });

  it("creates each batch once when PassEntry created chunk 2 but its answer was lost, then the message came back", async () => {
    await start({ timeoutSettleMs: LEASE_MS });
    const requestId = await accept(audience(1_200));
    h.sandbox.injectNext(CREATE, [{ kind: "delay", ms: 0 }, { kind: "drop-after-create" }]);

    const first = await h.deliverQueued();

    expect(first.response.batchItemFailures).toHaveLength(1);
    expect(await view(requestId)).toMatchObject({ status: "queued", progress: { chunks: 3, sent: 1, pending: 2 } });

    await sleep(LEASE_MS + 50);
    const second = await h.deliverQueued();

    expect(second.response.batchItemFailures).toEqual([]);
    expect(batchesOf(requestId).map((found) => found.length)).toEqual([1, 1, 1]);
    expect(h.sandbox.batches()).toHaveLength(3);
    expect(await view(requestId)).toMatchObject({ status: "submitted", progress: { sent: 3 } });
  });

  it("reports a request whose second batch PassEntry refused as failed, with the other two sent", async () => {
    await start();
    const requestId = await accept(audience(1_200));
    h.sandbox.injectNext(CREATE, [
      { kind: "delay", ms: 0 },
      { kind: "status", status: 422, body: { errors: ["Recipient list rejected"] } },
    ]);

    const { response } = await h.deliverQueued();

    expect(response.batchItemFailures).toEqual([]);
    expect(batchesOf(requestId).map(([b]) => b!.body.batch.recipients.length)).toEqual([500, 200]);
    expect(await view(requestId)).toMatchObject({
      status: "failed",
      failureReason: expect.stringContaining("Recipient list rejected"),
      progress: { chunks: 3, sent: 2, failed: 1, pending: 0 },
    });
  });

  it("keeps 500 recipients as a single batch", async () => {
    await start();
    const requestId = await accept(audience(500));

    await h.deliverQueued();

    expect(batchesOf(requestId).map(([b]) => b!.body.batch.recipients.length)).toEqual([500]);
  });
});
