/**
 * `npm run bench`: the project's performance figures, each a ratio against a baseline measured in
 * the same run on the same machine (these machines are shared and noisy, so absolute numbers from
 * another day mean little). Prints markdown tables and writes bench/results.json (git-ignored).
 *
 *   1. cold start and bundle size of every Lambda, vs a bare handler (floor) and a naive one
 *   2. accept throughput of the embedded home, vs a plain Node HTTP server answering 202
 *   3. drain of 1,000 queued requests against the sandbox's 10/s, vs the 10/s limit and 9/s target
 *   4. the sender's CPU and billed GB-seconds per message
 *   5. shared batches: 10,000 one-recipient requests drained with sharing on, vs 300 with it off
 *
 * Knobs (environment, defaults in brackets): BENCH_COLD_RUNS (15), BENCH_PROBE_RUNS (8; 0 skips the
 * per-dependency cold starts), BENCH_LOAD_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_DRAIN_REQUESTS
 * (1000), BENCH_COST_BATCHES (4), BENCH_SHARED_REQUESTS (10000), BENCH_ALONE_REQUESTS (300), BENCH_ONLY
 * (cold,throughput,drain,cost,shared), BENCH_DEADLINE_SECONDS (1200). Loopback only; every server and child it starts is stopped, and a watchdog ends the run,
 * with its children, at the deadline. docs/performance.md explains the method and the results.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { functions, RUNTIME } from "../infra/manifest.js";
import { measureColdStarts, type ColdStartResult } from "./cold-start.js";
import { measureCost, type CostResult } from "./cost.js";
import { measureDrain, type DrainResult } from "./drain.js";
import { measureSharedDrain, type SharedDrainResult } from "./shared-drain.js";
import { bundleEntry } from "./lib/bundle.js";
import { killChildren } from "./lib/processes.js";
import { fixed, kb, ratio, table, verdict } from "./lib/report.js";
import { measureThroughput, type ThroughputResult } from "./throughput.js";

const RESULTS_FILE = fileURLToPath(new URL("./results.json", import.meta.url));
const numberFrom = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const settings = {
  coldRuns: numberFrom("BENCH_COLD_RUNS", 15),
  probeRuns: process.env.BENCH_PROBE_RUNS === "0" ? 0 : numberFrom("BENCH_PROBE_RUNS", 8),
  loadSeconds: numberFrom("BENCH_LOAD_SECONDS", 10),
  connections: numberFrom("BENCH_CONNECTIONS", 50),
  drainRequests: numberFrom("BENCH_DRAIN_REQUESTS", 1000),
  costBatches: numberFrom("BENCH_COST_BATCHES", 4),
  sharedRequests: numberFrom("BENCH_SHARED_REQUESTS", 10_000),
  aloneRequests: numberFrom("BENCH_ALONE_REQUESTS", 300),
  deadlineSeconds: numberFrom("BENCH_DEADLINE_SECONDS", 1_200),
};
const only = new Set((process.env.BENCH_ONLY ?? "cold,throughput,drain,cost,shared").split(",").map((s) => s.trim()));

const started = performance.now();
const log = (line: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

function machine() {
  const cpuModel = (
    /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ??
    os.cpus()[0]?.model ??
    "unknown"
  ).trim();
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  } catch {
    // nproc is coreutils; availableParallelism() is the same number where it is missing.
  }
  return {
    nproc,
    cpuModel,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

function coldStartTable(cold: ColdStartResult): string {
  const rows = cold.rows
    .filter((r) => r.group !== "probe")
    .map((r) => [
      r.group === "baseline" ? `(${r.label})` : r.label,
      r.memoryMb,
      kb(r.bytes),
      kb(r.gzipBytes),
      fixed(r.totalMs),
      fixed(r.totalP90Ms),
      fixed(r.importMs),
      fixed(r.invokeMs),
      fixed(r.maxRssMb),
      r.id === "floor" ? undefined : ratio(r.vsFloor),
      r.naive ? `${ratio(r.vsNaive) ?? "–"} (${r.naive})` : undefined,
      ratio(r.memoryVsNaive),
      r.error ? `ERROR` : r.group === "baseline" ? "" : verdict(r.goalMet),
    ]);
  return table(
    [
      "function",
      "MB",
      "bundle KB",
      "gzip KB",
      "cold ms p50",
      "p90",
      "import ms",
      "1st invoke ms",
      "max RSS MB",
      "× floor",
      "× naive",
      "RSS × naive",
      "goal",
    ],
    rows,
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l", "r", "l"],
  );
}

function probeTable(cold: ColdStartResult): string {
  const rows = cold.rows
    .filter((r) => r.group === "probe" || r.id === "floor")
    .map((r) => [
      r.group === "probe" ? r.label : `(${r.label})`,
      kb(r.bytes),
      kb(r.gzipBytes),
      fixed(r.totalMs),
      r.id === "floor" ? undefined : ratio(r.vsFloor),
      fixed(r.importMs),
      fixed(r.invokeMs),
      fixed(r.maxRssMb),
      r.error ? "ERROR" : "",
    ]);
  return table(
    [
      "one dependency alone",
      "bundle KB",
      "gzip KB",
      "cold ms p50",
      "× floor",
      "import ms",
      "1st invoke ms",
      "max RSS MB",
      "",
    ],
    rows,
    ["l", "r", "r", "r", "r", "r", "r", "r", "l"],
  );
}

function compositionLines(cold: ColdStartResult): string[] {
  return cold.rows
    .filter((r) => r.group === "function" && r.composition)
    .map(
      (r) =>
        `- ${r.label}: ${r
          .composition!.slice(0, 6)
          .map((c) => `${c.origin} ${kb(c.bytes)} KB`)
          .join(", ")}`,
    );
}

function throughputTable(t: ThroughputResult): string {
  return table(
    [
      "server",
      "req/s",
      "p50 ms",
      "p99 ms",
      "2xx",
      "non-2xx",
      "errors",
      "queued",
      "lost",
      "× plain 202",
      "× durable insert",
      "goal ≥ 0.5× durable, none lost",
    ],
    [
      [
        "(plain Node 202)",
        Math.round(t.baseline.requestsPerSecond),
        t.baseline.p50Ms,
        t.baseline.p99Ms,
        t.baseline.count2xx,
        t.baseline.non2xx,
        t.baseline.errors + t.baseline.timeouts,
        undefined,
        undefined,
        "1.00×",
        undefined,
        "",
      ],
      [
        "(plain Node + 1 SQLite insert)",
        Math.round(t.durable.requestsPerSecond),
        t.durable.p50Ms,
        t.durable.p99Ms,
        t.durable.count2xx,
        t.durable.non2xx,
        t.durable.errors + t.durable.timeouts,
        undefined,
        undefined,
        ratio(t.durable.requestsPerSecond / t.baseline.requestsPerSecond),
        "1.00×",
        "",
      ],
      [
        "local accept route",
        Math.round(t.ours.requestsPerSecond),
        t.ours.p50Ms,
        t.ours.p99Ms,
        t.ours.count2xx,
        t.ours.non2xx,
        t.ours.errors + t.ours.timeouts,
        t.queued,
        t.lost,
        ratio(t.ratio),
        ratio(t.durableRatio),
        verdict(t.goalMet),
      ],
    ],
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"],
  );
}

function drainTable(d: DrainResult): string {
  return table(
    [
      "requests",
      "batches",
      "drain s",
      "sends/s",
      "peak in 1 s",
      "× 10/s limit",
      "× 9/s target",
      "429s",
      "duplicates",
      "lost",
      "dead-lettered",
      "goal",
    ],
    [
      [
        d.accepted,
        d.batches,
        d.drainSeconds,
        fixed(d.sendsPerSecond, 2),
        d.peakPerSecond,
        ratio(d.vsLimit),
        ratio(d.vsTarget),
        d.count429,
        d.duplicates,
        d.lost,
        d.deadLettered,
        verdict(d.goalMet),
      ],
    ],
    ["r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"],
  );
}

function costTable(c: CostResult): string {
  return table(
    ["sender", "value", "formula"],
    [
      ["messages measured (warm)", c.messages, `${c.failures} failed`],
      ["CPU per message", `${fixed(c.cpuMsPerMessage, 2)} ms`, "process.cpuUsage() over warm batches ÷ messages"],
      ["GB-s per million (CPU only)", c.cpuGbSecondsPerMillion.toLocaleString("en-US"), c.cpuFormula],
      [
        "wall per message, paced",
        `${fixed(c.wallMsPerMessage, 1)} ms`,
        `${c.ratePerSecond}/s per worker (PASSENTRY_RATE_PER_SECOND), instant PassEntry`,
      ],
      ["GB-s per million (billed, est.)", c.billedGbSecondsPerMillion.toLocaleString("en-US"), c.billedFormula],
      [
        "AWS calls per message",
        fixed(
          Object.values(c.awsCallsPerMessage).reduce((sum, n) => sum + n, 0),
          1,
        ),
        Object.entries(c.awsCallsPerMessage)
          .map(([operation, n]) => `${operation} ${n}`)
          .join(", "),
      ],
    ],
  );
}

/** Bundles, temp DATA_DIRs and homes of this run; removed at the end, whichever way the run ends. */
const workDir = mkdtempSync(path.join(os.tmpdir(), "wallet-messaging-bench-"));
const removeWorkDir = () => rmSync(workDir, { recursive: true, force: true });

