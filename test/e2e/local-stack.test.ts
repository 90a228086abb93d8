/**
 * The embedded home end to end, over loopback HTTP: what a user does with `npm start`, asserted by
 * what the PassEntry sandbox actually received.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { MAX_BODY_BYTES } from "../../functions/handlers/http.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../local/stack.js";

const EXAMPLE = {
  batch: { message: "Hello, World!", segments: [{ groupTag: "summerPromotion" }], scheduledAt: "2030-03-31T13:16:26Z" },
};
const API_KEY = "e2e-key-0123456789";

describe("local stack (npm start's pipeline)", () => {
  let sandbox: Sandbox;
  let dataDir: string;
  const stacks: LocalStack[] = [];

  beforeEach(async () => {
    sandbox = await startSandbox({ tokens: ["e2e-token"] });
    dataDir = mkdtempSync(join(tmpdir(), "wm-e2e-"));
  });
  afterEach(async () => {
    for (const stack of stacks.splice(0)) await stack.stop().catch(() => undefined);
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(overrides: Partial<LocalStackOptions> = {}) {
    const stack = await startLocalStack({
      DATA_DIR: dataDir,
      PASSENTRY_BASE_URL: sandbox.url,
      PASSENTRY_TOKEN: "e2e-token",
      API_KEYS: `e2e:${API_KEY}`,
      log: new MemoryLog(),
      idlePollMs: 20,
      ...overrides,
    });
    stacks.push(stack);
    return stack;
  }

  const post = (stack: LocalStack, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${stack.url}/api/v1/entities/ent-42/messaging/wallet`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const status = async (stack: LocalStack, path: string) =>
    (await fetch(stack.url + path, { headers: { authorization: `Bearer ${API_KEY}` } })).json() as Promise<any>;

  it("delivers PassEntry's own example request as exactly one batch and reports its id", async () => {
    const stack = await start();

    const answer = await post(stack, EXAMPLE);
    const accepted = (await answer.json()) as any;
    await stack.drained();

    expect(answer.status).toBe(202);
    const batches = sandbox.batches();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({
      entityId: "ent-42",
      message: "Hello, World!",
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    expect(batches[0]!.body.batch.segments).toEqual([{ groupTag: "summerPromotion" }]);
    const view = await status(stack, accepted.links.self);
    expect(view.data.attributes.status).toBe("submitted");
    expect(view.data.attributes.batchId).toBe(batches[0]!.id);
  });

  it("answers /health with 200", async () => {
    const stack = await start();
    const answer = await fetch(`${stack.url}/health`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ status: "ok" });
  });

  it("delivers, exactly once, a request accepted just before the process stopped", async () => {
    const first = await start({ startWorkers: false });
    const accepted = (await (await post(first, EXAMPLE)).json()) as any;
    await first.stop();
    stacks.splice(stacks.indexOf(first), 1);
    expect(sandbox.batches()).toHaveLength(0);

    const second = await start();
    await second.drained();

    expect(sandbox.batches()).toHaveLength(1);
    expect((await status(second, accepted.links.self)).data.attributes.batchId).toBe(sandbox.batches()[0]!.id);
  });

  it("sends an idempotent retry's request once, across a restart", async () => {
    const first = await start({ startWorkers: false });
    const a = (await (await post(first, EXAMPLE, { "idempotency-key": "order-1001" })).json()) as any;
    await first.stop();
    stacks.splice(stacks.indexOf(first), 1);

    const second = await start();
    const replay = await post(second, EXAMPLE, { "idempotency-key": "order-1001" });
    const b = (await replay.json()) as any;
    await second.drained();

    expect(replay.status).toBe(202);
    expect(b.data.id).toBe(a.data.id);
    expect(sandbox.batches()).toHaveLength(1);
  });

  it("accepts and queues a body just under the 256 KB limit (it still fits in an SQS message)", async () => {
    const stack = await start({ startWorkers: false });
    const recipients = Array.from({ length: 500 }, (_, i) => ({
      passId: `pass-${i}`,
      variables: { note: "x".repeat(400) },
    }));
    const body = { batch: { message: "Big one", recipients, scheduledAt: "2030-03-31T13:16:26Z" } };
    const padding = MAX_BODY_BYTES - Buffer.byteLength(JSON.stringify(body)) - 20;
    body.batch.message += " ".repeat(padding);

    const answer = await post(stack, body);

    expect(answer.status).toBe(202);
    expect(stack.queue.peek()).toHaveLength(1);
  });

  it("refuses bad input with a 4xx and keeps the process serving", async () => {
    const stack = await start();
    const answers = await Promise.all([
      fetch(`${stack.url}/api/v1/entities/e/messaging/wallet`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: "{not json",
      }),
      fetch(`${stack.url}/api/v1/entities/e/messaging/wallet`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: "x".repeat(300 * 1024),
      }),
      fetch(`${stack.url}/api/v1/entities/%E0%A4%A/messaging/wallet`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: "{}",
      }),
      fetch(`${stack.url}/api/v1/nothing-here`),
      fetch(`${stack.url}/health`, { method: "DELETE" }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([400, 413, 400, 404, 405]);
    for (const a of answers) expect(((await a.json()) as any).errors.length).toBeGreaterThan(0);
    expect(stack.queue.depth()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
    expect((await fetch(`${stack.url}/health`)).status).toBe(200);
  });
});
