/**
 * Send-now, status tracking, cancellation and outcome events in the embedded home, over loopback
 * HTTP: what a user of `npm start` sees, asserted by what the PassEntry sandbox received, what
 * GET /api/v1/requests/{id} answers and what the local event publisher announced.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PublishedEvent } from "../../functions/adapters/local-event-publisher.js";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";

const API_KEY = "e2e-key-send-now-0001";
const TOKEN = "e2e-token-send-now";
const SEND_NOW = "POST /api/v1/batches/:id/send-now";
const CANCEL = "PATCH /api/v1/batches/:id/cancel";

describe("send now, tracking and cancel in the local stack", () => {
  let sandbox: Sandbox;
  let stack: LocalStack;
  let dataDir: string;
  let log: MemoryLog;
  let events: PublishedEvent[];

  beforeEach(async () => {
    // PassEntry validates quickly and keeps batches scheduled until told: send-now or cancel decide.
    sandbox = await startSandbox({ tokens: [TOKEN], validatingMs: 50, scheduledMs: Infinity, sendingMs: 50 });
    dataDir = mkdtempSync(join(tmpdir(), "wm-e2e-send-now-"));
    log = new MemoryLog();
    stack = await startLocalStack({
      DATA_DIR: dataDir,
      PASSENTRY_BASE_URL: sandbox.url,
      PASSENTRY_TOKEN: TOKEN,
      API_KEYS: `e2e:${API_KEY}`,
      log,
      idlePollMs: 20,
      timings: { followUps: { firstDelaySeconds: 0.05, maxDelaySeconds: 0.5 } },
    });
    events = [];
    stack.events.subscribe((event) => events.push(event));
  });
  afterEach(async () => {
    await stack.stop();
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
    expect(log.text()).not.toContain(TOKEN);
    expect(log.text()).not.toContain(API_KEY);
  });

  const call = async (method: string, path: string, body?: unknown, key = API_KEY) => {
    const answer = await fetch(stack.url + path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: answer.status, body: (await answer.json()) as any };
  };
  const send = async (batch: Record<string, unknown>) => {
    const answer = await call("POST", "/api/v1/entities/ent-42/messaging/wallet", { batch });
    expect(answer.status).toBe(202);
    return answer.body.data.id as string;
  };
  const view = async (requestId: string) => (await call("GET", `/api/v1/requests/${requestId}`)).body.data.attributes;
  async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
      await sleep(25);
    }
  }

  it("sends a request without scheduledAt at once: created an hour ahead, sent as soon as validated, tracked to successful, announced", async () => {
    const requestId = await send({ message: "Doors open now!", segments: [{ groupTag: "vip" }] });

    await until("the batch to finish", async () => (await view(requestId)).batches[0]?.status === "successful");
    await stack.drained();

    const [batch] = sandbox.batches();
    expect(batch).toMatchObject({ status: "successful", sentNowAt: expect.any(String) });
    expect(sandbox.requests().filter((r) => r.routeKey === SEND_NOW)).toHaveLength(1);
    expect(await view(requestId)).toMatchObject({
      status: "submitted",
      sendNow: true,
      batches: [
        {
          batchId: batch!.id,
          status: "successful",
          totalCount: 100,
          deliveryCsvUrl: expect.stringContaining(sandbox.url),
          sendNowAt: expect.any(String),
        },
      ],
    });
    expect(events.map((e) => [e.source, e.detailType, e.detail.requestId])).toEqual([
      ["wallet-messaging", "WalletMessageBatchCreated", requestId],
      ["wallet-messaging", "WalletMessageBatchCompleted", requestId],
    ]);
    expect(stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  });

  it("sends 1,200 recipients now as three batches and shows each one's status, recipient count and CSV link", async () => {
    const recipients = Array.from({ length: 1_200 }, (_, i) => ({ externalId: `member-${i}` }));
    const requestId = await send({ message: "Your table is ready", recipients, sendNow: true });

    await until(
      "all three batches to finish",
      async () => (await view(requestId)).batches.filter((b: any) => b.status === "successful").length === 3,
    );

    expect(sandbox.batches().map((b) => b.body.batch.recipients.length)).toEqual([500, 500, 200]);
    expect(sandbox.batches().every((b) => b.status === "successful")).toBe(true);
    const attributes = await view(requestId);
    expect(attributes).toMatchObject({ status: "submitted", progress: { chunks: 3, sent: 3, pending: 0 } });
    expect(attributes.batches.map((b: any) => [b.chunk, b.totalCount, typeof b.deliveryCsvUrl])).toEqual([
      [0, 500, "string"],
      [1, 500, "string"],
      [2, 200, "string"],
    ]);
    await stack.drained();
    expect(
      events
        .filter((e) => e.detailType === "WalletMessageBatchCompleted")
        .map((e) => e.detail.chunk)
        .sort(),
    ).toEqual([0, 1, 2]);
  });

  it("cancels a scheduled request over HTTP: DELETE answers 202, and PassEntry's batch ends cancelled", async () => {
    const requestId = await send({
      message: "Summer sale",
      segments: [{ groupTag: "summerPromotion" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    await stack.drained();

    const answer = await call("DELETE", `/api/v1/requests/${requestId}`);
    await stack.drained();

    expect(answer.status).toBe(202);
    expect(answer.body.data).toMatchObject({
      id: requestId,
      type: "walletMessageRequest",
      attributes: { cancelRequestedAt: expect.any(String) },
    });
    expect(sandbox.batches()[0]?.status).toBe("cancelled");
    expect(
      sandbox
        .requests()
        .filter((r) => r.routeKey === CANCEL)
        .map((r) => r.status),
    ).toEqual([200]);
    expect(await view(requestId)).toMatchObject({
      status: "cancelled",
      batches: [{ status: "cancelled", note: "Cancelled at PassEntry before it was sent." }],
    });
    expect(events.map((e) => e.detailType)).toEqual(["WalletMessageBatchCreated", "WalletMessageBatchFailed"]);
    expect(events[1]!.detail).toMatchObject({ status: "cancelled", requestId });
  });

  it("refuses DELETE without a valid API key, and cancels nothing", async () => {
    const requestId = await send({
      message: "Summer sale",
      segments: [{ groupTag: "summerPromotion" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    await stack.drained();

    const answer = await call("DELETE", `/api/v1/requests/${requestId}`, undefined, "wrong-key");
    await stack.drained();

    expect(answer.status).toBe(401);
    expect(sandbox.batches()[0]?.status).toBe("scheduled");
  });
});
