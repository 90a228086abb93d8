/**
 * The wiring of the AWS home as plain data: which Lambda runs which handler, what each one may
 * touch, which environment variables it gets, how the queue is tuned, which routes exist and which
 * alarms watch them.
 *
 * `infra/*.ts` builds SST components from this module, and `test/infra/` checks it, so the tests
 * read the same values a deploy uses. Keep it free of SST globals (`sst`, `aws`, `$app`): it must
 * load under plain Node and vitest.
 */
import { UNKNOWN_OUTCOMES_METRIC } from "../functions/adapters/metric-names.js";
import { MAX_RECEIVES } from "../functions/core/retry-policy.js";
import { REQUEST_CALLER_INDEX, REQUEST_LIST_INDEX } from "../functions/adapters/dynamodb-table-shape.js";

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

// ---------------------------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------------------------

/** The secrets a function may be granted; each one it is granted also puts its ARN in the environment. */
export type SecretCapability = "passEntryToken" | "apiKeys" | "webhookSecrets" | "webhookSigningSecrets";

/**
 * Every resource an IAM statement of ours may name; infra/lambda.ts maps each to its exact ARN.
 * Nothing is granted through SST links: a link grants the same coarse actions (`sqs:*`,
 * `dynamodb:*`, `events:*`) to every function that links it.
 */
export type Grantable =
  | "table"
  | "requestListIndex"
  | "requestCallerIndex"
  | "messagesQueue"
  | "deadLetterQueue"
  | "promotionFailuresQueue"
  | "walletBus"
  | SecretCapability;

export interface SecretSpec {
  /** Pulumi name prefix of the Secrets Manager secret, and the name in its path. */
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
    description:
      'API keys accepted by the wallet-messaging HTTP API: JSON object {"<caller name>": "<key>" or ["<key>", ...] or {"operator": true, "keys": ["<key>", ...]}}.',
  },
  webhookSecrets: {
    name: "PassEntryWebhookSecrets",
    env: "PASSENTRY_WEBHOOK_SECRETS_SECRET_ID",
    description: "Signing secrets for PassEntry webhooks: JSON array of strings (several during rotation).",
  },
  webhookSigningSecrets: {
    name: "WebhookSigningSecrets",
    env: "WEBHOOK_SIGNING_SECRETS_SECRET_ID",
    description:
      'Standard Webhooks secrets of senders that sign trigger requests instead of sending an API key: JSON object {"<signer name>": "whsec_…"}.',
  },
};

export interface FunctionSpec {
  /** PascalCase SST name; also the end of the function's AWS name (`functionName`). */
  name: string;
  /** `file.export`, relative to the project root, as SST wants it. */
  handler: string;
  memoryMb: number;
  timeoutSeconds: number;
  /**
   * Every IAM action the function may take, per resource, spelt out (never a wildcard: `sqs:*`
   * would also grant PurgeQueue and DeleteQueue, and whatever AWS adds next). Besides these it may
   * only write its own log group (`LOG_ACTIONS`) and, on a stage with tracing, X-Ray (`TRACING_ACTIONS`).
   * The rehearsal (`npm run rehearse:aws`) proves each function has what it uses; `npm run check:infra`
   * proves the synthesized roles hold exactly this and nothing else.
   */
  access: Partial<Record<Grantable, readonly string[]>>;
}

const READ_SECRET = ["secretsmanager:GetSecretValue"] as const;

/**
 * Request records (`REQ#…`, `IDEM#…` items): a new request is a conditional PutItem (two of them in
 * one TransactWriteItems when it has an Idempotency-Key: IAM checks each as PutItem), the record is
 * read with GetItem and marked queued or failed with a conditional UpdateItem. No DeleteItem:
 * records expire through the table's TTL.
 */
const RECORD_REQUESTS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"] as const;

/**
 * The send ledger (`SEND#…` items) is a state machine: an entry is created with a create-only
 * PutItem, read with GetItem, moved with an UpdateItem conditioned on its version, and a request's
 * entries are listed with Query. Entries are never deleted, so no function may DeleteItem.
 */
