/**
 * The one reader of process.env. Each home's settings are a zod schema, so a missing or malformed
 * value stops start-up with a sentence naming the variable rather than failing later mid-send.
 * On AWS, secrets are never in the environment: only their Secrets Manager ids are.
 */
import type { FollowUpTimings } from "./core/follow-up-schedule.js";
import { MAX_QUEUE_DELAY_SECONDS } from "./core/follow-up-schedule.js";
import { PASSENTRY_MAX_CALLS_PER_SECOND } from "./core/passentry-limits.js";
import { MAX_RECEIVES } from "./core/retry-policy.js";
import { ConfigError } from "./core/errors.js";
import * as z from "./core/zod.js";

/**
 * Every default a home may change, in one place: the environment variables' defaults below are read
 * from here, and so are the timings no variable sets. Rules that are not choices (PassEntry's limits,
 * core/passentry-limits.ts; the retry policy proven against a 6-hour outage, core/retry-policy.ts) live
 * with the code they constrain.
 */
export const DEFAULTS = {
  /** PassEntry allows 10 calls a second; one less leaves room for clock skew between its counter and ours. */
  passEntryRatePerSecond: 9,
  passEntryTimeoutMs: 10_000,
  /** How long a claim protects a send in flight: more than twice the PassEntry timeout (checked below). */
  sendLeaseMs: 60_000,
  /** Pages of PassEntry's batch list (25 each) searched at most when reconciling; past that a part is `unknown`. */
  reconcileMaxPages: 40,
  /** Margin added to the PassEntry timeout on Lambda: no call starts unless both fit before the deadline. */
  callMarginMs: 5_000,
  /** Wait after a PassEntry 5xx before searching for the batch. */
  serverErrorSettleMs: 1_000,
  /** Wait after a timeout or dropped connection before anyone searches for the batch. */
  timeoutSettleMs: 30_000,
  /** 5xx answers to one part handled within one invocation before the part is handed back. */
  maxServerErrorRetries: 3,
  /** Follow-ups: first re-check after 2 s, doubling to SQS's 900 s; batches more than 7 days ahead are not tracked. */
  followUps: {
    firstDelaySeconds: 2,
    maxDelaySeconds: MAX_QUEUE_DELAY_SECONDS,
    trackingHorizonMs: 7 * 24 * 60 * 60_000,
    maxChecks: 60,
    maxCancelAttempts: 10,
  } satisfies FollowUpTimings,
  /** The embedded home's event source mapping: a full shared batch of one-recipient requests per invocation. */
  senderBatchSize: 500,
  /** How long a local worker waits for more messages that may share a batch. */
  shareGatherMs: 1_000,
  senderWorkers: 2,
  visibilityTimeoutSeconds: 30,
} as const;

const positiveNumber = (fallback: number) => z._default(z.coerce.number().check(z.positive()), fallback);
const positiveInt = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.positive()), fallback);
const optionalText = z.catch(z.optional(z.string().check(z.trim(), z.minLength(1))), undefined);

/**
 * `ALLOWED_BATCH_KEYS`: top-level batch keys beyond our contract that PassEntry may honour and the
 * operator chooses to forward, comma-separated (e.g. `priority,locale`). Default none.
 */
const batchKeyList = z._default(
  z
    .pipe(
      z.string(),
      z.transform((text) =>
        text
          .split(",")
          .map((key) => key.trim())
          .filter(Boolean),
      ),
    )
    .check(
      z.refine(
        (keys) => keys.every((key) => /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(key)),
        "ALLOWED_BATCH_KEYS must list key names (letters, digits, _), comma-separated",
      ),
    ),
  [],
);

