/**
 * The way out of `unknown`: a part whose POST's outcome was lost, and which PassEntry's list could
 * not settle, is decided by an operator with `npm run cli -- resolve` (HTTP POST …/resolve), and the
 * decision is recorded with who made it. Checked against a started local stack and the sandbox.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { isMarkedFor } from "../../functions/core/batch-rules.js";
import { runCli } from "../../local/cli.js";
import type { CliContext } from "../../local/cli/command.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";

const API_KEY = "ops-key-0123456789abcdef";
const CRM_KEY = "crm-key-0123456789abcdef";
const TOKEN = "resolve-token";
const CREATE = "POST /api/v1/entities/:id/messaging/wallet";

let sandbox: Sandbox;
let stack: LocalStack;
let dataDir: string;

beforeEach(async () => {
  sandbox = await startSandbox({
    tokens: [TOKEN],
    validatingMs: 50,
    scheduledMs: Infinity,
    sendingMs: 50,
    rateLimitPerSecond: 1000,
  });
  dataDir = mkdtempSync(join(tmpdir(), "wm-resolve-"));
  stack = await startLocalStack({
    DATA_DIR: dataDir,
    PASSENTRY_BASE_URL: sandbox.url,
    PASSENTRY_TOKEN: TOKEN,
    API_KEYS: `operator:ops:${API_KEY},crm:${CRM_KEY}`,
    log: new MemoryLog(),
    idlePollMs: 20,
    PASSENTRY_RATE_PER_SECOND: 200,
    RECONCILE_MAX_PAGES: 1,
    timings: { timeoutSettleMs: 50, followUps: { firstDelaySeconds: 0.05, maxDelaySeconds: 0.5 } },
  });
});
afterEach(async () => {
  await stack.stop();
  await sandbox.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function cli(args: string[]) {
  const out: string[] = [];
  const context: CliContext = {
    io: { out: (l) => out.push(l), err: (l) => out.push(l) },
    env: { WALLET_API_URL: stack.url, WALLET_API_KEY: API_KEY },
    cwd: dataDir,
    now: Date.now,
  };
  return { code: await runCli(args, context), out: out.join("\n") };
}

async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(20);
  }
}

/** A request whose only part ends `unknown`: its POST's connection drops, and 26 newer batches hide any of ours from the one page searched. */
async function unknownRequest(createIt: boolean): Promise<string> {
  sandbox.injectNext(CREATE, [{ kind: createIt ? "drop-after-create" : "drop" }]);
  const answer = await fetch(`${stack.url}/api/v1/entities/ent-1/messaging/wallet`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      batch: { message: "Hello", segments: [{ groupTag: "vip" }], scheduledAt: "2030-03-31T13:16:26Z" },
    }),
  });
  const id = ((await answer.json()) as { data: { id: string } }).data.id;
  await until("the POST to be tried", () => sandbox.requests().some((r) => r.routeKey === CREATE));
  for (let i = 0; i < 26; i++) {
    await fetch(`${sandbox.url}/api/v1/entities/elsewhere/messaging/wallet`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        batch: { message: `other ${i}`, segments: [{ groupTag: "x" }], scheduledAt: "2030-03-31T13:16:26Z" },
      }),
    });
  }
  await until("the part to be unknown", async () => (await cli(["status", id])).out.includes(": unknown"));
  return id;
}

describe("npm run cli -- resolve", () => {
  it("releases an unknown part that PassEntry does not have: it is sent once, and the status says who decided", async () => {
    const id = await unknownRequest(false);
    const status = await cli(["status", id]);
    expect(status.out).toContain(`decide it: npm run cli -- resolve ${id} --part 0`);

    const resolved = await cli(["resolve", id, "--release"]);

    expect(resolved.code).toBe(0);
    expect(resolved.out).toContain("Part 0 released");
    await until("the part to be sent", async () => (await cli(["status", id])).out.includes(`${id}: submitted`));
    expect(sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }))).toHaveLength(1);
    expect((await cli(["status", id])).out).toMatch(/resolved by operator:ops at /);
  });

  it("records the batch an operator found at PassEntry, sends nothing more and tracks it", async () => {
    const id = await unknownRequest(true);
    const [found] = sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }));

    const resolved = await cli(["resolve", id, "--sent", found!.id]);

    expect(resolved.code).toBe(0);
    expect(resolved.out).toContain(`${id}: submitted`);
    await until("the batch to be tracked", async () => (await cli(["status", id])).out.includes("scheduled"));
    expect(sandbox.requests().filter((r) => r.routeKey === CREATE && r.path.includes("ent-1"))).toHaveLength(1);
  });

  it("refuses to resolve a part that is not unknown, and says what it is", async () => {
    const answer = await fetch(`${stack.url}/api/v1/entities/ent-1/messaging/wallet`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        batch: { message: "Hello", segments: [{ groupTag: "vip" }], scheduledAt: "2030-03-31T13:16:26Z" },
      }),
    });
    const id = ((await answer.json()) as { data: { id: string } }).data.id;
    await until("the request to be submitted", async () =>
      (await cli(["status", id])).out.includes(`${id}: submitted`),
    );

    const resolved = await cli(["resolve", id, "--release"]);

    expect(resolved.code).toBe(1);
    expect(resolved.out).toMatch(/409[\s\S]*Part 0 of request .* is sent, not unknown/);
  });

  it("refuses a key that is not an operator's with 403, and changes nothing", async () => {
    const id = await unknownRequest(false);

    const answer = await fetch(`${stack.url}/api/v1/requests/${id}/resolve`, {
      method: "POST",
      headers: { authorization: `Bearer ${CRM_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ resolution: "release" }),
    });

    expect(answer.status).toBe(403);
    expect(((await answer.json()) as { errors: string[] }).errors[0]).toMatch(
      /Only an operator key may resolve a part/,
    );
    expect((await cli(["status", id])).out).toContain(`${id}: unknown`);
  });

  it("answers a key that is not an operator's with 403 whatever its body: the route is not theirs to probe", async () => {
    for (const body of ["{}", "not json", JSON.stringify({ chunk: -1, resolution: "maybe" })]) {
      const answer = await fetch(`${stack.url}/api/v1/requests/no-such-request/resolve`, {
        method: "POST",
        headers: { authorization: `Bearer ${CRM_KEY}`, "content-type": "application/json" },
        body,
      });
      expect(answer.status, body).toBe(403);
    }
  });

  it("refuses wrong usage with exit 2 before calling the API", async () => {
    expect((await cli(["resolve", "r-1"])).code).toBe(2);
    expect((await cli(["resolve", "r-1", "--sent", "b-1", "--release"])).code).toBe(2);
    expect((await cli(["resolve", "r-1", "--part", "x", "--release"])).code).toBe(2);
  });
});
