/**
 * `npm run cli -- send|status|cancel` against a started local stack over loopback: what the sandbox
 * received and what the command printed, with its exit code (0 done, 1 refused, 2 wrong usage).
 */
import { spawnSync } from "node:child_process";
import net from "node:net";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { isMarkedFor } from "../../functions/core/batch-rules.js";
import { runCli } from "../../local/cli.js";
import type { CliContext } from "../../local/cli/command.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";

const PROJECT_ROOT = new URL("../..", import.meta.url).pathname;
const API_KEY = "cli-key-0123456789abcdef";
const OPERATOR_KEY = "cli-operator-key-0123456789abcdef";
const TOKEN = "cli-token-sandbox";

let sandbox: Sandbox;
let stack: LocalStack;
let dataDir: string;
let cwd: string;

beforeAll(async () => {
  sandbox = await startSandbox({ tokens: [TOKEN], validatingMs: 50, scheduledMs: Infinity, sendingMs: 50 });
  dataDir = mkdtempSync(join(tmpdir(), "wm-cli-stack-"));
  stack = await startLocalStack({
    DATA_DIR: dataDir,
    PASSENTRY_BASE_URL: sandbox.url,
    PASSENTRY_TOKEN: TOKEN,
    API_KEYS: `cli:${API_KEY},operator:ops:${OPERATOR_KEY}`,
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
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), "wm-cli-cwd-"));
  sandbox.reset();
});

async function cli(
  args: string[],
  env: Record<string, string | undefined> = { WALLET_API_URL: stack.url, WALLET_API_KEY: API_KEY },
) {
  const out: string[] = [];
  const err: string[] = [];
  const context: CliContext = { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, env, cwd, now: Date.now };
  const code = await runCli(args, context);
  const all = [...out, ...err].join("\n");
  expect(all, "the key is never printed").not.toContain(API_KEY);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The console's page of a request, signed in with the operator key as a person would be. */
async function consolePage(id: string): Promise<string> {
  const signIn = await fetch(`${stack.url}/console/sign-in`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: stack.url },
    body: new URLSearchParams({ key: OPERATOR_KEY }).toString(),
  });
  const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0]!;
  const page = await fetch(`${stack.url}/console/requests/${id}`, { headers: { cookie } });
  expect(page.status).toBe(200);
  return page.text();
}

const requestIdIn = (text: string) => /request ([0-9a-f-]{36})/.exec(text)?.[1] ?? "";

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(25);
  }
}

