/**
 * Section 2: how many trigger requests per second the embedded home's accept route takes, against a
 * plain Node HTTP server answering 202 on the same machine in the same run, with a check that
 * nothing was lost: every 202 is a message in the SQLite queue and nothing else was answered.
 *
 * autocannon runs in its own process (its CLI, `--json`), so the load generator does not share an
 * event loop with the server it measures. The local stack runs without workers (sends would compete
 * for the CPU) and without npm start's per-key throttle (25/s by default), which would only measure
 * the throttle.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { projectRoot } from "../test/infra/support/sst-bundle.js";
import { openSqlite } from "../functions/adapters/sqlite-database.js";
import { startLocalStack } from "../local/stack.js";
import { discardingJsonLog } from "./lib/log.js";
import { run } from "./lib/processes.js";
import { round } from "./lib/stats.js";

/** PassEntry's own example request body (README, "Try it"). */
export const PASSENTRY_EXAMPLE_BODY = {
  batch: { message: "Hello, World!", segments: [{ groupTag: "summerPromotion" }], scheduledAt: "2030-03-31T13:16:26Z" },
};
const API_KEY = "bench-key-0123456789abcdef";
const ROUTE = "/api/v1/entities/my-entity/messaging/wallet";

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  count2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: string[];
}

export interface ThroughputResult {
  connections: number;
  seconds: number;
  baseline: LoadResult;
  /** A plain Node server doing one durable SQLite insert per request: the fair baseline for a door that keeps what it accepts. */
  durable: LoadResult;
  ours: LoadResult;
  ratio: number;
  durableRatio: number;
  /** Messages that reached the queue during the measured run. */
  queued: number;
  /** 202 answers with no queued message behind them. */
  lost: number;
  /** Queued requests whose answer autocannon did not count (in flight when it stopped). */
  answeredAfterCutoff: number;
  goalMet: boolean;
}

async function autocannon(
  url: string,
  connections: number,
  seconds: number,
  headers: Record<string, string>,
): Promise<LoadResult> {
  const args = [
    path.join(projectRoot, "node_modules/autocannon/autocannon.js"),
    "-c",
    String(connections),
    "-d",
    String(seconds),
    "-m",
    "POST",
    "-n",
    "--json",
    "-b",
    JSON.stringify(PASSENTRY_EXAMPLE_BODY),
  ];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}=${value}`);
  args.push(url);
  const result = await run(process.execPath, args, {
    env: { PATH: process.env.PATH },
    timeoutMs: (seconds + 30) * 1000,
  });
  if (result.code !== 0)
    throw new Error(`autocannon failed (exit ${String(result.code)}): ${result.stderr.slice(-500)}`);
  const json = JSON.parse(result.stdout.slice(result.stdout.indexOf("{"))) as Record<string, any>;
  return {
    requestsPerSecond: json.requests.average,
    p50Ms: json.latency.p50,
    p99Ms: json.latency.p99,
    count2xx: json["2xx"],
    non2xx: json.non2xx,
    errors: json.errors,
    timeouts: json.timeouts,
    statusCodes: Object.keys(json.statusCodeStats ?? {}),
  };
}

/** A few hundred requests first, so neither server is measured while its code is still being compiled. */
async function warmUp(url: string, headers: Record<string, string>, count = 300, concurrency = 10): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const answer = await fetch(url, { method: "POST", headers, body: JSON.stringify(PASSENTRY_EXAMPLE_BODY) });
        await answer.arrayBuffer();
      }
    }),
  );
}

/**
 * A baseline: Node's HTTP server reading the body and answering 202 with a small JSON document;
 * with `durable`, first inserting the body into a SQLite table (same settings as the local home's
 * database), i.e. the least any server that keeps what it accepted must do.
 */
async function startBaselineServer(durable?: {
  dataDir: string;
}): Promise<{ url: string; close: () => Promise<void> }> {
  const db = durable ? openSqlite(path.join(durable.dataDir, "baseline.db")) : undefined;
  db?.exec("CREATE TABLE IF NOT EXISTS accepted (id TEXT PRIMARY KEY, body TEXT NOT NULL)");
  const insert = db?.prepare("INSERT INTO accepted (id, body) VALUES (?, ?)");
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const id = randomUUID();
      insert?.run(id, Buffer.concat(chunks).toString("utf8"));
      const body = JSON.stringify({ data: { id, type: "walletMessageRequest", attributes: { status: "queued" } } });
      res.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          db?.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

export async function measureThroughput(options: {
  connections: number;
  seconds: number;
  workDir: string;
  log: (line: string) => void;
}): Promise<ThroughputResult> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${API_KEY}` };

  const baselineServer = await startBaselineServer();
  let baseline: LoadResult;
  try {
    await warmUp(baselineServer.url + ROUTE, headers);
    baseline = await autocannon(baselineServer.url + ROUTE, options.connections, options.seconds, headers);
  } finally {
    await baselineServer.close();
  }
  options.log(`  baseline: ${Math.round(baseline.requestsPerSecond)} req/s`);

  const durableDir = mkdtempSync(path.join(options.workDir, "baseline-data-"));
  const durableServer = await startBaselineServer({ dataDir: durableDir });
  let durable: LoadResult;
  try {
    await warmUp(durableServer.url + ROUTE, headers);
    durable = await autocannon(durableServer.url + ROUTE, options.connections, options.seconds, headers);
  } finally {
    await durableServer.close();
    rmSync(durableDir, { recursive: true, force: true });
  }
  options.log(`  baseline with one durable SQLite insert: ${Math.round(durable.requestsPerSecond)} req/s`);

  const dataDir = mkdtempSync(path.join(options.workDir, "accept-data-"));
  const stack = await startLocalStack({
    DATA_DIR: dataDir,
    // Workers are off: nothing is sent, so no PassEntry is needed.
    PASSENTRY_BASE_URL: "http://127.0.0.1:9",
    PASSENTRY_TOKEN: "unused",
    API_KEYS: `bench:${API_KEY}`,
    log: discardingJsonLog(),
    startWorkers: false,
  });
  let ours: LoadResult;
  let queued: number;
  try {
    await warmUp(stack.url + ROUTE, headers);
    const before = stack.queue.peek().length;
    ours = await autocannon(stack.url + ROUTE, options.connections, options.seconds, headers);
    // Answers cut off by autocannon's stop are still being handled: let them land before counting.
    await new Promise((resolve) => setTimeout(resolve, 500));
    queued = stack.queue.peek().length - before;
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const lost = Math.max(0, ours.count2xx - queued);
  const ratio = round(ours.requestsPerSecond / baseline.requestsPerSecond, 3);
  const durableRatio = round(ours.requestsPerSecond / durable.requestsPerSecond, 3);
  return {
    connections: options.connections,
    seconds: options.seconds,
    baseline,
    durable,
    ours,
    ratio,
    durableRatio,
    queued,
    lost,
    answeredAfterCutoff: Math.max(0, queued - ours.count2xx),
    goalMet: durableRatio >= 0.5 && lost === 0 && ours.non2xx === 0 && ours.errors === 0,
  };
}