/** Settings both homes share: how we talk to PassEntry and how long a claim protects a send. */
const PassEntrySettings = z
  .object({
    PASSENTRY_RATE_PER_SECOND: positiveNumber(DEFAULTS.passEntryRatePerSecond).check(
      z.refine(
        (n) => n <= PASSENTRY_MAX_CALLS_PER_SECOND,
        `PASSENTRY_RATE_PER_SECOND must be at most ${PASSENTRY_MAX_CALLS_PER_SECOND} (PassEntry's limit)`,
      ),
    ),
    PASSENTRY_TIMEOUT_MS: positiveInt(DEFAULTS.passEntryTimeoutMs),
    SEND_LEASE_MS: positiveInt(DEFAULTS.sendLeaseMs),
    RECONCILE_MAX_PAGES: positiveInt(DEFAULTS.reconcileMaxPages),
    ALLOWED_BATCH_KEYS: batchKeyList,
    /** A caller's requests that differ only in their recipients share PassEntry batches (`false` turns it off). */
    SHARE_BATCHES: z.pipe(
      z._default(z.enum(["true", "false"], { error: "SHARE_BATCHES must be true or false" }), "true"),
      z.transform((v) => v === "true"),
    ),
  })
  .check(
    // A POST may leave up to half a lease after its claim was checked, and must finish inside the lease.
    z.refine((c) => c.PASSENTRY_TIMEOUT_MS * 2 < c.SEND_LEASE_MS, {
      message:
        "SEND_LEASE_MS must be more than twice PASSENTRY_TIMEOUT_MS, so that a POST finishes while its claim still protects it",
      path: ["SEND_LEASE_MS"],
    }),
  );

export const AwsConfig = z.extend(PassEntrySettings, {
  WALLET_HOME: z.literal("aws"),
  /** The SST stage: the `Stage` dimension of the metrics this stage's alarms watch. */
  WALLET_STAGE: z.string().check(z.minLength(1, "WALLET_STAGE must be set")),
  PASSENTRY_BASE_URL: z._default(z.url(), "https://api.passentry.com"),
  MESSAGES_QUEUE_URL: z.string().check(z.minLength(1, "MESSAGES_QUEUE_URL must be set")),
  WALLET_TABLE_NAME: z.string().check(z.minLength(1, "WALLET_TABLE_NAME must be set")),
  EVENT_BUS_NAME: optionalText,
  /** The console's dead-letter queue (list, redrive); only the console function gets it. */
  DEAD_LETTER_QUEUE_URL: optionalText,
  PASSENTRY_TOKEN_SECRET_ID: optionalText,
  API_KEYS_SECRET_ID: optionalText,
  PASSENTRY_WEBHOOK_SECRETS_SECRET_ID: optionalText,
  WEBHOOK_SIGNING_SECRETS_SECRET_ID: optionalText,
  SECRET_CACHE_SECONDS: positiveInt(300),
  RECORD_RETENTION_DAYS: positiveInt(30),
});
export type AwsConfig = z.infer<typeof AwsConfig>;

export const LocalConfig = z.extend(PassEntrySettings, {
  WALLET_HOME: z._default(z.literal("local"), "local"),
  HOST: z._default(z.string().check(z.minLength(1)), "127.0.0.1"),
  PORT: z._default(z.coerce.number().check(z.int(), z.gte(0), z.lte(65535)), 3000),
  DATA_DIR: z._default(z.string().check(z.minLength(1)), "./.data"),
  /** Unset: the embedded PassEntry sandbox is started and used. */
  PASSENTRY_BASE_URL: z.union([
    z.optional(z.url()),
    z.pipe(
      z.literal(""),
      z.transform(() => undefined),
    ),
  ]),
  PASSENTRY_TOKEN: optionalText,
  /** Comma-separated `name:key` pairs (`operator:<name>:<key>` for an operator key); unset: a development operator key is generated and printed. */
  API_KEYS: optionalText,
  /** Comma-separated `name:whsec_…` Standard Webhooks secrets for signed trigger requests; unset: only API keys work. */
  WEBHOOK_SIGNING_SECRETS: optionalText,
  /** PassEntry's webhook secret(s), comma-separated (two during a rotation); unset: /webhooks/passentry answers 401. */
  PASSENTRY_WEBHOOK_SECRETS: optionalText,
  /** The automations PassEntry's events trigger. Unset: ./automations.json if it exists, else none. */
  AUTOMATIONS_FILE: optionalText,
  /**
   * Per verified caller: the burst a caller may send at once (1,000: the queue exists to absorb
   * bursts), and the sustained rate that contains a runaway caller (10/s, about what PassEntry drains).
   */
  RATE_LIMIT_PER_SECOND: positiveNumber(10),
  RATE_LIMIT_BURST: positiveInt(1000),
  SENDER_WORKERS: positiveInt(DEFAULTS.senderWorkers),
  /** Messages one local sender invocation takes at most: a full shared batch of one-recipient requests. */
  SENDER_BATCH_SIZE: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(10_000)), DEFAULTS.senderBatchSize),
  /** How long a worker waits for more messages that may share a batch (ms; 0: no gathering). */
  SHARE_GATHER_MS: z._default(z.coerce.number().check(z.int(), z.gte(0), z.lte(60_000)), DEFAULTS.shareGatherMs),
  VISIBILITY_TIMEOUT_SECONDS: positiveInt(DEFAULTS.visibilityTimeoutSeconds),
  /** Receives before a message is dead-lettered; the default survives a 6-hour PassEntry outage (core/retry-policy.ts). */
  MAX_RECEIVES: positiveInt(MAX_RECEIVES),
  SANDBOX_PORT: z._default(z.coerce.number().check(z.int(), z.gte(0), z.lte(65535)), 4010),
  /**
   * The sandbox's clock: `real` (default) sends a scheduled batch at its scheduledAt, as PassEntry
   * does, so a scheduled request can be cancelled; `fast` starts sending 1.5 s after validation.
   */
  SANDBOX_CLOCK: z._default(z.enum(["real", "fast"], { error: "SANDBOX_CLOCK must be real or fast" }), "real"),
});
export type LocalConfig = z.infer<typeof LocalConfig>;

