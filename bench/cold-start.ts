/**
 * Section 1: bundle size and cold start of every Lambda in infra/manifest.ts, against two baselines
 * measured in the same run: the floor (a bare handler) and a naive handler doing the same work.
 *
 * Each sample is a fresh `node` process running cold-start/runner.mjs: it imports the bundle built
 * with SST's esbuild settings and handles one real-shaped event, with the environment the AWS home
 * gives the function and the SDK pointed at a loopback AWS stub. Runs of all variants are
 * interleaved, in a new random order each round, so machine noise falls on all of them alike.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  environmentFor,
  functions,
  RUNTIME,
  secrets,
  type FunctionKey,
  type FunctionSpec,
  type SecretCapability,
} from "../infra/manifest.js";
import { findHandlerFile, projectRoot } from "../test/infra/support/sst-bundle.js";
import { startSandbox } from "../local/passentry-sandbox/sandbox.js";
import { owningTrigger } from "../functions/core/plan-promotions.js";
import { nextOccurrences, parsePromotionsFile } from "../functions/core/promotions.js";
import { startAwsStub, type AwsStub } from "./lib/aws-stub.js";
import { bundleEntry, type BuiltBundle } from "./lib/bundle.js";
import { run } from "./lib/processes.js";
import { median, quantile, round } from "./lib/stats.js";

const RUNNER = fileURLToPath(new URL("./cold-start/runner.mjs", import.meta.url));
export const BENCH_TOKEN = "bench-passentry-token";
export const FIXTURE_API_KEY = "crm-test-key-0001"; // what test/fixtures/events/*.json carry
const STATUS_FIXTURE_REQUEST_ID = "3f0b6c1e-8d2a-4e5f-9a7b-1c2d3e4f5a6b";
const ACCOUNT = "123456789012";

export type BaselineKey = "floor" | "naiveAccept" | "naiveRequestStatus" | "naiveHealth" | "naiveSender";

const BASELINES: Record<BaselineKey, { entry: string; eventKind: string; envOf: FunctionKey; label: string }> = {
  floor: { entry: "bench/naive/floor.ts", eventKind: "health", envOf: "health", label: "floor (bare handler)" },
  naiveAccept: { entry: "bench/naive/accept.ts", eventKind: "accept", envOf: "accept", label: "naive accept" },
  naiveRequestStatus: {
    entry: "bench/naive/request-status.ts",
    eventKind: "requestStatus",
    envOf: "requestStatus",
    label: "naive request-status",
  },
  naiveHealth: { entry: "bench/naive/health.ts", eventKind: "health", envOf: "health", label: "naive health" },
  naiveSender: { entry: "bench/naive/sender.ts", eventKind: "sender", envOf: "sender", label: "naive sender" },
};

/**
 * One dependency each, so the table can say where a cold start's time goes: zod classic vs mini,
 * Powertools Logger and SecretsProvider, and the SDK clients with one call each.
 */
const PROBES: Record<string, string> = {
  "zod (classic)": "bench/probes/zod-classic.ts",
  "zod/mini": "bench/probes/zod-mini.ts",
  "Powertools Logger": "bench/probes/powertools-logger.ts",
  "SDK: Secrets Manager": "bench/probes/sdk-secrets-manager.ts",
  "Powertools SecretsProvider + SDK": "bench/probes/powertools-secrets.ts",
  "SDK: DynamoDB": "bench/probes/sdk-dynamodb.ts",
  "SDK: Secrets Manager + DynamoDB + SQS": "bench/probes/sdk-three-clients.ts",
};

/** Which naive baseline does the same kind of work as each function (the closest one when none is exact). */
const NAIVE_FOR: Partial<Record<string, BaselineKey>> = {
  accept: "naiveAccept",
  requestStatus: "naiveRequestStatus",
  requestCancel: "naiveRequestStatus",
  passEntryWebhook: "naiveAccept",
  planner: "naiveAccept",
  health: "naiveHealth",
  sender: "naiveSender",
};

export type VariantGroup = "function" | "baseline" | "probe";

interface Variant {
  id: string;
  label: string;
  entry: string;
  eventKind: string;
  spec: FunctionSpec;
  group: VariantGroup;
  naive?: BaselineKey;
}