const MOVE_LEDGER = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"] as const;

/** Moving the members of a shared batch together: their entries are read in one BatchGetItem (functions/core/coalesce.ts). */
const MOVE_SHARED_BATCHES = [...MOVE_LEDGER, "dynamodb:BatchGetItem"] as const;

/** Reading a request and its ledger entries, and nothing else. */
const READ_REQUESTS = ["dynamodb:GetItem", "dynamodb:Query"] as const;

/** Paging requests newest first: a Query on the table's ByCreatedAt index (its own ARN). */
const LIST_REQUESTS = ["dynamodb:Query"] as const;

/** Putting a message on a queue: the only queue action a producer needs (no Purge, no Delete). */
const SEND_TO_QUEUE = ["sqs:SendMessage"] as const;

/**
 * What the sender does with MessagesQueue: the event source mapping polls with its role
 * (ReceiveMessage, DeleteMessage, GetQueueAttributes: AWS refuses the mapping without them), it
 * times each retry with ChangeMessageVisibility and queues follow-ups and stamped re-sends with
 * SendMessage.
 */
const CONSUME_QUEUE = [
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:GetQueueAttributes",
  "sqs:ChangeMessageVisibility",
  "sqs:SendMessage",
] as const;

/** Writing its own log group (created by SST with the function), instead of AWS's managed policy on every log group. */
export const LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"] as const;

/** X-Ray's two write actions, only on stages with tracing. X-Ray has no resource-level permissions: its resource is `*`. */
export const TRACING_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"] as const;

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
    // record, enqueues. It never touches the ledger.
    access: {
      apiKeys: READ_SECRET,
      webhookSigningSecrets: READ_SECRET,
      table: RECORD_REQUESTS,
      messagesQueue: SEND_TO_QUEUE,
    },
  },
  requestStatus: {
    name: "RequestStatus",
    handler: "functions/handlers/request-status.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // Internet-facing and read-only: it can neither change the ledger nor queue anything.
    access: { apiKeys: READ_SECRET, table: READ_REQUESTS },
  },
  requestList: {
    name: "RequestList",
    handler: "functions/handlers/request-list.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // Internet-facing and read-only: one Query per page on the table's ByCaller index (a caller's
    // own list) or ByCreatedAt (an operator's), nothing on the table itself.
    access: { apiKeys: READ_SECRET, requestListIndex: LIST_REQUESTS, requestCallerIndex: LIST_REQUESTS },
  },
  requestCancel: {
    name: "RequestCancel",
    handler: "functions/handlers/request-cancel.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // Moves the request's parts to cancelled (creating the entry of a part not yet started) and
    // queues a `cancel` follow-up: the sender cancels created batches at PassEntry. It never calls
    // PassEntry itself, so PassEntry's rate budget (and the token) stays with the paced sender.
    access: { apiKeys: READ_SECRET, table: MOVE_LEDGER, messagesQueue: SEND_TO_QUEUE },
  },
  requestResolve: {
    name: "RequestResolve",
    handler: "functions/handlers/request-resolve.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // An operator's decision on an `unknown` part: one move of an existing entry (never a new one),
    // then the request (or the batch's follow-up) queued again for the sender. Deciding a shared
    // batch moves its members too (read together with BatchGetItem). Like cancel, it never calls
    // PassEntry.
    access: {
      apiKeys: READ_SECRET,
      table: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
      messagesQueue: SEND_TO_QUEUE,
    },
  },
  health: {
    name: "Health",
    handler: "functions/handlers/health.handler",
    // Answers from memory only: the smallest size that still cold-starts quickly.
    memoryMb: 256,
    timeoutSeconds: 5,
    access: {},
  },
  passEntryWebhook: {
    name: "PassEntryWebhook",
    handler: "functions/handlers/passentry-webhook.handler",
    memoryMb: 512,
    timeoutSeconds: 10,
    // Verifies PassEntry's signature and queues the messages the event's automations ask for
    // (automations.json is bundled), through the same request records as the accept handler.
    access: { webhookSecrets: READ_SECRET, table: RECORD_REQUESTS, messagesQueue: SEND_TO_QUEUE },
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
    // The only function that reads the token, so the only one that can post to PassEntry. It
    // moves ledger entries and reads and writes request records, consumes the queue, and publishes
    // outcome events (WalletMessageBatchCreated/Completed/Failed, …) on the bus.
    access: {
      passEntryToken: READ_SECRET,
      table: MOVE_SHARED_BATCHES,
      messagesQueue: CONSUME_QUEUE,
      walletBus: ["events:PutEvents"],
    },
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
    access: {
      apiKeys: READ_SECRET,
      // Cancel moves ledger entries (as RequestCancel does); pages read requests and entries.
      table: MOVE_LEDGER,
      requestListIndex: LIST_REQUESTS,
      // A cancel's follow-up, and the queue's counts.
      messagesQueue: ["sqs:SendMessage", "sqs:GetQueueAttributes"],
      // Listing peeks (ReceiveMessage with a zero visibility timeout); Redrive starts SQS's
      // message-move task, which needs receive and delete on its source besides starting it.
      deadLetterQueue: [
        "sqs:ReceiveMessage",
        "sqs:GetQueueAttributes",
        "sqs:StartMessageMoveTask",
        "sqs:DeleteMessage",
      ],
    },
  },
  planner: {
    name: "PromotionPlanner",
    handler: "functions/handlers/planner.handler",
    memoryMb: 512,
    // Each hourly trigger stores and queues at most a few send requests (one DynamoDB read and
    // write and one SQS send each); 30 s bounds a hung SDK call with room for its retries.
    timeoutSeconds: 30,
    // Stores and queues send requests; it never calls PassEntry, so it holds no token. Lambda
    // puts a trigger that failed every attempt on PromotionFailuresQueue with this role.
    access: { table: RECORD_REQUESTS, messagesQueue: SEND_TO_QUEUE, promotionFailuresQueue: SEND_TO_QUEUE },
  },
} as const satisfies Record<string, FunctionSpec>;

