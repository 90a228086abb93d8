/**
 * The wiring of the AWS home as plain data: which Lambda runs which handler, what each one may
 * touch, which environment variables it gets, how the queue is tuned, which routes exist and which
 * alarms watch them.
 *
 * `infra/*.ts` builds SST components from this module, and `test/infra/` checks it, so the tests
 * read the same values a deploy uses. Keep it free of SST globals (`sst`, `aws`, `$app`): it must
 * load under plain Node and vitest.
 */
import { MAX_RECEIVES } from "../functions/core/retry-policy.js";
import { REQUEST_LIST_INDEX } from "../functions/adapters/dynamodb-table-shape.js";

/** Value of POWERTOOLS_SERVICE_NAME and the prefix of every name we choose. */
export const SERVICE_NAME = "wallet-messaging";

/**
 * Lambda runtime for every function. SST 4 supports `nodejs24.x` (its default); it is the newest
 * Node LTS on Lambda and keeps us furthest from a deprecation date.
 */
export const RUNTIME = "nodejs24.x" as const;
/** Graviton: about 20% cheaper per GB-second than x86, and nothing here needs native x86 code. */
export const ARCHITECTURE = "arm64" as const;
export const LOG_RETENTION = "1 month" as const;
export const LOG_FORMAT = "json" as const;

// ---------------------------------------------------------------------------------------------
// PassEntry rate budget
// ---------------------------------------------------------------------------------------------

/** PassEntry allows 10 requests/s per account; we aim at 9 to leave room for jitter and retries. */
export const PASSENTRY_ACCOUNT_RATE_PER_SECOND = 9;
/**
 * At most this many sender invocations run at once (the SQS event source mapping's maximum
 * concurrency; AWS accepts 2 to 1000). Two keeps one worker busy while the other waits on a slow
 * PassEntry answer, and is the smallest value AWS allows.
 */
export const SENDER_MAX_CONCURRENCY = 2;
/**
 * Each sender worker paces itself at this rate (PASSENTRY_RATE_PER_SECOND), so the account as a
 * whole stays at or under PASSENTRY_ACCOUNT_RATE_PER_SECOND: 9 / 2 = 4.5. Derived, never typed in,
 * so the concurrency and the pace cannot drift apart.
 */
export const PASSENTRY_RATE_PER_SECOND_PER_WORKER = PASSENTRY_ACCOUNT_RATE_PER_SECOND / SENDER_MAX_CONCURRENCY;

export const DEFAULT_PASSENTRY_BASE_URL = "https://api.passentry.com";

/**
 * PassEntry's base URL for a deploy: `PASSENTRY_BASE_URL` in the deploying shell overrides the
 * default (e.g. a PassEntry sandbox), so no code change is needed to point a stage elsewhere.
 *
 * @example
 *   passEntryBaseUrl({ PASSENTRY_BASE_URL: "https://sandbox.example" }) // "https://sandbox.example"
 */
export function passEntryBaseUrl(env: Record<string, string | undefined> = process.env): string {
  const value = env.PASSENTRY_BASE_URL?.trim();
  return value ? value.replace(/\/+$/, "") : DEFAULT_PASSENTRY_BASE_URL;
}

// ---------------------------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------------------------

/**
 * What a function may touch. Each capability becomes an SST link (which grants the IAM access)
 * and, for secrets, one environment variable naming the secret. Nothing else grants access.
 */
export type Capability =
  /** MessagesQueue: URL + sqs:* on that queue (the accept handler sends to it). */
  | "queue"
  /** WalletTable: name + dynamodb:* on that table and its indexes. */
  | "table"

  /** WalletBus: name + events:* on that bus (put events). */
  | "bus"
  /** PassEntryToken secret: secretsmanager:GetSecretValue on it. */
  | "passEntryToken"
  /** ApiKeys secret: JSON object {"<caller name>": "<key>" | [keys] | {"operator": true, "keys": [...]}} checked by the HTTP API handlers. */
  | "apiKeys"
  /** PassEntryWebhookSecrets secret: JSON array of signing secrets (several during rotation). */
  | "webhookSecrets"
  /** WebhookSigningSecrets secret: JSON object {"<signer name>": "whsec_…"} for Standard Webhooks-signed trigger requests. */
  | "webhookSigningSecrets";