interface Sample {
  totalMs: number;
  importMs: number;
  invokeMs: number;
  maxRssMb: number;
  rssMb: number;
  wallMs: number;
}

export interface ColdStartRow {
  id: string;
  label: string;
  handler: string;
  group: VariantGroup;
  memoryMb: number;
  bytes?: number;
  gzipBytes?: number;
  /** Largest contributors to the minified bundle. */
  composition?: { origin: string; bytes: number }[];
  runs: number;
  /** Process start to the handler's answer, median (ms): Node's boot + import + first invocation. */
  totalMs?: number;
  totalP90Ms?: number;
  importMs?: number;
  invokeMs?: number;
  maxRssMb?: number;
  /** Spawn to exit as the parent saw it, median (ms). */
  wallMs?: number;
  answer?: string;
  awsCalls?: Record<string, number>;
  naive?: BaselineKey;
  vsFloor?: number;
  vsNaive?: number;
  memoryVsNaive?: number;
  goalMet?: boolean;
  error?: string;
}

export interface ColdStartResult {
  runtimeTarget: string;
  runsPerVariant: number;
  runsPerProbe: number;
  rows: ColdStartRow[];
  missing: string[];
  /** AWS operations the stub could not answer (the handler took an error path there). */
  unanswered: string[];
  /** The built sender bundle, which the cost section runs again. */
  senderBundle?: string;
}

export interface ColdStartEnvironment {
  stub: AwsStub;
  sandboxUrl: string;
  /** PassEntry's webhook secret (a plain string) and a Standard Webhooks secret (`whsec_…`). */
  passEntryWebhookSecret: string;
  signingSecret: string;
  homeDir: string;
}

/** Fresh secrets for one bench run. */
export function newWebhookSecrets() {
  return {
    passEntryWebhookSecret: randomBytes(24).toString("hex"),
    signingSecret: `whsec_${randomBytes(24).toString("base64")}`,
  };
}

/** The secrets the AWS home reads (every one infra/manifest.ts declares), stored in the stub under the ARNs it would have. */
export function benchSecrets(setup: Pick<ColdStartEnvironment, "passEntryWebhookSecret" | "signingSecret">) {
  const knownValues: Record<string, string> = {
    passEntryToken: BENCH_TOKEN,
    apiKeys: JSON.stringify({ crm: FIXTURE_API_KEY }),
    webhookSecrets: JSON.stringify([setup.passEntryWebhookSecret]),
    webhookSigningSecrets: JSON.stringify({ bench: setup.signingSecret }),
  };
  const secretArns: Record<string, string> = {};
  const values: Record<string, string> = {};
  for (const [capability, spec] of Object.entries(secrets)) {
    const arn = `arn:aws:secretsmanager:eu-west-2:${ACCOUNT}:secret:${spec.name}-bench01`;
    secretArns[capability] = arn;
    values[arn] = knownValues[capability] ?? "{}";
  }
  return { secretArns: secretArns as Record<SecretCapability, string>, values };
}

