/**
 * A `scheduledAt` under PassEntry's hour of notice is honoured, not refused: the batch is created
 * for the earliest time PassEntry accepts and sent now at the requested moment; a cancel before
 * then cancels it. HTTP against a started local stack, counting what the sandbox received.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { isMarkedFor } from "../../functions/core/batch-rules.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";

const KEY = "early-key-0123456789";
const TOKEN = "early-token";
let sandbox: Sandbox;
let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  // Batches stay scheduled until send-now or cancel, whatever their scheduledAt says.
  sandbox = await startSandbox({ tokens: [TOKEN], validatingMs: 20, scheduledMs: Infinity, sendingMs: 20 });
  dataDir = mkdtempSync(join(tmpdir(), "wm-early-"));
  stack = await startLocalStack({
    DATA_DIR: dataDir,
    PASSENTRY_BASE_URL: sandbox.url,
    PASSENTRY_TOKEN: TOKEN,
    API_KEYS: `operator:ops:${KEY}`,
    log: new MemoryLog(),
    idlePollMs: 20,
    timings: { followUps: { firstDelaySeconds: 0.05, maxDelaySeconds: 0.5 } },
  });
});
afterAll(async () => {
  await stack.stop();
  await sandbox.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const api = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(stack.url + path, {
    ...init,
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
  });
  return { status: response.status, body: (await response.json()) as any };
};
const batchOf = (id: string) => sandbox.batches().find((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }));
async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(25);
  }
}

describe("a scheduledAt under an hour ahead", () => {
  it("is created for the earliest time PassEntry accepts and sent now at the requested time, once", async () => {
    const sendAt = new Date(Date.now() + 2_500).toISOString();
    const accepted = await api("/api/v1/entities/ent-early/messaging/wallet", {
      method: "POST",
      body: JSON.stringify({
        batch: { message: "Doors open in a moment", segments: [{ groupTag: "vip" }], scheduledAt: sendAt },
      }),
    });
    const id = accepted.body.data.id as string;

    await until("the batch to be created", () => batchOf(id) !== undefined);
    await until(
      "the plan to be recorded",
      async () =>
        (await api(`/api/v1/requests/${id}`)).body.data.attributes.batches[0]?.sendAt !== null &&
        (await api(`/api/v1/requests/${id}`)).body.data.attributes.batches.length > 0,
    );
    const planned = (await api(`/api/v1/requests/${id}`)).body.data.attributes.batches[0];
    const before = batchOf(id)!;
    await until("send-now at the requested time", () => batchOf(id)?.sentNowAt !== null);
    const sentNowAt = Date.parse(batchOf(id)!.sentNowAt!);

    expect(accepted.status).toBe(202);
    expect(accepted.body.data.attributes.earlySendAt).toBe(sendAt);
    expect(Date.parse(before.scheduledAt) - Date.parse(before.createdAt)).toBeGreaterThanOrEqual(60 * 60_000);
    expect(before.sentNowAt).toBeNull();
    expect(planned.sendAt).toBe(sendAt);
    expect(sentNowAt).toBeGreaterThanOrEqual(Date.parse(sendAt) - 1_000);
    expect(sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }))).toHaveLength(1);
  });

  it("is cancelled at PassEntry when the request is cancelled before its time, and never sent", async () => {
    const sendAt = new Date(Date.now() + 10 * 60_000).toISOString();
    const accepted = await api("/api/v1/entities/ent-early/messaging/wallet", {
      method: "POST",
      body: JSON.stringify({
        batch: { message: "Flash sale soon", segments: [{ groupTag: "vip" }], scheduledAt: sendAt },
      }),
    });
    const id = accepted.body.data.id as string;
    await until(
      "the plan to be recorded",
      async () => (await api(`/api/v1/requests/${id}`)).body.data.attributes.batches[0]?.sendAt === sendAt,
    );

    const cancelled = await api(`/api/v1/requests/${id}`, { method: "DELETE" });
    await until("the batch to be cancelled at PassEntry", () => batchOf(id)?.status === "cancelled");
    await until(
      "the request to say cancelled",
      async () => (await api(`/api/v1/requests/${id}`)).body.data.attributes.status === "cancelled",
    );

    expect(cancelled.status).toBe(202);
    expect(batchOf(id)!.sentNowAt).toBeNull();
    expect(sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }))).toHaveLength(1);
  });
});

describe("knowable mistakes", () => {
  const post = (path: string, body: unknown) => api(path, { method: "POST", body: JSON.stringify(body) });

  it("refuses with 422 naming them recipients that lack a %{variable} the message uses, and queues nothing", async () => {
    const answer = await post("/api/v1/entities/ent-early/messaging/wallet", {
      batch: {
        message: "Hi %{firstName}, your points: %{points}",
        recipients: [
          { passId: "p-1", variables: { firstName: "Ada", points: 12 } },
          { passId: "p-2", variables: { name: "Bob" } },
        ],
      },
    });

    expect(answer.status).toBe(422);
    expect(answer.body.errors).toEqual([
      `batch.recipients.1.variables lacks "firstName", "points", which batch.message uses (%{firstName}): give every recipient a value for each placeholder`,
    ]);
    // Nothing of it reached the queue (other tests' follow-ups come and go meanwhile, so count only its own).
    expect(stack.queue.peek().filter((m) => m.body.includes("your points"))).toEqual([]);
  });

  it("shows the right shape when the batch wrapper is missing", async () => {
    const answer = await post("/api/v1/entities/ent-early/messaging/wallet", {
      message: "Hello",
      segments: [{ groupTag: "vip" }],
    });

    expect(answer.status).toBe(422);
    expect(answer.body.errors[0]).toContain('{"batch": {"message": "…", "segments": [{"groupTag": "…"}]}}');
  });

  it("names the routes there are when the path is wrong, the likeliest first", async () => {
    const answer = await post("/api/v1/entities/ent-early/messages/wallet", {
      batch: { message: "Hi", segments: [{ groupTag: "vip" }] },
    });

    expect(answer.status).toBe(404);
    expect(answer.body.errors[0]).toMatch(
      /^No such route: \/api\/v1\/entities\/ent-early\/messages\/wallet\. The API's routes are POST \/api\/v1\/entities\/\{entityId\}\/messaging\/wallet, /,
    );
  });
});