function sharedTable(result: SharedDrainResult): string {
  const rows = [result.alone, result.shared].map((r) => [
    r.shareBatches ? "shared" : "alone",
    r.requests,
    fixed(r.acceptSeconds),
    fixed(r.drainSeconds),
    fixed(r.recipientsPerSecond, 1),
    r.calls,
    fixed(r.fillRatio, 3),
    r.count429,
    r.duplicates,
    r.lost,
    r.timedOut ? "TIMED OUT" : "",
  ]);
  return table(
    [
      "batches",
      "requests",
      "accept s",
      "drain s",
      "recipients/s",
      "PassEntry calls",
      "fill",
      "429s",
      "duplicates",
      "lost",
      "",
    ],
    rows,
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"],
  );
}

async function main(): Promise<number> {
  const results: Record<string, unknown> = { startedAt: new Date().toISOString(), machine: machine(), settings };
  let cold: ColdStartResult | undefined;
  let throughput: ThroughputResult | undefined;
  let drain: DrainResult | undefined;
  let cost: CostResult | undefined;
  let shared: SharedDrainResult | undefined;
  const failures: string[] = [];
  const attempt = async <T>(name: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`);
      log(`${name} FAILED: ${(error as Error).stack ?? String(error)}`);
      return undefined;
    }
  };
  try {
    if (only.has("cold")) {
      log(`1/5 cold starts: ${settings.coldRuns} interleaved runs of each bundle in fresh node processes`);
      cold = await attempt("cold start", () =>
        measureColdStarts({ runs: settings.coldRuns, probeRuns: settings.probeRuns, workDir, log }),
      );
    }
    if (only.has("throughput")) {
      log(
        `2/5 accept throughput: autocannon, ${settings.connections} connections, ${settings.loadSeconds} s per server`,
      );
      throughput = await attempt("throughput", () =>
        measureThroughput({ connections: settings.connections, seconds: settings.loadSeconds, workDir, log }),
      );
    }
    if (only.has("drain")) {
      log(`3/5 drain: ${settings.drainRequests} requests against the sandbox's 10/s limit`);
      // Time enough at 6/s (the goal is 8.5/s): a slower drain is reported as timed out, not waited for.
      drain = await attempt("drain", () =>
        measureDrain({
          requests: settings.drainRequests,
          timeoutSeconds: Math.ceil(settings.drainRequests / 6) + 20,
          workDir,
          log,
        }),
      );
    }
    if (only.has("cost")) {
      log(`4/5 sender cost: ${settings.costBatches} warm batches of 10`);
      cost = await attempt("cost", async () => {
        const senderBundle =
          cold?.senderBundle ??
          (await bundleEntry("functions/handlers/sender.ts", path.join(workDir, "cost-sender"), RUNTIME)).file;
        return measureCost({ senderBundle, batches: settings.costBatches, records: 10, workDir });
      });
    }
    if (only.has("shared")) {
      log(
        `5/5 shared batches: ${settings.sharedRequests} one-recipient requests shared, ${settings.aloneRequests} alone, against the sandbox's 10/s`,
      );
      shared = await attempt("shared", () =>
        measureSharedDrain({
          sharedRequests: settings.sharedRequests,
          aloneRequests: settings.aloneRequests,
          workDir,
          log,
        }),
      );
    }
  } finally {
    removeWorkDir();
  }

  const m = results.machine as ReturnType<typeof machine>;
  const out: string[] = [];
  const loadAtEnd = os.loadavg().map((l) => l.toFixed(2));
  out.push(
    `\nwallet-messaging bench — ${m.nproc} × ${m.cpuModel}, node ${m.node}, ${m.platform}, ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  out.push(
    `load average (1/5/15 min) at start ${m.loadAverageAtStart.join(" / ")}, at end ${loadAtEnd.join(" / ")}: above ${m.nproc} means other work shared these cores.`,
  );
  if (cold) {
    out.push(
      `\n## 1. Cold start (import + first invocation in a fresh node process; median of ${cold.runsPerVariant} interleaved runs; bundles built with SST's esbuild settings for ${cold.runtimeTarget})\n`,
    );
    out.push(coldStartTable(cold));
    out.push(
      `\ngoal: each handler ≤ 1.8× the floor's time and < 0.8× the naive handler's. "cold ms" is process start to the handler's answer.`,
    );
    if (cold.rows.some((r) => r.group === "probe")) {
      out.push(
        `\n### 1b. What each dependency costs alone (same runner, median of ${cold.runsPerProbe} runs interleaved with the above; the floor again for reference)\n`,
      );
      out.push(probeTable(cold));
    }
    out.push(`\nLargest parts of each function's minified bundle:`);
    out.push(...compositionLines(cold));
    if (cold.missing.length > 0)
      out.push(`not measured (in infra/manifest.ts, no handler file yet): ${cold.missing.join(", ")}`);
    if (cold.unanswered.length > 0)
      out.push(
        `WARNING: the AWS stub had no answer for ${cold.unanswered.join(", ")}; those calls failed and the figures above took that error path.`,
      );
    for (const r of cold.rows.filter((r) => r.error)) out.push(`error in ${r.id}: ${r.error}`);
  }
  if (throughput) {
    out.push(
      `\n## 2. Accept throughput (local stack, workers off; autocannon ${throughput.connections} connections × ${throughput.seconds} s; PassEntry's example body)\n`,
    );
    out.push(throughputTable(throughput));
    out.push(
      `\nqueued counts messages in the SQLite queue after the run; ${throughput.answeredAfterCutoff} were queued but answered after autocannon stopped counting.`,
    );
  }
  if (drain) {
    out.push(
      `\n## 3. Drain (${drain.accepted} accepted over HTTP in ${drain.acceptSeconds} s, then 2 workers on; sandbox enforces 10/s; goal ≥ 8.5/s, no 429, no duplicate, none lost)\n`,
    );
    out.push(drainTable(drain));
    if (drain.timedOut)
      out.push(`\nTIMED OUT: ${drain.lost} accepted requests had no batch when the time allowed ran out.`);
    out.push(
      `\nsends/s = (batches − 1) ÷ seconds from the first batch's creation to the last's. Whole-process CPU while draining (workers, SQLite queue and the in-process sandbox): ${drain.processCpuMsPerMessage} ms per message.`,
    );
  }
  if (cost) {
    out.push(
      `\n## 4. Cost per message (sender bundle, ${cost.memoryMb} MB from infra/manifest.ts; every AWS call on the loopback stub)\n`,
    );
    out.push(costTable(cost));
    out.push(
      `\nLambda bills wall time, not CPU: the sender waits on its pacer (${cost.ratePerSecond}/s per worker) and on PassEntry, so billed duration is about ${fixed(cost.wallMsPerMessage / Math.max(cost.cpuMsPerMessage, 0.001), 0)}× the CPU figure; a PassEntry slower than the pacing interval adds its latency per message.`,
    );
  }
  if (shared) {
    out.push(
      `\n## 5. Shared batches (one-recipient requests, one template, distinct passes with variables; accepted over HTTP with the workers off, then drained; sandbox enforces 10 calls/s)\n`,
    );
    out.push(sharedTable(shared));
    out.push(
      `\nrecipients/s = recipients reached ÷ seconds from the start of the drain to the last batch's creation; fill = recipients per batch ÷ 500. goal: ≥ 2,000 recipients/s shared, ≥ 200× the figure alone, no 429, no duplicate, none lost: ${verdict(shared.goalMet)} (${ratio(shared.ratio)} alone's rate).`,
    );
  }
  if (failures.length > 0) out.push(`\nFAILED sections:\n${failures.map((f) => `- ${f}`).join("\n")}`);
  process.stdout.write(`${out.join("\n")}\n`);

  Object.assign(results, {
    durationSeconds: Math.round((performance.now() - started) / 1000),
    coldStart: cold,
    throughput,
    drain,
    cost,
    shared,
    failures,
    functions: Object.keys(functions),
  });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  log(`results written to ${path.relative(process.cwd(), RESULTS_FILE)}`);
  return failures.length > 0 ? 1 : 0;
}

const watchdog = setTimeout(() => {
  log(`the bench ran past ${settings.deadlineSeconds} s; stopping it and its child processes`);
  killChildren();
  removeWorkDir();
  process.exit(2);
}, settings.deadlineSeconds * 1000);
watchdog.unref();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killChildren();
    removeWorkDir();
    process.exit(130);
  });
}

main().then(
  (code) => {
    clearTimeout(watchdog);
    // Every server has been closed; exiting explicitly also ends idle keep-alive sockets of fetch's pool.
    process.exit(code);
  },
  (error: unknown) => {
    log(`bench failed: ${(error as Error).stack ?? String(error)}`);
    killChildren();
    removeWorkDir();
    process.exit(1);
  },
);
