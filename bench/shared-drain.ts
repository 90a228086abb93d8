/**
 * Section 5 (issue 14's measure): one-recipient requests with one message template and distinct
 * passes (each with its own variables), accepted over HTTP by the embedded home with its workers
 * off, then drained against the sandbox enforcing PassEntry's 10 calls per second, with shared
 * batches on (10,000 requests) and, in the same run, off (1,000 requests suffice). Reports
 * recipients per second (first batch to last), PassEntry calls, how full the batches were, 429s,
 * duplicates (a pass reached more than once) and lost requests (a pass never reached).
 */
import { acceptBurst } from "./lib/accept.js";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { startSandbox } from "../local/passentry-sandbox/sandbox.js";
import { startLocalStack } from "../local/stack.js";
import { discardingJsonLog } from "./lib/log.js";
import { round } from "./lib/stats.js";

const API_KEY = "bench-shared-key-0123456789";
const TOKEN = "bench-shared-token";
const TEMPLATE = { message: "Welcome %{name}, your seat is %{seat}", scheduledAt: "2030-03-31T13:16:26Z" };

export interface SharedDrainRun {
  shareBatches: boolean;
  requests: number;
  acceptSeconds: number;
  drainSeconds: number;
  /** Recipients reached ÷ seconds from the start of the drain to the last batch's creation. */
  recipientsPerSecond: number;
  calls: number;
  /** Recipients per batch ÷ 500. */
  fillRatio: number;
  count429: number;
  duplicates: number;
  lost: number;
  timedOut: boolean;
}

export interface SharedDrainResult {
  shared: SharedDrainRun;
  alone: SharedDrainRun;
  /** Shared recipients per second ÷ unshared. */
  ratio: number;
  goalMet: boolean;
}

export async function measureSharedDrain(options: {
  sharedRequests: number;
  aloneRequests: number;
  workDir: string;
  log: (line: string) => void;
}): Promise<SharedDrainResult> {
  const alone = await drainOnce({ ...options, shareBatches: false, requests: options.aloneRequests });
  const shared = await drainOnce({ ...options, shareBatches: true, requests: options.sharedRequests });
  const ratio = alone.recipientsPerSecond > 0 ? shared.recipientsPerSecond / alone.recipientsPerSecond : 0;
  const clean = (r: SharedDrainRun) => !r.timedOut && r.count429 === 0 && r.duplicates === 0 && r.lost === 0;
  return {
    shared,
    alone,
    ratio: round(ratio, 1),
    goalMet: clean(shared) && clean(alone) && shared.recipientsPerSecond >= 2_000 && ratio >= 200,
  };
}

async function drainOnce(options: {
  shareBatches: boolean;
  requests: number;
  workDir: string;
  log: (line: string) => void;
}): Promise<SharedDrainRun> {
  const sandbox = await startSandbox({ tokens: [TOKEN], rateLimitPerSecond: 10 });
  const dataDir = mkdtempSync(path.join(options.workDir, "shared-drain-"));
  const stack = await startLocalStack({
    DATA_DIR: dataDir,
    PASSENTRY_BASE_URL: sandbox.url,
    PASSENTRY_TOKEN: TOKEN,
    API_KEYS: `bench:${API_KEY}`,
    log: discardingJsonLog(),
    startWorkers: false,
    SHARE_BATCHES: options.shareBatches,
  });
  try {
    const { refused, seconds: acceptSeconds } = await acceptBurst({
      url: stack.url,
      apiKey: API_KEY,
      entityId: "stadium",
      count: options.requests,
      bodyOf: (i) => ({
        batch: {
          ...TEMPLATE,
          recipients: [
            { passId: `pass-${i}`, variables: { name: `Fan ${i}`, seat: `${Math.floor(i / 100)}-${i % 100}` } },
          ],
        },
      }),
    });
    if (refused > 0) throw new Error(`${refused} of ${options.requests} requests were refused at the door.`);
    options.log(
      `  ${options.shareBatches ? "shared" : "alone"}: accepted ${options.requests} requests in ${acceptSeconds.toFixed(1)} s; draining…`,
    );

    const reached = () => sandbox.batches().reduce((sum, b) => sum + (b.body.batch.recipients?.length ?? 0), 0);
    const drainStarted = Date.now();
    const deadline = drainStarted + (options.shareBatches ? 120_000 : (options.requests / 6 + 30) * 1000);
    stack.runner.start();
    while (reached() < options.requests && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const lastCreated = Math.max(drainStarted, ...sandbox.batches().map((b) => Date.parse(b.createdAt)));
    const timedOut = reached() < options.requests;
    // A second more with the workers on, so a duplicate still in flight would be counted too.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await stack.runner.stop();

    const batches = sandbox.batches();
    const perPass = new Map<string, number>();
    for (const batch of batches)
      for (const r of batch.body.batch.recipients ?? []) perPass.set(r.passId, (perPass.get(r.passId) ?? 0) + 1);
    const duplicates = [...perPass.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
    const lost = options.requests - perPass.size;
    const seconds = Math.max(0.001, (lastCreated - drainStarted) / 1000);
    const recipients = [...perPass.values()].length;
    return {
      shareBatches: options.shareBatches,
      requests: options.requests,
      acceptSeconds: round(acceptSeconds, 1),
      drainSeconds: round(seconds, 2),
      recipientsPerSecond: round(recipients / seconds, 1),
      calls: sandbox.requests().filter((r) => r.routeKey === "POST /api/v1/entities/:id/messaging/wallet").length,
      fillRatio: round(recipients / Math.max(1, batches.length) / 500, 3),
      count429: sandbox.count429(),
      duplicates,
      lost,
      timedOut,
    };
  } finally {
    await stack.stop();
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