export type FunctionKey = keyof typeof functions;

/** Lambda's limit on a function name. */
const MAX_FUNCTION_NAME = 64;

/**
 * A function's AWS name: service, stage, component. Fixed rather than generated, so its log group
 * (and the IAM statement that lets it write there) and its alarms are known before it exists.
 *
 * @example
 *   functionName("production", "Sender") // "wallet-messaging-production-Sender"
 */
export function functionName(stage: string, component: string): string {
  const name = `${SERVICE_NAME}-${stage}-${component}`;
  if (name.length > MAX_FUNCTION_NAME) {
    throw new Error(
      `The function name ${name} is ${name.length} characters; Lambda allows ${MAX_FUNCTION_NAME}. Use a shorter stage name or promotion id.`,
    );
  }
  return name;
}

/**
 * Who may assume a function's role: Lambda, and nobody else. SST 4.17's Function also trusts the
 * account root on every deploy (its dev-mode test reads an Output, which is always truthy), which
 * would let any principal of the account with sts:AssumeRole become the sender and read the token.
 */
export const lambdaTrustPolicy = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
} as const;

/**
 * Who may assume a promotion schedule's role: EventBridge Scheduler, for schedules of this account
 * only (AWS's confused-deputy guard for Scheduler execution roles).
 */
export function schedulerTrustPolicy(accountId: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": accountId } },
      },
    ],
  };
}

/**
 * The resource policy of a queue EventBridge delivers to: EventBridge may send only on behalf of
 * our own rule (`aws:SourceArn`), so a rule in any other account that learns the queue's ARN cannot
 * inject requests our sender would post with our token. Our functions and other services of this
 * account need no statement here: same-account principals send through their own IAM policies.
 */