/** The full environment of a fresh process standing in for one Lambda: nothing inherited but PATH. */
export function lambdaEnvironment(
  spec: FunctionSpec,
  setup: ColdStartEnvironment,
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const { secretArns } = benchSecrets(setup);
  const deployed = {
    queueUrl: `${setup.stub.url}/${ACCOUNT}/wallet-messaging-bench-MessagesQueue`,
    deadLetterQueueUrl: `${setup.stub.url}/${ACCOUNT}/wallet-messaging-bench-MessagesDeadLetterQueue`,
    tableName: "wallet-messaging-bench-WalletTable",
    busName: "wallet-messaging-bench-WalletBus",
    secretArns,
  };
  const fromInfra = environmentFor(spec, deployed, { stage: "bench", passEntryBaseUrl: setup.sandboxUrl });
  return {
    PATH: process.env.PATH,
    HOME: setup.homeDir,
    TZ: ":UTC",
    LANG: "en_US.UTF-8",
    // What Lambda itself sets.
    AWS_REGION: "eu-west-2",
    AWS_DEFAULT_REGION: "eu-west-2",
    AWS_EXECUTION_ENV: `AWS_Lambda_${RUNTIME}`,
    AWS_LAMBDA_FUNCTION_NAME: `wallet-messaging-bench-${spec.name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_LOG_FORMAT: "JSON",
    AWS_LAMBDA_LOG_LEVEL: "INFO",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    // Fake credentials; every SDK client goes to the loopback stub.
    AWS_ACCESS_KEY_ID: "AKIDBENCHEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "bench-secret-access-key",
    AWS_SESSION_TOKEN: "bench-session-token",
    AWS_ENDPOINT_URL: setup.stub.url,
    AWS_CONFIG_FILE: path.join(setup.homeDir, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: path.join(setup.homeDir, "no-aws-credentials"),
    BENCH_PASSENTRY_WEBHOOK_SECRET: setup.passEntryWebhookSecret,
    BENCH_TIMEOUT_SECONDS: String(spec.timeoutSeconds),
    ...Object.fromEntries(Object.entries(fromInfra).map(([k, v]) => [k, String(v)])),
    ...overrides,
  };
}

function expectedAnswer(kind: string, summary: Record<string, unknown>): string | undefined {
  const status = summary.statusCode as number | undefined;
  const want: Record<string, (s: number | undefined) => boolean> = {
    accept: (s) => s === 202,
    requestStatus: (s) => s === 200,
    health: (s) => s === 200,
    requestCancel: (s) => s === 202,
    passEntryWebhook: (s) => s === 202,
  };
  if (kind === "planner")
    return summary.status === "planned" && Number(summary.queued) > 0
      ? undefined
      : `planner answered ${String(summary.status)} and queued ${String(summary.queued)}`;
  if (kind === "sender")
    return summary.batchItemFailures === 0
      ? undefined
      : `sender reported ${String(summary.batchItemFailures)} failed record(s)`;
  const check = want[kind];
  if (check && !check(status)) return `answered ${String(status)}`;
  return undefined;
}

const describeAnswer = (summary: Record<string, unknown>) =>
  summary.statusCode !== undefined
    ? String(summary.statusCode)
    : summary.status !== undefined
      ? `${String(summary.status)}, ${String(summary.queued)} queued`
      : summary.batchItemFailures !== undefined
        ? `${String(summary.batchItemFailures)} failures`
        : String(summary.answer);

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** A promotions file with one enabled promotion (the shipped one is disabled until an operator enables it). */
const BENCH_PROMOTIONS = "test/rehearsal/fixtures/promotions.json";

/** Stores a request and one sent batch in the stub's table, as the accept handler and sender would have. */
function seedSubmittedRequest(stub: AwsStub, requestId: string): void {
  const now = new Date().toISOString();
  const batch = {
    message: "Hello, World!",
    segments: [{ groupTag: "summerPromotion" }],
    scheduledAt: "2030-03-31T13:16:26Z",
  };
  const record = {
    requestId,
    entityId: "ent_4f1c2a9e",
    source: "http",
    createdAt: now,
    enqueuedAt: now,
    apiKeyName: "crm",
    batch,
  };
  stub.seed({ pk: { S: `REQ#${requestId}` }, sk: { S: "REQ" }, record: { S: JSON.stringify(record) } });
  // A ledger entry keeps each field as its own attribute (functions/adapters/dynamodb-send-ledger.ts).
  stub.seed({
    pk: { S: `REQ#${requestId}` },
    sk: { S: "SEND#00000" },
    requestId: { S: requestId },
    chunk: { N: "0" },
    state: { S: "sent" },
    version: { N: "3" },
    owner: { S: "lambda-bench" },
    attempt: { N: "1" },
    claimedAt: { S: now },
    leaseUntil: { N: "0" },
    batchId: { S: randomUUID() },
    batchStatus: { S: "scheduled" },
    updatedAt: { S: now },
  });
}

/**
 * Planner triggers that each own one real occurrence of the first enabled promotion in
 * BENCH_PROMOTIONS, a different one per run, so every run plans and queues one request (a repeated
 * trigger would only find it already queued).
 */
function plannerEvents(count: number): { promotionId: string; scheduledTime: string }[] {
  try {
    const promotion = parsePromotionsFile(
      JSON.parse(readFileSync(path.join(projectRoot, BENCH_PROMOTIONS), "utf8")),
    ).find((p) => p.enabled);
    if (!promotion) return [];
    return nextOccurrences(promotion, Date.now() + 3 * 3_600_000, count).map((o) => ({
      promotionId: promotion.id,
      scheduledTime: new Date(owningTrigger(promotion, o.at)).toISOString(),
    }));
  } catch {
    return [];
  }
}

/** What one run of a variant needs beyond its function's environment: a fresh request to cancel, a trigger of its own. */
function perRunEnvironment(
  v: Variant,
  stub: AwsStub,
  planner: { promotionId: string; scheduledTime: string }[],
  runIndex: number,
): Record<string, string> {
  if (v.eventKind === "requestCancel") {
    const requestId = randomUUID();
    seedSubmittedRequest(stub, requestId);
    return { BENCH_REQUEST_ID: requestId };
  }
  const trigger = planner[runIndex];
  if (v.eventKind === "planner" && trigger) return { BENCH_PLANNER_EVENT: JSON.stringify(trigger) };
  return {};
}

export async function measureColdStarts(options: {
  runs: number;
  probeRuns: number;
  workDir: string;
  log: (line: string) => void;
}): Promise<ColdStartResult> {
  const variants: Variant[] = [];
  const missing: string[] = [];
  for (const [key, spec] of Object.entries(functions) as [FunctionKey, FunctionSpec][]) {
    const file = findHandlerFile(spec.handler);
    if (!file) {
      missing.push(`${key} (${spec.handler})`);
      continue;
    }
    variants.push({
      id: key,
      label: key,
      entry: path.relative(projectRoot, file),
      eventKind: key,
      spec,
      group: "function",
      naive: NAIVE_FOR[key] ?? "naiveAccept",
    });
  }
  for (const [key, b] of Object.entries(BASELINES) as [BaselineKey, (typeof BASELINES)[BaselineKey]][]) {
    variants.push({
      id: key,
      label: b.label,
      entry: b.entry,
      eventKind: b.eventKind,
      spec: functions[b.envOf],
      group: "baseline",
    });
  }
  if (options.probeRuns > 0) {
    for (const [label, entry] of Object.entries(PROBES))
      variants.push({ id: `probe:${label}`, label, entry, eventKind: "probe", spec: functions.accept, group: "probe" });
  }

  const bundles = new Map<string, BuiltBundle>();
  const buildErrors = new Map<string, string>();
  await Promise.all(
    variants.map(async (v, i) => {
      try {
        // The shipped promotion is disabled: the planner is measured with one enabled (the rehearsal's), as an operator deploys it.
        const dataFiles: Record<string, string> =
          v.eventKind === "planner" ? { "promotions.json": BENCH_PROMOTIONS } : {};
        bundles.set(v.id, await bundleEntry(v.entry, path.join(options.workDir, `bundle-${i}`), RUNTIME, dataFiles));
      } catch (error) {
        buildErrors.set(v.id, `bundle failed: ${(error as Error).message.split("\n")[0]}`);
      }
    }),
  );
  options.log(`  built ${bundles.size} bundles with SST's esbuild settings (${RUNTIME})`);

  const webhookSecrets = newWebhookSecrets();
  const { values } = benchSecrets(webhookSecrets);
  const stub = await startAwsStub({ secrets: values });
  // A request with one sent batch, for the request-status fixture to find.
  seedSubmittedRequest(stub, STATUS_FIXTURE_REQUEST_ID);
  // Cold starts are not a rate-limit test: PassEntry answers every POST at once.
  const sandbox = await startSandbox({ tokens: [BENCH_TOKEN], rateLimitPerSecond: 1_000_000 });
  const planner = plannerEvents(options.runs + 1);
  const setup: ColdStartEnvironment = {
    stub,
    sandboxUrl: sandbox.url,
    ...webhookSecrets,
    homeDir: mkdtempSync(path.join(options.workDir, "home-")),
  };

  const samples = new Map<string, Sample[]>(variants.map((v) => [v.id, []]));
  const answers = new Map<string, string>();
  const errors = new Map<string, string>(buildErrors);
  const awsCalls = new Map<string, Record<string, number>>();
  const runnable = variants.filter((v) => bundles.has(v.id));
  try {
    // Round 0 warms the disk cache and is not counted.
    for (let round = 0; round <= options.runs; round++) {
      for (const v of shuffle(runnable)) {
        if (errors.has(v.id) || (v.group === "probe" && round > options.probeRuns)) continue;
        const before = new Map(stub.calls);
        const env = lambdaEnvironment(v.spec, setup, perRunEnvironment(v, stub, planner, round));
        const result = await run(process.execPath, [RUNNER, bundles.get(v.id)!.file, v.eventKind], {
          env,
          cwd: projectRoot,
          timeoutMs: 30_000,
        });
        const line = result.stdout.split("\n").find((l) => l.startsWith("@@bench "));
        if (result.code !== 0 || !line) {
          const why = result.timedOut ? "timed out" : `exit ${String(result.code)}`;
          errors.set(
            v.id,
            `${why}: ${(result.stderr.trim().split("\n").slice(-3).join(" | ") || result.stdout.trim().slice(-300)).slice(0, 400)}`,
          );
          continue;
        }
        const parsed = JSON.parse(line.slice("@@bench ".length)) as Sample & Record<string, unknown>;
        const wrong = expectedAnswer(v.eventKind, parsed);
        if (wrong && v.group === "function") {
          errors.set(
            v.id,
            `unexpected answer: ${wrong}; output: ${result.stdout.replace(line, "").trim().slice(-300)}`,
          );
          continue;
        }
        answers.set(v.id, describeAnswer(parsed));
        if (round === 0) {
          const delta: Record<string, number> = {};
          for (const [target, count] of stub.calls)
            if (count !== (before.get(target) ?? 0))
              delta[target.split(".").pop()!] = count - (before.get(target) ?? 0);
          awsCalls.set(v.id, delta);
          continue;
        }
        samples.get(v.id)!.push({ ...parsed, wallMs: result.wallMs });
      }
      if (round > 0 && round % 5 === 0) options.log(`  cold starts: ${round}/${options.runs} rounds`);
    }
  } finally {
    await sandbox.close();
    await stub.close();
  }
  const unanswered = [...stub.unanswered];

  const rows: ColdStartRow[] = variants.map((v) => {
    const s = samples.get(v.id)!;
    const bundle = bundles.get(v.id);
    const row: ColdStartRow = {
      id: v.id,
      label: v.label,
      handler: v.entry,
      group: v.group,
      memoryMb: v.spec.memoryMb,
      runs: s.length,
      ...(bundle
        ? { bytes: bundle.bytes, gzipBytes: bundle.gzipBytes, composition: bundle.composition.slice(0, 8) }
        : {}),
      ...(v.naive ? { naive: v.naive } : {}),
    };
    const error = errors.get(v.id);
    if (error) row.error = error;
    if (s.length > 0) {
      row.totalMs = round(median(s.map((x) => x.totalMs)), 1);
      row.totalP90Ms = round(
        quantile(
          s.map((x) => x.totalMs),
          0.9,
        ),
        1,
      );
      row.importMs = round(median(s.map((x) => x.importMs)), 1);
      row.invokeMs = round(median(s.map((x) => x.invokeMs)), 1);
      row.maxRssMb = round(median(s.map((x) => x.maxRssMb)), 1);
      row.wallMs = round(median(s.map((x) => x.wallMs)), 1);
      row.answer = answers.get(v.id);
      row.awsCalls = awsCalls.get(v.id);
    }
    return row;
  });
  const byId = new Map(rows.map((r) => [r.id, r]));
  const floor = byId.get("floor");
  for (const row of rows) {
    if (row.totalMs === undefined) continue;
    if (floor?.totalMs) row.vsFloor = round(row.totalMs / floor.totalMs, 2);
    const naive = row.naive ? byId.get(row.naive) : undefined;
    if (naive?.totalMs) row.vsNaive = round(row.totalMs / naive.totalMs, 2);
    if (naive?.maxRssMb && row.maxRssMb) row.memoryVsNaive = round(row.maxRssMb / naive.maxRssMb, 2);
    if (row.group === "function" && row.vsFloor !== undefined && row.vsNaive !== undefined)
      row.goalMet = row.vsFloor <= 1.8 && row.vsNaive < 0.8;
  }
  const senderBundle = bundles.get("sender");
  return {
    runtimeTarget: RUNTIME,
    runsPerVariant: options.runs,
    runsPerProbe: Math.min(options.probeRuns, options.runs),
    rows,
    missing,
    unanswered,
    ...(senderBundle ? { senderBundle: senderBundle.file } : {}),
  };
}