describe("cli send", () => {
  it("sends to segments now, prints the request id, and status then shows the finished batch", async () => {
    const sent = await cli([
      "send",
      "--entity",
      "ent-42",
      "--message",
      "Doors open!",
      "--segment",
      "vip",
      "--segment",
      "gold",
      "--now",
    ]);
    const id = requestIdIn(sent.out);

    await until("the batch to finish", async () => (await cli(["status", id])).out.includes("successful"));
    const status = await cli(["status", id]);

    expect(sent.code).toBe(0);
    expect(sent.out).toMatch(/^Accepted: request [0-9a-f-]{36}$/m);
    expect(sent.out).toContain(`npm run cli -- status ${id}`);
    expect(sandbox.batches().find((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }))!.body.batch).toMatchObject({
      message: "Doors open!",
      segments: [{ groupTag: "vip" }, { groupTag: "gold" }],
    });
    expect(status.code).toBe(0);
    expect(status.out).toMatch(new RegExp(`request ${id}: submitted`));
    expect(status.out).toMatch(/part 0: batch \S+, successful, 200 recipients/);
    expect(status.out).toMatch(/delivery CSV: http:\/\/127\.0\.0\.1:\d+\/files\/\S+\/delivery\.csv/);
  });

  it("sends a recipients file of 1,200 at a given time as three batches, and repeats nothing under the same idempotency key", async () => {
    writeFileSync(
      join(cwd, "members.json"),
      JSON.stringify(
        Array.from({ length: 1_200 }, (_, i) => ({ externalId: `member-${i}`, variables: { name: `Member ${i}` } })),
      ),
    );
    const args = [
      "send",
      "--entity",
      "ent-42",
      "--message",
      "Hi %{name}",
      "--recipients",
      "members.json",
      "--at",
      "2030-03-31T13:16:26Z",
      "--idempotency-key",
      "cli-order-1",
    ];

    const first = await cli(args);
    await stack.drained();
    const again = await cli(args);
    await stack.drained();

    expect(first.code).toBe(0);
    expect(first.out).toContain("scheduled for 2030-03-31T13:16:26Z");
    expect(again.code).toBe(0);
    expect(requestIdIn(again.out)).toBe(requestIdIn(first.out));
    expect(again.out).toContain("nothing new was queued");
    expect(sandbox.batches().map((b) => b.body.batch.recipients.length)).toEqual([500, 500, 200]);
    expect((await cli(["status", requestIdIn(first.out)])).out).toMatch(/parts: 3 \(3 sent, 0 pending/);
  });

  it("uses the development key npm start wrote in .data when no key is given", async () => {
    mkdirSync(join(cwd, ".data"));
    writeFileSync(join(cwd, ".data", "dev-api-key"), `${API_KEY}\n`);

    const sent = await cli(
      ["send", "--entity", "ent-42", "--message", "Hi", "--segment", "vip", "--at", "2030-03-31T13:16:26Z"],
      { WALLET_API_URL: stack.url },
    );

    expect(sent.code).toBe(0);
  });

  it.each([
    [["send", "--message", "Hi", "--segment", "vip"], /--entity is required/],
    [["send", "--entity", "e", "--segment", "vip"], /--message is required/],
    [["send", "--entity", "e", "--message", "Hi"], /either --segment .* or --recipients/],
    [
      ["send", "--entity", "e", "--message", "Hi", "--segment", "vip", "--recipients", "x.json"],
      /either --segment .* or --recipients/,
    ],
    [
      ["send", "--entity", "e", "--message", "Hi", "--segment", "vip", "--at", "2030-03-31T13:16:26Z", "--now"],
      /--at or --now, not both/,
    ],
    [["send", "--entity", "e", "--message", "Hi", "--segment", "vip", "--at", "next friday"], /scheduledAt.*ISO-8601/],
    [["send", "--entity", "e", "--message", "  ", "--segment", "vip"], /batch\.message must not be blank/],
    [
      ["send", "--entity", "e", "--message", "Hi", "--recipients", "missing.json"],
      /missing\.json could not be read \(ENOENT\)/,
    ],
    [["send", "--entity", "e", "--message", "Hi", "--segment", "vip", "--colour", "red"], /Unknown option '--colour'/],
    [["status"], /Name the request id/],
  ])("refuses %j with exit 2, naming the problem, and sends nothing", async (args, problem) => {
    const result = await cli(args as string[]);

    expect(result.code).toBe(2);
    expect(result.err).toMatch(problem);
    expect(result.err).toContain("usage: npm run cli --");
    expect(sandbox.requests()).toEqual([]);
  });

  it("prints the API's errors with exit 1 when the API refuses the request", async () => {
    const result = await cli([
      "send",
      "--entity",
      "ent-42",
      "--message",
      "Hi",
      "--segment",
      "vip",
      "--at",
      "2020-01-01T00:00:00Z",
    ]);

    expect(result.code).toBe(1);
    expect(result.err).toMatch(/The API answered 422:\n {2}- batch\.scheduledAt must lie in the future/);
  });

  it("says which key to check on a 401", async () => {
    const result = await cli(["status", "anything"], { WALLET_API_URL: stack.url, WALLET_API_KEY: "wrong-key" });

    expect(result.code).toBe(1);
    expect(result.err).toContain("The API answered 401");
    expect(result.err).toContain("Check the key");
  });

  it("says it could not reach the API when nothing listens at --url", async () => {
    const port = await closedPort();

    const result = await cli(["status", "anything", "--url", `http://127.0.0.1:${port}`]);

    expect(result.code).toBe(1);
    expect(result.err).toContain(`Could not reach http://127.0.0.1:${port} (ECONNREFUSED). Is \`npm start\` running`);
  });

  it("says there is no key when none is given or found", async () => {
    const result = await cli(["status", "anything"], { WALLET_API_URL: stack.url });

    expect(result.code).toBe(2);
    expect(result.err).toMatch(/No API key: pass --key, set WALLET_API_KEY/);
  });
});