export function busTargetQueuePolicy(queueArn: string, ruleArn: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "OnlyTheWalletBusRule",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnEquals: { "aws:SourceArn": ruleArn } },
      },
    ],
  };
}

/** Values that exist only after deploy; Outputs in infra, strings in tests. */
export interface DeployedValues<V> {
  queueUrl: V;
  /** Only the console's environment carries it (DEAD_LETTER_QUEUE_URL). */
  deadLetterQueueUrl: V;
  tableName: V;
  busName: V;
  secretArns: Record<SecretCapability, V>;
}

/** The stage's settings a function's environment carries (from stages.json via infra/stage-config.ts). */
export interface StageValues {
  stage: string;
  passEntryBaseUrl: string;
  allowedBatchKeys?: readonly string[];
}

/**
 * The environment of one function: the config module's shared variables for every function (names
 * and URLs only, no access), plus the ARN of each secret the function may read — and no others.
 *
 * @example
 *   environmentFor(functions.sender, deployed, { stage: "production", passEntryBaseUrl: "https://api.passentry.com" }).PASSENTRY_TOKEN_SECRET_ID // the token secret's ARN
 */
export function environmentFor<V>(
  spec: FunctionSpec,
  deployed: DeployedValues<V>,
  stage: StageValues,
): Record<string, V | string> {
  const environment: Record<string, V | string> = {
    WALLET_HOME: "aws",
    WALLET_STAGE: stage.stage,
    MESSAGES_QUEUE_URL: deployed.queueUrl,
    WALLET_TABLE_NAME: deployed.tableName,
    EVENT_BUS_NAME: deployed.busName,
    PASSENTRY_BASE_URL: stage.passEntryBaseUrl,
    PASSENTRY_RATE_PER_SECOND: String(PASSENTRY_RATE_PER_SECOND_PER_WORKER),
    // A claim must outlive the sender that made it: past its Lambda timeout, a lapsed claim can only
    // mean the worker died, and the next attempt reconciles instead of waiting on a live send.
    SEND_LEASE_MS: String((functions.sender.timeoutSeconds + 30) * 1000),
    POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
    // Top-level batch keys beyond our contract the operator allows for this stage (stages.json
    // `allowedBatchKeys`, e.g. ["priority"]); absent, every such key is refused with 422.
    ...(stage.allowedBatchKeys && stage.allowedBatchKeys.length > 0
      ? { ALLOWED_BATCH_KEYS: stage.allowedBatchKeys.join(",") }
      : {}),
  };
  if (spec.access.deadLetterQueue !== undefined) environment.DEAD_LETTER_QUEUE_URL = deployed.deadLetterQueueUrl;
  for (const capability of secretsOf(spec)) environment[secrets[capability].env] = deployed.secretArns[capability];
  return environment;
}

export function isSecretCapability(grantable: string): grantable is SecretCapability {
  return grantable in secrets;
}

/** The secrets a function may read, in the manifest's order. */
export function secretsOf(spec: FunctionSpec): SecretCapability[] {
  return Object.keys(spec.access).filter(isSecretCapability);
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
 * Batch size 100 with a 2 s window: one-recipient requests of one caller arriving within two
 * seconds reach one invocation together and share PassEntry batches (functions/core/coalesce.ts);
 * AWS requires a window of at least 1 s for batches above 10. Not more than 100: a batch of
 * requests that cannot share is sent one by one at 4.5 POSTs/s, and 100 of them (~22 s) still fit
 * the sender's 60 s timeout, so none is handed back for lack of time (each hand-back costs a
 * receive). Partial responses make only the failed messages return to the queue.
 */
export const senderSubscription = {
  batchSize: 100,
  batchWindowSeconds: 2,
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
  busDeadLetter: {
    name: "BusDeadLetterQueue",
    visibilityTimeoutSeconds: 30,
    // WalletMessageRequested events EventBridge could not put on MessagesQueue after its retries
    // (24 hours), or at once when the queue refused it: kept as long as SQS allows, to be replayed.
    retentionSeconds: 14 * DAY,
    isDeadLetterQueue: true,
  },
  promotionFailures: {
    name: "PromotionFailuresQueue",
    visibilityTimeoutSeconds: 30,
    // Promotion triggers that never planned: Scheduler's dead-letter queue (it could not invoke the
    // planner) and the planner's on-failure destination (it threw on every attempt).
    retentionSeconds: 14 * DAY,
    isDeadLetterQueue: true,
  },
} as const satisfies Record<string, QueueSpec>;