export type SecretCapability = Extract<Capability, "passEntryToken" | "apiKeys" | "webhookSecrets" | "webhookSigningSecrets">;

export interface SecretSpec {
  /** SST Linkable name; also the Pulumi name prefix of the Secrets Manager secret. */
  name: string;
  /** Environment variable that carries the secret's ARN (never its value). */
  env: string;
  description: string;
}

export const secrets: Record<SecretCapability, SecretSpec> = {
  passEntryToken: {
    name: "PassEntryToken",
    env: "PASSENTRY_TOKEN_SECRET_ID",
    description: "PassEntry API token used by the wallet-messaging sender (plain string).",
  },
  apiKeys: {
    name: "ApiKeys",
    env: "API_KEYS_SECRET_ID",
    description: 'API keys accepted by the wallet-messaging HTTP API: JSON object {"<caller name>": "<key>" or ["<key>", ...] or {"operator": true, "keys": ["<key>", ...]}}.',
  },
  webhookSecrets: {
    name: "PassEntryWebhookSecrets",
    env: "PASSENTRY_WEBHOOK_SECRETS_SECRET_ID",
    description: "Signing secrets for PassEntry webhooks: JSON array of strings (several during rotation).",
  },
  webhookSigningSecrets: {
    name: "WebhookSigningSecrets",
    env: "WEBHOOK_SIGNING_SECRETS_SECRET_ID",
    description: 'Standard Webhooks secrets of senders that sign trigger requests instead of sending an API key: JSON object {"<signer name>": "whsec_…"}.',
  },
};

export interface FunctionSpec {
  /** PascalCase SST name. */
  name: string;
  /** `file.export`, relative to the project root, as SST wants it. */
  handler: string;
  memoryMb: number;
  timeoutSeconds: number;
  capabilities: readonly Capability[];
  /**
   * Narrower than a capability: exactly these IAM actions on one resource, for a function whose
   * reason to exist does not need the whole link (SST links grant `sqs:*` / `dynamodb:*`). A
   * grant on the dead-letter queue also gives the function DEAD_LETTER_QUEUE_URL.
   */
  grants?: readonly Grant[];
}

/** IAM actions on one of our resources (a table grant covers its indexes too). */
export interface Grant {
  on: "table" | "messagesQueue" | "deadLetterQueue";
  actions: readonly string[];
}

/**
 * Every Lambda of the AWS home.
 *
 * Memory: Lambda gives CPU in proportion to memory. 512 MB is where a bundled AWS SDK + zod
 * cold-starts in well under a second on arm64 while costing half of SST's 1024 MB default; these
 * handlers are I/O-bound (one or two AWS calls), so more memory buys little after the cold start.
 *
 * Timeouts: API Gateway HTTP APIs give up after 30 s, so an HTTP handler slower than that only
 * burns money; 10 s bounds a hung SDK call (the SDK retries 3 times within that) and still answers
 * before API Gateway does. The sender's timeout is sized by its batch: see `senderSubscription`.
 */