describe("cli list and watch", () => {
  it("lists requests newest first, one line each, filtered, with the cursor of the next page", async () => {
    const older = requestIdIn(
      (
        await cli([
          "send",
          "--entity",
          "ent-list",
          "--message",
          "First",
          "--segment",
          "vip",
          "--at",
          "2030-03-31T13:16:26Z",
        ])
      ).out,
    );
    const newer = requestIdIn(
      (
        await cli([
          "send",
          "--entity",
          "ent-list",
          "--message",
          "Second",
          "--segment",
          "vip",
          "--at",
          "2030-03-31T13:16:26Z",
        ])
      ).out,
    );
    await stack.drained();

    const page = await cli(["list", "--entity", "ent-list", "--limit", "1"]);
    const cursor = /--cursor (\S+)/.exec(page.out)?.[1] ?? "";
    const rest = await cli(["list", "--entity", "ent-list", "--limit", "1", "--cursor", cursor]);
    const none = await cli(["list", "--state", "deadLettered", "--entity", "ent-list"]);

    expect(page.code).toBe(0);
    expect(page.out).toMatch(
      new RegExp(`^\\S+Z {2}${newer} {2}submitted +1/1 sent +ent-list {2}at 2030-03-31T13:16:26Z {2}Second$`, "m"),
    );
    expect(rest.out).toContain(older);
    expect(rest.out).not.toContain(newer);
    expect(none.out).toBe("No requests match.");
    expect((await cli(["list", "--state", "lost"])).err).toMatch(/The API answered 400/);
  });

  it("watches a send-now request until every batch finished, printing each change once", async () => {
    const id = requestIdIn(
      (await cli(["send", "--entity", "ent-42", "--message", "Now!", "--segment", "vip", "--now"])).out,
    );

    const watched = await cli(["watch", id, "--interval", "0.05", "--timeout", "15"]);

    expect(watched.code).toBe(0);
    expect(watched.out).toMatch(/part 0: batch \S+, successful/);
    expect(watched.out).toMatch(/Settled: every batch finished\.$/);
    const looks = watched.out.split("\n").filter((l) => l.startsWith(`request ${id}:`));
    expect(new Set(looks.map((l, i) => `${i}:${l}`)).size).toBe(looks.length);
  });

  it("stops watching a scheduled request once it waits for its time, saying how to cancel it", async () => {
    const id = requestIdIn(
      (
        await cli([
          "send",
          "--entity",
          "ent-42",
          "--message",
          "Later",
          "--segment",
          "vip",
          "--at",
          "2030-03-31T13:16:26Z",
        ])
      ).out,
    );

    const watched = await cli(["watch", id, "--interval", "0.05", "--timeout", "15"]);

    expect(watched.code).toBe(0);
    expect(watched.out).toContain(
      `Settled: it waits for its scheduled time (2030-03-31T13:16:26Z); cancel it before then with: npm run cli -- cancel ${id}.`,
    );
  });
});