function parse<T>(schema: z.ZodMiniType<T>, env: Record<string, string | undefined>): T {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "environment"}: ${i.message}`);
  throw new ConfigError(`The configuration is not valid: ${problems.join("; ")}.`);
}

export function loadAwsConfig(env: Record<string, string | undefined> = process.env): AwsConfig {
  return parse(AwsConfig, env);
}

export function loadLocalConfig(env: Record<string, string | undefined> = process.env): LocalConfig {
  const config = parse(LocalConfig, env);
  if (config.PASSENTRY_BASE_URL && !config.PASSENTRY_TOKEN) {
    throw new ConfigError(
      "The configuration is not valid: PASSENTRY_TOKEN must be set when PASSENTRY_BASE_URL points at a real PassEntry.",
    );
  }
  return config;
}

/** What the sender takes from either home's configuration and from DEFAULTS (functions/composition.ts). */
export interface SenderSettings {
  leaseMs: number;
  reconcileMaxPages: number;
  allowedBatchKeys: readonly string[];
  shareBatches: boolean;
  /** Receives before the queue dead-letters a message: the local MAX_RECEIVES, or the AWS queue's redrive policy. */
  maxReceives: number;
  /** No PassEntry call starts with less than this left in the invocation. */
  callBudgetMs: number;
  serverErrorSettleMs: number;
  timeoutSettleMs: number;
  maxServerErrorRetries: number;
  followUps: FollowUpTimings;
}

type SenderConfig = Pick<
  LocalConfig,
  "SEND_LEASE_MS" | "RECONCILE_MAX_PAGES" | "SHARE_BATCHES" | "PASSENTRY_TIMEOUT_MS"
> & { ALLOWED_BATCH_KEYS: readonly string[]; MAX_RECEIVES?: number };

/**
 * The sender's settings from a home's configuration. `deadline`: `lambda` where the invocation is
 * killed at its timeout (so no PassEntry call starts unless its client timeout and a margin fit), `none`
 * in the embedded home, where nothing kills a worker mid-call. On AWS the dead-letter count is the
 * queue's redrive policy (infra/manifest.ts reads MAX_RECEIVES too), not a variable.
 */
export function senderSettings(config: SenderConfig, deadline: "lambda" | "none"): SenderSettings {
  return {
    leaseMs: config.SEND_LEASE_MS,
    reconcileMaxPages: config.RECONCILE_MAX_PAGES,
    allowedBatchKeys: config.ALLOWED_BATCH_KEYS,
    shareBatches: config.SHARE_BATCHES,
    maxReceives: config.MAX_RECEIVES ?? MAX_RECEIVES,
    callBudgetMs: deadline === "lambda" ? config.PASSENTRY_TIMEOUT_MS + DEFAULTS.callMarginMs : 0,
    serverErrorSettleMs: DEFAULTS.serverErrorSettleMs,
    timeoutSettleMs: DEFAULTS.timeoutSettleMs,
    maxServerErrorRetries: DEFAULTS.maxServerErrorRetries,
    followUps: { ...DEFAULTS.followUps },
  };
}

/** The embedded home's configuration with nothing set: every default. Tests start from it and change what they test. */
export function defaultLocalConfig(): LocalConfig {
  return loadLocalConfig({});
}
