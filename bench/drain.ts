/**
 * Section 3 (issue 4's measure): 1,000 requests accepted over HTTP by the embedded home with its
 * workers off, then the workers on against the PassEntry sandbox enforcing PassEntry's 10 per
 * second, until every accepted request has its batch. Reports the sustained send rate (batches created per second, first to last), the 429s
 * PassEntry answered, duplicates (batches per request whose `[wm:<requestId>:0:<POST time>]` marker names part 0, above one) and lost
 * requests (accepted, no batch). Also the process CPU used while draining, as a cross-check of the
 * cost section (it includes the sandbox, which shares this process).
 */
import { acceptBurst } from "./lib/accept.js";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { parseBatchMarker } from "../functions/core/batch-rules.js";
import { startSandbox } from "../local/passentry-sandbox/sandbox.js";
import { startLocalStack } from "../local/stack.js";
import { discardingJsonLog } from "./lib/log.js";
import { round } from "./lib/stats.js";
import { PASSENTRY_EXAMPLE_BODY } from "./throughput.js";

const API_KEY = "bench-drain-key-0123456789";
const TOKEN = "bench-drain-token";
/** The request id of a batch's first part, from the marker our sender puts at the start of its name. */
const markedRequest = (name: string) => {
  const marker = parseBatchMarker(name);
  return marker?.chunk === 0 ? marker.requestId : undefined;
};

export interface DrainResult {
  requests: number;
  accepted: number;
  refused: number;
  acceptSeconds: number;
  batches: number;
  drainSeconds: number;
  /** (batches - 1) / seconds from the first creation to the last. */
  sendsPerSecond: number;
  /** Most batches created within any 1,000 ms. */
  peakPerSecond: number;
  vsLimit: number;
  vsTarget: number;
  count429: number;
  duplicates: number;
  lost: number;
  deadLettered: number;
  /** True when some accepted request still had no batch after the time allowed. */
  timedOut: boolean;
  /** Whole-process CPU (stack, workers, SQLite queue and the in-process sandbox) per message. */
  processCpuMsPerMessage: number;
  goalMet: boolean;
}

export async function measureDrain(options: {
  requests: number;
  workDir: string;
  timeoutSeconds: number;
  log: (line: string) => void;
}): Promise<DrainResult> {
  const sandbox = await startSandbox({ tokens: [TOKEN], rateLimitPerSecond: 10 });
  const dataDir = mkdtempSync(path.join(options.workDir, "drain-data-"));
  const stack = await startLocalStack({
    DATA_DIR: dataDir,
    PASSENTRY_BASE_URL: sandbox.url,
    PASSENTRY_TOKEN: TOKEN,
    API_KEYS: `bench:${API_KEY}`,
    log: discardingJsonLog(),
    startWorkers: false,
  });
  try {
    // Accept everything first, so the drain measures the sender alone.
    const {
      ids,
      refused,
      seconds: acceptSeconds,
    } = await acceptBurst({
      url: stack.url,
      apiKey: API_KEY,
      entityId: "my-entity",
      count: options.requests,
      bodyOf: () => PASSENTRY_EXAMPLE_BODY,
    });
    options.log(`  accepted ${ids.length} requests in ${acceptSeconds.toFixed(1)} s; draining at PassEntry's pace…`);

    const cpuBefore = process.cpuUsage();
    const drainStarted = performance.now();
    stack.runner.start();
    const progress = setInterval(
      () => options.log(`  drain: ${sandbox.batches().length}/${ids.length} batches created`),
      30_000,
    );
    // Done when every accepted request has its batch. Not when the queue is empty: after each batch
    // the sender leaves itself follow-ups (tracking the batch) that stay queued, delayed, for long.
    const waiting = new Set(ids);
    let seen = 0;
    const deadline = drainStarted + options.timeoutSeconds * 1000;
    try {
      while (waiting.size > 0 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const batches = sandbox.batches();
        for (const batch of batches.slice(seen)) {
          const id = markedRequest(batch.name);
          if (id) waiting.delete(id);
        }
        seen = batches.length;
      }
    } finally {
      clearInterval(progress);
    }
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const timedOut = waiting.size > 0;
    // A second more, and the workers stopped, so a duplicate still in flight would be counted too.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await stack.runner.stop();

    const batches = sandbox.batches();
    const created = batches.map((b) => Date.parse(b.createdAt)).sort((a, b) => a - b);
    const spanSeconds = created.length > 1 ? (created[created.length - 1]! - created[0]!) / 1000 : 0;
    const sendsPerSecond = spanSeconds > 0 ? (created.length - 1) / spanSeconds : 0;
    let peakPerSecond = 0;
    for (let start = 0, end = 0; end < created.length; end++) {
      while (created[end]! - created[start]! >= 1000) start++;
      peakPerSecond = Math.max(peakPerSecond, end - start + 1);
    }
    const perMarker = new Map<string, number>();
    for (const batch of batches) {
      const id = markedRequest(batch.name);
      if (id) perMarker.set(id, (perMarker.get(id) ?? 0) + 1);
    }
    const duplicates = [...perMarker.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
    const lost = ids.filter((id) => !perMarker.has(id)).length;
    const count429 = sandbox.count429();
    const result: DrainResult = {
      requests: options.requests,
      accepted: ids.length,
      refused,
      acceptSeconds: round(acceptSeconds, 2),
      batches: batches.length,
      drainSeconds: round(drainSeconds, 1),
      sendsPerSecond: round(sendsPerSecond, 2),
      peakPerSecond,
      vsLimit: round(sendsPerSecond / 10, 3),
      vsTarget: round(sendsPerSecond / 9, 3),
      count429,
      duplicates,
      lost,
      deadLettered: stack.queue.depth().dead,
      timedOut,
      processCpuMsPerMessage: round((cpu.user + cpu.system) / 1000 / Math.max(1, batches.length), 3),
      goalMet: false,
    };
    result.goalMet =
      !timedOut && result.sendsPerSecond >= 8.5 && count429 === 0 && duplicates === 0 && lost === 0 && refused === 0;
    return result;
  } finally {
    await stack.stop();
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
