/**
 * Section 4: what one message costs the sender Lambda. The sender bundle (the one the cold-start
 * section built) runs in a fresh process with the AWS home's environment, handles one cold
 * invocation, then `batches` warm SQS batches of `records` records each, exactly as deployed:
 * paced at PASSENTRY_RATE_PER_SECOND from infra/manifest.ts, against a sandbox with no rate limit
 * and no latency, and DynamoDB / Secrets Manager on the loopback stub.
 *
 * CPU per message (process.cpuUsage over the warm batches) excludes every wait, PassEntry's latency
 * and pacing included. Lambda bills wall time, not CPU, so both figures are turned into GB-seconds.
 */
import { mkdtempSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { functions, PASSENTRY_RATE_PER_SECOND_PER_WORKER } from "../infra/manifest.js";
import { startSandbox } from "../local/passentry-sandbox/sandbox.js";
import { projectRoot } from "../test/infra/support/sst-bundle.js";
import { benchSecrets, BENCH_TOKEN, lambdaEnvironment, newWebhookSecrets } from "./cold-start.js";
import { startAwsStub } from "./lib/aws-stub.js";
import { run } from "./lib/processes.js";
import { round } from "./lib/stats.js";

const RUNNER = fileURLToPath(new URL("./cold-start/runner.mjs", import.meta.url));

export interface CostResult {
  messages: number;
  failures: number;
  memoryMb: number;
  ratePerSecond: number;
  cpuMsPerMessage: number;
  /** Wall time per message in warm batches: pacing plus our own work, PassEntry answering instantly. */
  wallMsPerMessage: number;
  cpuGbSecondsPerMillion: number;
  billedGbSecondsPerMillion: number;
  cpuFormula: string;
  billedFormula: string;
  /** AWS calls per message, by operation, over every message the run handled (cold and warm): where the CPU goes. */
  awsCallsPerMessage: Record<string, number>;
}

export async function measureCost(options: {
  senderBundle: string;
  batches: number;
  records: number;
  workDir: string;
}): Promise<CostResult> {
  const webhookSecrets = newWebhookSecrets();
  const stub = await startAwsStub({ secrets: benchSecrets(webhookSecrets).values });
  const sandbox = await startSandbox({ tokens: [BENCH_TOKEN], rateLimitPerSecond: 1_000_000 });
  try {
    const spec = functions.sender;
    const env = lambdaEnvironment(spec, {
      stub,
      sandboxUrl: sandbox.url,
      ...webhookSecrets,
      homeDir: mkdtempSync(path.join(options.workDir, "cost-home-")),
    });
    const result = await run(
      process.execPath,
      [RUNNER, options.senderBundle, "sender", "cost", String(options.batches), String(options.records)],
      {
        env,
        cwd: projectRoot,
        timeoutMs: 120_000,
      },
    );
    const line = result.stdout.split("\n").find((l) => l.startsWith("@@bench "));
    if (result.code !== 0 || !line)
      throw new Error(`cost run failed (exit ${String(result.code)}): ${result.stderr.slice(-400)}`);
    if (stub.unanswered.size > 0)
      throw new Error(
        `the AWS stub had no answer for ${[...stub.unanswered].join(", ")}; the sender took an error path, so its cost is not representative.`,
      );
    const cost = (
      JSON.parse(line.slice("@@bench ".length)) as {
        cost: { messages: number; failures: number; cpuMsPerMessage: number; wallMsPerMessage: number };
      }
    ).cost;
    const gb = spec.memoryMb / 1024;
    // The cold invocation's one record, the uncounted warm batch, then the measured batches.
    const handled = 1 + options.records + cost.messages;
    // The stub knows calls by X-Amz-Target ("DynamoDB_20120810.GetItem"); the operation name is enough here.
    const awsCallsPerMessage = Object.fromEntries(
      [...stub.calls]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([target, n]) => [target.split(".").pop() ?? target, round(n / handled, 2)]),
    );
    const cpuMs = round(cost.cpuMsPerMessage, 3);
    const wallMs = round(cost.wallMsPerMessage, 1);
    return {
      messages: cost.messages,
      failures: cost.failures,
      memoryMb: spec.memoryMb,
      ratePerSecond: PASSENTRY_RATE_PER_SECOND_PER_WORKER,
      cpuMsPerMessage: cpuMs,
      wallMsPerMessage: wallMs,
      cpuGbSecondsPerMillion: Math.round((cost.cpuMsPerMessage / 1000) * gb * 1e6),
      billedGbSecondsPerMillion: Math.round((cost.wallMsPerMessage / 1000) * gb * 1e6),
      cpuFormula: `${cpuMs} ms / 1000 × ${gb} GB × 1e6`,
      billedFormula: `${wallMs} ms / 1000 × ${gb} GB × 1e6`,
      awsCallsPerMessage,
    };
  } finally {
    await sandbox.close();
    await stub.close();
  }
}