export type QueueKey = "messages" | "deadLetter" | "busDeadLetter" | "promotionFailures";

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
  /** Pages one caller's own requests newest first (a caller's `GET /api/v1/requests`). */
  callerIndex: REQUEST_CALLER_INDEX,
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
  /**
   * Scheduler invokes asynchronously: when the planner throws, Lambda retries it this often (AWS's
   * default, written down) and then puts the trigger on PromotionFailuresQueue, which is alarmed.
   * Without the destination a failed trigger would be dropped unseen.
   */
  plannerAsyncRetries: 2,
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
    name: `Promotion${promotion.id
      .split("-")
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join("")}`,
    promotionId: promotion.id,
    enabled: promotion.enabled,
    event: { promotionId: promotion.id, scheduledTime: promotionTrigger.scheduledTime },
  }));
  const names = new Map<string, string>();
  for (const spec of specs) {
    const other = names.get(spec.name);
    if (other !== undefined)
      throw new Error(
        `Promotions "${other}" and "${spec.promotionId}" would share the SST name ${spec.name}; rename one of them.`,
      );
    names.set(spec.name, spec.promotionId);
  }
  return specs;
}

// ---------------------------------------------------------------------------------------------
// Alarms
// ---------------------------------------------------------------------------------------------

/** Custom metric the sender emits (Powertools Metrics, EMF) when it cannot tell whether PassEntry accepted a batch. */
export const unknownOutcomesMetric = UNKNOWN_OUTCOMES_METRIC;

/** What an alarm watches: one of our queues, the HTTP API, one function, or the stage's own metric. */
export type AlarmSubject =
  | "deadLetterQueue"
  | "messagesQueue"
  | "busDeadLetterQueue"
  | "promotionFailuresQueue"
  | "api"
  | "stage"
  | "function";

export interface AlarmSpec {
  /** The alarm's name after `wallet-messaging-<stage>-`. */
  name: string;
  /** What it means and what to do: the operator reads it in the notification. */
  description: string;
  namespace: string;
  metric: string;
  subject: AlarmSubject;
  statistic: "Sum" | "Maximum";
  /** The alarm fires above this (GreaterThanThreshold), on one period. */
  threshold: number;
  periodSeconds: number;
  /** Why this threshold and no other: the manifest is where a person changing it reads why. */
  thresholdReason: string;
}

/** SQS publishes queue metrics every 5 minutes: a shorter period only yields missing data. */
const SQS_PERIOD = 300;

/** A queue that only holds failures is either empty or someone should look. */
const failureQueueAlarm = (name: string, subject: AlarmSubject, description: string): AlarmSpec => ({
  name,
  description,
  namespace: "AWS/SQS",
  metric: "ApproximateNumberOfMessagesVisible",
  subject,
  statistic: "Maximum",
  threshold: 0,
  periodSeconds: SQS_PERIOD,
  thresholdReason:
    "Only failures land in this queue and none is expected: one message is one request or trigger that did not go through.",
});

/**
 * The stage's alarms, each for one way a message can stall or be lost. Every one notifies the
 * stage's one SNS topic (AlarmsTopic), when it fires and when it is OK again; no data means nothing
 * failed (an empty queue and an idle function publish nothing).
 */