describe("cli status and cancel", () => {
  it("says an --at under an hour ahead will be sent at that time until it is, and only then that it was sent", async () => {
    const at = new Date(Date.now() + 4_000).toISOString();
    const id = requestIdIn(
      (await cli(["send", "--entity", "ent-42", "--message", "Soon", "--segment", "vip", "--at", at])).out,
    );
    await until("the batch to be created ahead", async () =>
      (await cli(["status", id])).out.includes("part 0: batch "),
    );

    const before = await cli(["status", id]);
    await until("the batch to be sent at its time", async () => (await cli(["status", id])).out.includes("successful"));
    const after = await cli(["status", id]);

    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(at) - 1_000);
    expect(before.out).toContain(`entity ent-42, will be sent at ${at} (an early send`);
    expect(before.out).not.toMatch(/, sent at/);
    expect(after.out).toMatch(
      new RegExp(`entity ent-42, sent at \\S+ \\(an early send for ${at.replace(/\./g, "\\.")}\\)`),
    );
    expect(after.out).not.toContain("will be sent at");
  });

  it("says an early send's part is created at PassEntry and goes out at its time, not sent, before that time (CLI and console)", async () => {
    const at = new Date(Date.now() + 10 * 60_000).toISOString();
    const id = requestIdIn(
      (await cli(["send", "--entity", "ent-42", "--message", "Later", "--segment", "vip", "--at", at])).out,
    );
    await until("PassEntry to hold the validated batch", async () =>
      /part 0: batch \S+, scheduled for/.test((await cli(["status", id])).out),
    );

    const status = await cli(["status", id]);
    const page = await consolePage(id);

    expect(status.out).toContain(`parts: 1 (0 sent, 1 created at PassEntry, goes out at ${at}, 0 pending`);
    expect(status.out).toMatch(new RegExp(`part 0: batch \\S+, scheduled for ${at.replace(/\./g, "\\.")}`));
    expect(page).toContain(`Progress: 0 of 1 parts sent, 1 created at PassEntry, goes out at ${at}, 0 pending`);
    expect(page).toContain(`<td>scheduled for ${at}</td>`);
    expect(page).not.toContain("<td>sent</td>");
    const reads = () => sandbox.requests().filter((r) => r.method === "GET").length;
    const readsOnceValidated = reads();
    await sleep(500);

    expect(reads(), "a validated early send waits for its time without polling PassEntry").toBe(readsOnceValidated);
    expect(sandbox.requests().filter((r) => r.path.endsWith("/send-now"))).toEqual([]);
    await cli(["cancel", id]);
  });

  it("shows an early send that PassEntry refused at validation as failed before its time, never as going out", async () => {
    const at = new Date(Date.now() + 10 * 60_000).toISOString();
    const id = requestIdIn(
      (
        await cli([
          "send",
          "--entity",
          "ent-42",
          "--message",
          "Soon [[fail-validation]]",
          "--segment",
          "vip",
          "--at",
          at,
        ])
      ).out,
    );

    await until("the refusal to show", async () => (await cli(["status", id])).out.startsWith(`request ${id}: failed`));
    const status = await cli(["status", id]);
    const page = await consolePage(id);

    expect(Date.now()).toBeLessThan(Date.parse(at));
    expect(status.out).toContain(`was to be sent at ${at} (an early send, failed: see the reason below)`);
    expect(status.out).toMatch(/errors CSV: +http/);
    for (const shown of [status.out, page]) expect(shown).not.toMatch(/will be sent at|being sent now|goes out at/);
    expect(page).toContain(`was to be sent at ${at} (an early send, failed: see the reason below)`);
  });

  it("cancels a scheduled request: exit 0, and its batch ends cancelled at PassEntry", async () => {
    const id = requestIdIn(
      (
        await cli([
          "send",
          "--entity",
          "ent-42",
          "--message",
          "Sale",
          "--segment",
          "vip",
          "--at",
          "2030-03-31T13:16:26Z",
        ])
      ).out,
    );
    await stack.drained();

    const cancelled = await cli(["cancel", id]);
    await stack.drained();
    const status = await cli(["status", id]);

    expect(cancelled.code).toBe(0);
    expect(cancelled.out).toMatch(/^Cancellation recorded\.\nrequest \S+: submitted\n/);
    expect(cancelled.out).toContain("cancellation requested at");
    // By its marker: a message an earlier test left in the shared stack's queue may land first.
    expect(sandbox.batches().find((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }))!.status).toBe("cancelled");
    expect(status.out).toMatch(new RegExp(`request ${id}: cancelled`));
    expect(status.out).toContain("note: Cancelled at PassEntry before it was sent.");
  });

  it("prints the JSON document with --json", async () => {
    const id = requestIdIn(
      (
        await cli([
          "send",
          "--entity",
          "ent-42",
          "--message",
          "Sale",
          "--segment",
          "vip",
          "--at",
          "2030-03-31T13:16:26Z",
        ])
      ).out,
    );

    const result = await cli(["status", id, "--json"]);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ data: { id, type: "walletMessageRequest" } });
  });

  it("answers exit 1 for a request the API does not know", async () => {
    const result = await cli(["cancel", "no-such-request"]);

    expect(result.code).toBe(1);
    expect(result.err).toMatch(/404:\n {2}- No request has the id "no-such-request"/);
  });

  it("lists send, status and cancel in the top-level help (npm run cli)", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "local/cli.ts", "--help"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      env: { ...process.env, WALLET_API_KEY: "" },
    });

    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^ {2}send {2,}send a wallet message/m);
    expect(run.stdout).toMatch(/^ {2}status {2,}show what became of a request/m);
    expect(run.stdout).toMatch(/^ {2}cancel {2,}cancel a request/m);
  });
});