export const functions = {
  accept: {
    name: "Accept",
    handler: "functions/handlers/accept.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // Checks the key (or a Standard Webhooks signature), reserves the idempotency key + request
    // record, enqueues.
    capabilities: ["apiKeys", "webhookSigningSecrets", "table", "queue"],
  },
  requestStatus: {
    name: "RequestStatus",
    handler: "functions/handlers/request-status.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    capabilities: ["apiKeys", "table"],
  },
  requestList: {
    name: "RequestList",
    handler: "functions/handlers/request-list.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // Pages the table's ByCreatedAt index; reads only, like the status function.
    capabilities: ["apiKeys", "table"],
  },
  requestCancel: {
    name: "RequestCancel",
    handler: "functions/handlers/request-cancel.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // Marks the request's unsent parts cancelled in the ledger and queues a `cancel` follow-up: the
    // sender cancels created batches at PassEntry. It never calls PassEntry itself, so PassEntry's
    // rate budget (and the token) stays with the paced sender.
    capabilities: ["apiKeys", "table", "queue"],
  },
  requestResolve: {
    name: "RequestResolve",
    handler: "functions/handlers/request-resolve.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // An operator's decision on an `unknown` part: one ledger write, then the request (or the
    // batch's follow-up) queued again for the sender. Like cancel, it never calls PassEntry.
    capabilities: ["apiKeys", "table", "queue"],
  },
  health: {
    name: "Health",
    handler: "functions/handlers/health.handler",
    // Answers from memory only: the smallest size that still cold-starts quickly.
    memoryMb: 256,
    timeoutSeconds: 5,
    capabilities: [],
  },
  passEntryWebhook: {
    name: "PassEntryWebhook",
    handler: "functions/handlers/passentry-webhook.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // Verifies PassEntry's signature and queues the messages the event's automations ask for
    // (automations.json is bundled), through the same request records as the accept handler.
    capabilities: ["webhookSecrets", "table", "queue"],
  },
  sender: {
    name: "Sender",
    handler: "functions/handlers/sender.handler",
    memoryMb: 512,
    // A full batch of 10 at 4.5 req/s needs ~2.2 s of pacing plus one PassEntry round trip each
    // (typically < 1 s, client timeout a few seconds) and a possible reconcile GET. 60 s covers a
    // batch where several requests hit their client timeout; the sender stops taking new messages
    // when little time is left and reports the rest as failures (they return to the queue).
    timeoutSeconds: 60,
    // Reads the token and claims in the ledger before each POST. The queue link is for sending its
    // own delayed follow-ups (send-now, tracking, cancel; SST's subscription grants only receiving);
    // the bus link is for publishing outcome events (WalletMessageBatchCreated/Completed/Failed, …).
    capabilities: ["passEntryToken", "table", "queue", "bus"],
  },
  console: {
    name: "Console",
    handler: "functions/handlers/console.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // The operator console: it checks operator keys and signs sessions with them (apiKeys). Its
    // pages and its two actions get only the actions they call: its pages read requests and the
    // ledger and show both queues' counts and the dead letters; Cancel writes the ledger and the
    // request and queues the sender's follow-up; Redrive starts SQS's message-move task (which
    // needs receive and delete on the dead-letter queue). No PassEntry token, nothing else.
    capabilities: ["apiKeys"],
    grants: [
      { on: "table", actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"] },
      { on: "messagesQueue", actions: ["sqs:SendMessage", "sqs:GetQueueAttributes"] },
      { on: "deadLetterQueue", actions: ["sqs:ReceiveMessage", "sqs:GetQueueAttributes", "sqs:StartMessageMoveTask", "sqs:DeleteMessage"] },
    ],
  },
  planner: {
    name: "PromotionPlanner",
    handler: "functions/handlers/planner.handler",
    memoryMb: 512,
    // Each hourly trigger stores and queues at most a few send requests (one DynamoDB read and
    // write and one SQS send each); 30 s bounds a hung SDK call with room for its retries.
    timeoutSeconds: 30,
    // Stores and queues send requests; it never calls PassEntry, so it holds no token.
    capabilities: ["table", "queue"],
  },
} as const satisfies Record<string, FunctionSpec>;

export type FunctionKey = keyof typeof functions;

/** Values that exist only after deploy; Outputs in infra, strings in tests. */
export interface DeployedValues<V> {
  queueUrl: V;
  deadLetterQueueUrl: V;
  tableName: V;
  busName: V;
  secretArns: Record<SecretCapability, V>;
}

/**
 * The environment of one function: the config module's shared variables for every function (names
 * and URLs only, no access), plus the ARN of each secret the function may read — and no others.
 *
 * @example
 *   environmentFor(functions.sender, deployed).PASSENTRY_TOKEN_SECRET_ID // the token secret's ARN
 */
export function environmentFor<V>(
  spec: FunctionSpec,
  deployed: DeployedValues<V>,
  env: Record<string, string | undefined> = process.env,
): Record<string, V | string> {
  const environment: Record<string, V | string> = {
    WALLET_HOME: "aws",
    MESSAGES_QUEUE_URL: deployed.queueUrl,
    WALLET_TABLE_NAME: deployed.tableName,
    EVENT_BUS_NAME: deployed.busName,
    PASSENTRY_BASE_URL: passEntryBaseUrl(env),
    PASSENTRY_RATE_PER_SECOND: String(PASSENTRY_RATE_PER_SECOND_PER_WORKER),
    // A claim must outlive the sender that made it: past its Lambda timeout, a lapsed claim can only
    // mean the worker died, and the next attempt reconciles instead of waiting on a live send.
    SEND_LEASE_MS: String((functions.sender.timeoutSeconds + 30) * 1000),
    POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
    // Top-level batch keys beyond our contract the operator allows, read from the deploying shell
    // (e.g. ALLOWED_BATCH_KEYS=priority); absent, every such key is refused with 422.
    ...(env.ALLOWED_BATCH_KEYS?.trim() ? { ALLOWED_BATCH_KEYS: env.ALLOWED_BATCH_KEYS.trim() } : {}),
  };
  if (spec.grants?.some((grant) => grant.on === "deadLetterQueue")) environment.DEAD_LETTER_QUEUE_URL = deployed.deadLetterQueueUrl;
  for (const capability of spec.capabilities) {
    if (isSecretCapability(capability)) {
      environment[secrets[capability].env] = deployed.secretArns[capability];
    }
  }
  return environment;
}

export function isSecretCapability(capability: Capability): capability is SecretCapability {
  return capability in secrets;
}

// ---------------------------------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------------------------------

export interface QueueSpec {
  name: string;
  /** Seconds; at least 6x the subscriber's timeout plus its batching window (AWS guidance). */
  visibilityTimeoutSeconds: number;
  retentionSeconds: number;
  /** Where messages go after `retry` failed receives; absent only on dead-letter queues. */
  deadLetter?: { queue: QueueKey; retry: number };
  /** True for a queue that only holds failed messages and has no subscriber. */
  isDeadLetterQueue?: boolean;
}

/**
 * How the sender consumes MessagesQueue.
 *
 * Batch size 10: at 4.5 req/s a batch takes ~2.2 s of pacing, long enough to amortise an
 * invocation (token cache lookup, cold start) and short enough that a failing batch holds few
 * messages back. Partial responses make only the failed messages return to the queue.
 *
 * Window 1 s: without one, a burst arriving over a second is cut into many 1-2 message batches,
 * each of which may land in another execution environment whose pacer starts without history.
 * Fuller batches keep consecutive requests inside one pacer; 1 s is invisible next to PassEntry's
 * own delivery time to phones.
 */
export const senderSubscription = {
  batchSize: 10,
  batchWindowSeconds: 1,
  partialResponses: true,
  maxConcurrency: SENDER_MAX_CONCURRENCY,
} as const;

const DAY = 24 * 60 * 60;

export const queues = {
  messages: {
    name: "MessagesQueue",
    visibilityTimeoutSeconds: 6 * functions.sender.timeoutSeconds + senderSubscription.batchWindowSeconds,
    retentionSeconds: 4 * DAY,
    // The sender sets each retry's delay itself (ChangeMessageVisibility: 2 s doubling to 15 min),
    // so the receive budget, not the visibility timeout, decides how long a message is kept trying:
    // 50 receives outlast a 6-hour PassEntry outage (functions/core/retry-policy.ts proves the sum).
    deadLetter: { queue: "deadLetter", retry: MAX_RECEIVES },
  },
  deadLetter: {
    name: "MessagesDeadLetterQueue",
    visibilityTimeoutSeconds: 30,
    // The longest SQS allows: a standard queue keeps a message's original enqueue time when it is
    // dead-lettered, so the DLQ must keep messages longer than the source queue does.
    retentionSeconds: 14 * DAY,
    isDeadLetterQueue: true,
  },
} as const satisfies Record<string, QueueSpec>;

export type QueueKey = "messages" | "deadLetter";

// ---------------------------------------------------------------------------------------------
// HTTP API
// ---------------------------------------------------------------------------------------------

export const routes = [
  { route: "POST /api/v1/entities/{entityId}/messaging/wallet", fn: "accept" },
  { route: "GET /api/v1/requests", fn: "requestList" },
  { route: "GET /api/v1/requests/{requestId}", fn: "requestStatus" },
  { route: "DELETE /api/v1/requests/{requestId}", fn: "requestCancel" },
  { route: "POST /api/v1/requests/{requestId}/resolve", fn: "requestResolve" },
  { route: "GET /health", fn: "health" },
  // The operator console (functions/handlers/console.ts): one function behind every console route.
  { route: "GET /", fn: "console" },
  { route: "GET /console/requests/{requestId}", fn: "console" },
  { route: "POST /console/sign-in", fn: "console" },
  { route: "POST /console/sign-out", fn: "console" },
  { route: "POST /console/redrive", fn: "console" },
  { route: "POST /console/requests/{requestId}/cancel", fn: "console" },
  { route: "POST /webhooks/passentry", fn: "passEntryWebhook" },
] as const satisfies readonly { route: string; fn: FunctionKey }[];

/**
 * API Gateway stage throttling (all routes together, all callers together: HTTP APIs have no
 * per-key usage plans, and API Gateway reads the body itself before any Lambda could check a key;
 * per-caller limits exist only in the embedded home).
 *
 * Burst 1,000: the queue exists to absorb bursts, so the door must not refuse one. A CRM export or
 * a flash sale sends hundreds of requests at once (one caller's 1,000 sent 200 at a time must all
 * be accepted); 1,000 messages drain in under two minutes at PassEntry's pace, and 200 concurrent
 * accepts stay within Lambda's default account concurrency of 1,000.
 * Rate 25/s: every accepted request costs at least one PassEntry call, and PassEntry takes 9/s.
 * Sustained traffic well above that only grows the backlog, so beyond ~2.5x we answer 429 and let
 * the caller retry, which webhook senders do. The `MessagesBacklogAge` alarm, not the door, is what
 * says a backlog is building.
 */
export const apiThrottling = { rateLimit: 25, burstLimit: 1_000 } as const;

// ---------------------------------------------------------------------------------------------
// Store and bus
// ---------------------------------------------------------------------------------------------

/**
 * One table for requests, idempotency keys and the send ledger. Items are keyed `pk` + `sk` (the
 * DynamoDB adapters write `REQ#<id>`/`REQ`, `IDEM#<key>`/`IDEM` and `REQ#<id>`/`SEND#<chunk>`), so
 * the table must have both: with `pk` alone every GetItem, Query and keyed write is refused with
 * "The provided key element does not match the schema" (the rehearsal, `npm run rehearse:aws`, proves it).
 */
export const table = {
  name: "WalletTable",
  hashKey: "pk",
  rangeKey: "sk",
  ttlAttribute: "expiresAt",
  /** Pages requests newest first for `GET /api/v1/requests` and the console (see the module it comes from). */
  listIndex: REQUEST_LIST_INDEX,
} as const;

export const bus = {
  name: "WalletBus",
  /** Events of this detail-type go straight to MessagesQueue, envelope and all. */
  requestDetailType: "WalletMessageRequested",
} as const;

// ---------------------------------------------------------------------------------------------
// Promotion triggers
// ---------------------------------------------------------------------------------------------

/**
 * Each promotion's trigger: one EventBridge Scheduler schedule (`sst.aws.CronV2`) per promotion in
 * promotions.json, invoking the planner every hour on the hour.
 *
 * UTC, not the promotion's zone: the planner computes occurrences in the promotion's zone itself
 * and needs triggers that partition time into hours (functions/core/plan-promotions.ts). In a zone
 * with DST, Scheduler fires the repeated fall-back hour only once, which would leave an hour a
 * year unplanned.
 * Retries 3: a failed planner run (the queue or the table briefly unavailable) is retried within
 * minutes; the request ids make a second run harmless.
 */
export const promotionTrigger = {
  schedule: "cron(0 * * * ? *)",
  timezone: "UTC",
  retries: 3,
  /** Scheduler replaces this with the time the trigger was due; the planner's window is based on it. */
  scheduledTime: "<aws.scheduler.scheduled-time>",
} as const;

export interface PromotionScheduleSpec {
  /** SST component name, e.g. PromotionFridayHappyHour. */
  name: string;
  promotionId: string;
  /** A disabled promotion keeps its schedule, created disabled, so the console mirrors promotions.json. */
  enabled: boolean;
  /** Exactly what the planner receives (functions/core/promotions.ts `PlannerEvent`). */
  event: { promotionId: string; scheduledTime: typeof promotionTrigger.scheduledTime };
}

/**
 * One schedule per promotion, enabled or not.
 *
 * @example
 *   promotionSchedules([{ id: "friday-happy-hour", enabled: true }])[0].name // "PromotionFridayHappyHour"
 */
export function promotionSchedules(promotions: readonly { id: string; enabled: boolean }[]): PromotionScheduleSpec[] {
  const specs = promotions.map((promotion) => ({
    name: `Promotion${promotion.id.split("-").map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join("")}`,
    promotionId: promotion.id,
    enabled: promotion.enabled,
    event: { promotionId: promotion.id, scheduledTime: promotionTrigger.scheduledTime },
  }));
  const names = new Map<string, string>();
  for (const spec of specs) {
    const other = names.get(spec.name);
    if (other !== undefined) throw new Error(`Promotions "${other}" and "${spec.promotionId}" would share the SST name ${spec.name}; rename one of them.`);
    names.set(spec.name, spec.promotionId);
  }
  return specs;
}

// ---------------------------------------------------------------------------------------------
// Alarms
// ---------------------------------------------------------------------------------------------

/** Custom metric the sender emits when it cannot tell whether PassEntry accepted a batch. */
export const unknownOutcomesMetric = {
  namespace: "WalletMessaging",
  name: "UnknownOutcomes",
} as const;

export interface AlarmSpec {
  name: string;
  description: string;
  namespace: string;
  metric: string;
  /** Which deployed resource the metric is about; `none` for metrics without dimensions. */
  subject: "deadLetterQueue" | "messagesQueue" | "sender" | "none";
  statistic: "Sum" | "Maximum";
  threshold: number;
  periodSeconds: number;
}

/** Every alarm fires on the first data point above its threshold: each of these means a person should look. */
export const alarms: readonly AlarmSpec[] = [
  {
    name: "DeadLetterQueueNotEmpty",
    description: "Messages reached the dead-letter queue: a requested wallet message was not sent. Inspect and redrive.",
    namespace: "AWS/SQS",
    metric: "ApproximateNumberOfMessagesVisible",
    subject: "deadLetterQueue",
    statistic: "Maximum",
    threshold: 0,
    // SQS publishes queue metrics every 5 minutes; a shorter period only yields missing data.
    periodSeconds: 300,
  },
  {
    name: "SenderErrors",
    description: "The sender Lambda failed whole invocations (crash or timeout), not just single messages.",
    namespace: "AWS/Lambda",
    metric: "Errors",
    subject: "sender",
    statistic: "Sum",
    threshold: 0,
    periodSeconds: 60,
  },
  {
    name: "MessagesBacklogAge",
    description: "The oldest message in MessagesQueue has waited over 30 minutes: a backlog is building (more requests than PassEntry's pace drains, or a stalled sender).",
    namespace: "AWS/SQS",
    metric: "ApproximateAgeOfOldestMessage",
    subject: "messagesQueue",
    statistic: "Maximum",
    // Seconds. At ~8 sends/s, 30 minutes is a backlog of about 14,000 sends; follow-ups wait at
    // most 900 s per hop, and a message retried through its 5 receives can reach ~30 minutes only
    // while PassEntry is failing, which is worth knowing too.
    threshold: 1_800,
    periodSeconds: 300,
  },
  {
    name: "UnknownOutcomes",
    description: "The sender could not tell whether PassEntry accepted a batch; check PassEntry before anything is resent.",
    namespace: unknownOutcomesMetric.namespace,
    metric: unknownOutcomesMetric.name,
    subject: "none",
    statistic: "Sum",
    threshold: 0,
    periodSeconds: 60,
  },
];