export const alarms: readonly AlarmSpec[] = [
  failureQueueAlarm(
    "DeadLetterQueueNotEmpty",
    "deadLetterQueue",
    "Messages reached the dead-letter queue: a requested wallet message was not sent. Inspect and redrive (docs/deploy.md).",
  ),
  {
    name: "MessagesBacklogAge",
    description:
      "The oldest message in MessagesQueue has waited over 30 minutes: a backlog is building (more requests than PassEntry's pace drains, or a stalled sender). Read the sender's logs and its Errors alarm.",
    namespace: "AWS/SQS",
    metric: "ApproximateAgeOfOldestMessage",
    subject: "messagesQueue",
    statistic: "Maximum",
    threshold: 1_800,
    periodSeconds: SQS_PERIOD,
    thresholdReason:
      "Seconds. Nothing healthy waits that long: a follow-up waits at most 900 s per hop (SQS's longest delay), and a message retried three times or more no longer counts as the oldest (SQS moves it to the back). At ~8 sends/s, 30 minutes is a backlog of about 14,000 sends, or a sender that stopped.",
  },
  failureQueueAlarm(
    "BusDeliveryFailed",
    "busDeadLetterQueue",
    "EventBridge could not deliver WalletMessageRequested events to MessagesQueue: those requests were not queued. Read the messages in BusDeadLetterQueue (their ERROR_CODE attribute says why), fix the cause, and put the events again.",
  ),
  failureQueueAlarm(
    "PromotionTriggerFailed",
    "promotionFailuresQueue",
    "A promotion trigger never planned: Scheduler could not invoke the planner, or the planner failed every attempt. Read the planner's logs; the next hourly trigger re-plans occurrences still an hour or more ahead.",
  ),
  {
    name: "Api5xx",
    description:
      "The HTTP API answered 5xx: our handlers map every caller mistake to a 4xx, so this is ours (a secret not set, a crash, the queue unavailable). Read the route's function logs.",
    namespace: "AWS/ApiGateway",
    metric: "5xx",
    subject: "api",
    statistic: "Sum",
    threshold: 0,
    periodSeconds: 60,
    thresholdReason:
      "Any 5xx means a caller was turned away by us (or a webhook sender will retry): worth a look the first time, since caller mistakes are all 4xx.",
  },
  {
    name: "UnknownOutcomes",
    description:
      "The sender could not tell whether PassEntry accepted a batch; the part is held until an operator decides (npm run cli -- resolve). Check PassEntry's batches before anything is resent.",
    namespace: unknownOutcomesMetric.namespace,
    metric: unknownOutcomesMetric.name,
    subject: "stage",
    statistic: "Sum",
    threshold: 0,
    periodSeconds: 60,
    thresholdReason:
      "Each one is a part that will not be sent, nor reported sent, until a person decides: the first one needs a person.",
  },
];

/**
 * The alarms every function gets. Handlers turn every expected failure into an answer or a
 * per-message retry, so Errors counts only crashes and timeouts; Throttles counts invocations
 * Lambda refused for lack of concurrency (the sender's queue mapping caps its own concurrency and
 * is never throttled by it).
 *
 * @example
 *   functionAlarms("Sender").map((a) => a.name) // ["SenderErrors", "SenderThrottles"]
 */
export function functionAlarms(component: string): AlarmSpec[] {
  return [
    {
      name: `${component}Errors`,
      description: `The ${component} function failed whole invocations (a crash or a timeout), not single messages. Read its logs.`,
      namespace: "AWS/Lambda",
      metric: "Errors",
      subject: "function",
      statistic: "Sum",
      threshold: 0,
      periodSeconds: 60,
      thresholdReason:
        "Expected failures are answers or per-message retries, never invocation errors: one error is a crash or a timeout.",
    },
    {
      name: `${component}Throttles`,
      description: `Lambda refused to run the ${component} function for lack of concurrency: callers got 429/500, or events waited. Check the account's concurrency.`,
      namespace: "AWS/Lambda",
      metric: "Throttles",
      subject: "function",
      statistic: "Sum",
      threshold: 0,
      periodSeconds: 60,
      thresholdReason:
        "Nothing of ours reserves or limits concurrency on purpose except the sender's mapping, which does not throttle: any throttle means the account ran out.",
    },
  ];
}
