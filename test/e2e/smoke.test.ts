/**
 * `npm run smoke` against a running stage. AWS cannot be reached here, so the stage is the local
 * stack (`npm start`'s pipeline on loopback, with the PassEntry sandbox) and CloudWatch is a
 * loopback server answering DescribeAlarms in CloudWatch's own wire protocol to the real SDK client:
 * every verdict is read from what the smoke did, and what the sandbox received is counted.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { main, runSmoke, stageWatching, type SmokeOptions } from "../../local/smoke.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";

const KEY = "smoke-operator-key-0123456789";

/** CloudWatch's DescribeAlarms over JSON 1.0, as the SDK speaks it: the alarms given, filtered by prefix. */
async function startCloudWatch(
  alarms: {
    AlarmName: string;
    StateValue: string;
    StateReason?: string;
    Dimensions?: { Name: string; Value: string }[];
  }[],
) {
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      calls.push(target);
      const input = JSON.parse(body || "{}") as { AlarmNamePrefix?: string };
      res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
      res.end(
        JSON.stringify({ MetricAlarms: alarms.filter((a) => a.AlarmName.startsWith(input.AlarmNamePrefix ?? "")) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    calls,
    client: new CloudWatchClient({
      endpoint: url,
      region: "eu-west-2",
      credentials: { accessKeyId: "AKIASMOKE", secretAccessKey: "smoke" },
      maxAttempts: 1,
    }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("npm run smoke against a running stage", () => {
  let sandbox: Sandbox;
  let stack: LocalStack;
  let dataDir: string;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    // Batches stay `scheduled` until sent now or cancelled, as a batch ~300 days ahead does at PassEntry.
    sandbox = await startSandbox({ tokens: ["smoke-token"], validatingMs: 100, scheduledMs: Infinity });
    dataDir = mkdtempSync(join(tmpdir(), "wm-smoke-"));
    stack = await startLocalStack({
      DATA_DIR: dataDir,
      PASSENTRY_BASE_URL: sandbox.url,
      PASSENTRY_TOKEN: "smoke-token",
      API_KEYS: `ops:${KEY}`,
      log: new MemoryLog(),
      idlePollMs: 20,
    });
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    await stack?.stop();
    await sandbox?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const options = (overrides: Partial<SmokeOptions>): SmokeOptions => ({
    url: stack.url,
    key: KEY,
    stage: "production",
    region: "eu-west-2",
    entity: "smoke-entity",
    groupTag: "wallet-messaging-smoke-test",
    timeoutMs: 20_000,
    skipAlarms: false,
    pollMs: 100,
    ...overrides,
  });

  it("passes every step on a healthy stage: the request reaches PassEntry scheduled ~300 days ahead, is cancelled there, and no alarm fires", async () => {
    const cloudWatch = await startCloudWatch([
      { AlarmName: "wallet-messaging-production-SenderErrors", StateValue: "OK" },
      { AlarmName: "wallet-messaging-production-Api5xx", StateValue: "INSUFFICIENT_DATA" },
      { AlarmName: "wallet-messaging-staging-SenderErrors", StateValue: "ALARM" },
    ]);
    closers.push(cloudWatch.close);
    const before = sandbox.batches().length;

    const results = await runSmoke(options({ cloudWatch: cloudWatch.client }));

    expect(results.map((r) => [r.step, r.verdict])).toEqual([
      ["health", "PASS"],
      ["request", "PASS"],
      ["status", "PASS"],
      ["cancel", "PASS"],
      ["alarms", "PASS"],
    ]);
    const created = sandbox.batches().slice(before);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ entityId: "smoke-entity", status: "cancelled" });
    expect(created[0]!.body.batch.segments).toEqual([{ groupTag: "wallet-messaging-smoke-test" }]);
    expect(Date.parse(created[0]!.scheduledAt) - Date.now()).toBeGreaterThan(299 * 24 * 3_600_000);
    expect(results.at(-1)!.detail).toBe("2 alarms in eu-west-2, none in ALARM (1 without data yet, as new alarms are)");
    expect(cloudWatch.calls).toEqual(["GraniteServiceVersion20100801.DescribeAlarms"]);
  });

  it("fails the alarms step naming each alarm in ALARM", async () => {
    const cloudWatch = await startCloudWatch([
      {
        AlarmName: "wallet-messaging-production-DeadLetterQueueNotEmpty",
        StateValue: "ALARM",
        StateReason: "Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0)",
      },
      { AlarmName: "wallet-messaging-production-SenderErrors", StateValue: "OK" },
    ]);
    closers.push(cloudWatch.close);

    const results = await runSmoke(options({ cloudWatch: cloudWatch.client }));

    expect(results.find((r) => r.step === "alarms")).toEqual({
      step: "alarms",
      verdict: "FAIL",
      detail:
        "1 of 2 in ALARM: DeadLetterQueueNotEmpty (Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0))",
    });
  });

  it("fails plainly with a key the stage refuses, and sends nothing to PassEntry", async () => {
    const before = sandbox.batches().length;
    const lines: string[] = [];

    const code = await main(["--url", stack.url, "--key", "not-a-key", "--skip-alarms", "--timeout", "5"], {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
    });

    expect(code).toBe(1);
    expect(lines[0]).toMatch(/^PASS {2}health /);
    expect(lines[1]).toMatch(/^FAIL {2}request {2}answered 401: /);
    expect(lines.slice(2, 5).map((l) => l.slice(0, 4))).toEqual(["SKIP", "SKIP", "SKIP"]);
    expect(lines.at(-1)).toBe("1 step(s) failed: the stage is not healthy.");
    expect(sandbox.batches()).toHaveLength(before);
  });

  it("finds the stage of an API Gateway URL by the Api5xx alarm that watches its API", async () => {
    const cloudWatch = await startCloudWatch([
      {
        AlarmName: "wallet-messaging-staging-Api5xx",
        StateValue: "OK",
        Dimensions: [{ Name: "ApiId", Value: "other1" }],
      },
      {
        AlarmName: "wallet-messaging-pr-42-Api5xx",
        StateValue: "OK",
        Dimensions: [{ Name: "ApiId", Value: "ab82904609" }],
      },
    ]);
    closers.push(cloudWatch.close);

    expect(await stageWatching(cloudWatch.client, "ab82904609")).toBe("pr-42");
    expect(await stageWatching(cloudWatch.client, "unknown")).toBeUndefined();
  });

  it("refuses to run without the URL or the key, saying what it needs", async () => {
    const lines: string[] = [];

    const code = await main(["--url", stack.url], { out: (l) => lines.push(l), err: (l) => lines.push(l) });

    expect(code).toBe(2);
    expect(lines[0]).toMatch(/^--url and --key are required: the stage's ApiUrl and an operator key\./);
  });
});
