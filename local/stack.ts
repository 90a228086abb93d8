/**
 * The embedded home, assembled: the same handlers as on AWS, wired to SQLite (queue, requests,
 * ledger), in-process workers and a PassEntry (the sandbox or a real one). `npm start` and the
 * end-to-end tests both build it here, so what the tests drive is what a user runs.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { openSqlite, type SqliteDatabase } from "../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue } from "../functions/adapters/sqlite-message-queue.js";
import { SqliteRequestIntake } from "../functions/adapters/sqlite-request-intake.js";
import { SqliteRequestStore } from "../functions/adapters/sqlite-request-store.js";
import { SqliteSendLedger } from "../functions/adapters/sqlite-send-ledger.js";
import { StaticSecretStore } from "../functions/adapters/static-secret-store.js";
import { PassEntryHttpClient } from "../functions/adapters/passentry-http-client.js";
import { LocalEventPublisher } from "../functions/adapters/local-event-publisher.js";
import type { FollowUpSettings } from "../functions/core/follow-up-schedule.js";
import { makeRequestCancelHandler } from "../functions/handlers/request-cancel.js";
import { makeRequestResolveHandler } from "../functions/handlers/request-resolve.js";
import { sleep } from "../functions/core/pacer.js";
import { MAX_RECEIVES } from "../functions/core/retry-policy.js";
import { systemClock, type Clock, type Log, type MessageQueue, type RetryScheduler } from "../functions/core/ports.js";
import type { Automation } from "../functions/core/automations.js";
import type { ConsoleDeps, HttpDeps, PassEntryWebhookDeps, PlannerDeps, SenderDeps } from "../functions/wiring.js";
import { makeConsoleHandler } from "../functions/handlers/console.js";
import { SqliteDeadLetterQueue } from "../functions/adapters/sqlite-dead-letter-queue.js";
import type { Promotion } from "../functions/core/promotions.js";
import { makePlannerHandler } from "../functions/handlers/planner.js";
import { makeAcceptHandler } from "../functions/handlers/accept.js";
import { makeRequestStatusHandler } from "../functions/handlers/request-status.js";
import { makeRequestListHandler } from "../functions/handlers/request-list.js";
import { makePassEntryWebhookHandler } from "../functions/handlers/passentry-webhook.js";
import { handler as healthHandler } from "../functions/handlers/health.js";
import { makeSenderHandler } from "../functions/handlers/sender.js";
import { startHttpServer, type LocalHttpServer, type Route } from "./http-server.js";
import { QueueRunner } from "./queue-runner.js";
import { PromotionScheduler } from "./promotion-scheduler.js";
import { Door, type RateLimit, type UnverifiedBodyLimit } from "./door.js";

/**
 * The embedded home's event source mapping: an invocation takes up to a full shared batch of
 * one-recipient requests, gathering for a second when what it took may share a batch.
 */
export const SENDER_DEFAULTS = { batchSize: 500, gatherWindowMs: 1_000 } as const;

export interface LocalStackOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  dataDir: string;
  passEntryBaseUrl: string;
  passEntryToken: string;
  /** As in API_KEYS: `name:key,name2:key2`. */
  apiKeys: string;
  /** As in WEBHOOK_SIGNING_SECRETS: `name:whsec_…,…`. Unset: signed trigger requests are refused. */
  webhookSigningSecrets?: string;
  /** As in PASSENTRY_WEBHOOK_SECRETS. Unset: /webhooks/passentry refuses everything. */
  passEntryWebhookSecrets?: string;
  /** What PassEntry's events trigger (automations.json, parsed). */
  automations?: readonly Automation[];
  /** Per verified caller (see local/door.ts). Unset: no limit (tests that flood on purpose). */
  rateLimit?: RateLimit;
  /** Failed authentications per client address. Unset: no limit (tests that fail on purpose). */
  authFailureLimit?: RateLimit;
  /** What unverified (signed) requests may buffer. Default: DEFAULT_UNVERIFIED_BODY_LIMIT. */
  unverifiedBodyLimit?: UnverifiedBodyLimit;
  /** Top-level batch keys beyond our contract the operator allows (ALLOWED_BATCH_KEYS). Default none. */
  allowedBatchKeys?: readonly string[];
  log: Log;
  workers?: number;
  visibilityTimeoutSeconds?: number;
  maxReceives?: number;
  ratePerSecond?: number;
  passEntryTimeoutMs?: number;
  leaseMs?: number;
  reconcileMaxPages?: number;
  /** Messages one local invocation takes at most (default 500: a full shared batch of one-recipient requests). */
  batchSize?: number;
  /** How long a worker waits for more messages that may share a batch (default 1 s; 0 turns gathering off). */
  gatherWindowMs?: number;
  /** Requests that differ only in their recipients share PassEntry batches (default true). */
  shareBatches?: boolean;
  /** Wait after a PassEntry 5xx before looking for the batch (default 1 s). */
  serverErrorSettleMs?: number;
  /** Wait after a timeout or dropped connection before anyone looks for the batch (default 30 s). */
  timeoutSettleMs?: number;
  /** Timings of send-now, tracking and cancel follow-ups (defaults: 2 s doubling to 900 s, 7-day tracking horizon). */
  followUps?: Omit<FollowUpSettings, "queue">;
  clock?: Clock;
  /** Start the workers at once (default). Tests of the restart case accept first, then start them. */
  startWorkers?: boolean;
  idlePollMs?: number;
  /** The promotions the planner knows (npm start reads promotions.json). Default none. */
  promotions?: readonly Promotion[];
  /** The sandbox this process runs (npm start), shown on the console's home page. */
  consoleSandbox?: ConsoleDeps["sandbox"];
  /** Fire the promotions' hourly triggers (npm start: yes). Default off, so tests fire them when they choose. */
  startScheduler?: boolean;
}

export interface LocalStack {
  url: string;
  db: SqliteDatabase;
  queue: SqliteMessageQueue;
  store: SqliteRequestStore;
  ledger: SqliteSendLedger;
  secrets: StaticSecretStore;
  runner: QueueRunner;
  /** Outcome events (one log line each); `events.subscribe(listener)` to observe them. */
  events: LocalEventPublisher;
  /** The planner handler, as the scheduler (or EventBridge Scheduler on AWS) invokes it. */
  planner: ReturnType<typeof makePlannerHandler>;
  scheduler: PromotionScheduler;
  /**
   * Resolves once the queue holds no work in hand (dead letters aside): nothing visible or in flight,
   * and no follow-up due within the next minute. A follow-up waiting longer (tracking a batch
   * scheduled hours ahead) does not hold it up.
   */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function databasePath(dataDir: string): string {
  return join(dataDir, "wallet-messaging.db");
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log;
  const clock = options.clock ?? systemClock;
  const db = openSqlite(databasePath(options.dataDir));
  const queue = new SqliteMessageQueue(db, { maxReceives: options.maxReceives ?? MAX_RECEIVES });
  const store = new SqliteRequestStore(db);
  const ledger = new SqliteSendLedger(db);
  // Unconfigured webhook secrets are empty lists: every signature then fails as a 401, not a 500.
  const secrets = new StaticSecretStore({
    "passentry-token": options.passEntryToken,
    "api-keys": options.apiKeys,
    "webhook-signing-secrets": options.webhookSigningSecrets ?? "",
    "passentry-webhook-secrets": options.passEntryWebhookSecrets ?? "",
  });
  const visibilityTimeoutMs = (options.visibilityTimeoutSeconds ?? 30) * 1000;

  let runner: QueueRunner | undefined;
  // Wake idle workers the moment a request is queued, so a local send starts at once.
  const wakingQueue: MessageQueue = {
    send: async (body, sendOptions) => {
      const id = await queue.send(body, sendOptions);
      runner?.wake();
      return id;
    },
  };

  const httpDeps: HttpDeps = {
    accept: {
      store,
      queue: wakingQueue,
      // One SQLite transaction stores and queues each accepted request.
      intake: new SqliteRequestIntake(db, store, queue, () => runner?.wake()),
      clock,
      log,
      newRequestId: randomUUID,
      allowedBatchKeys: options.allowedBatchKeys ?? [],
    },
    secrets,
    ledger,
    log,
  };
  const webhookDeps: PassEntryWebhookDeps = { accept: httpDeps.accept, secrets, log, automations: options.automations ?? [] };
  const passEntry = new PassEntryHttpClient({
    baseUrl: options.passEntryBaseUrl,
    secrets,
    ratePerSecond: options.ratePerSecond ?? 9,
    timeoutMs: options.passEntryTimeoutMs ?? 10_000,
  });
  const events = new LocalEventPublisher(log);
  const instanceId = randomUUID().slice(0, 8);
  // One set of sender dependencies per worker: each its own owner id in ledger claims.
  const senderDepsFor = (worker: number, retries: RetryScheduler): SenderDeps => ({
    log,
    retries,
    send: {
      store,
      ledger,
      passEntry,
      clock,
      log,
      owner: `local-${instanceId}-w${worker}`,
      leaseMs: options.leaseMs ?? 60_000,
      sleep,
      reconcileMaxPages: options.reconcileMaxPages ?? 40,
      allowedBatchKeys: options.allowedBatchKeys ?? [],
      shareBatches: options.shareBatches ?? true,
      maxReceives: options.maxReceives ?? MAX_RECEIVES,
      ...(options.serverErrorSettleMs !== undefined ? { serverErrorSettleMs: options.serverErrorSettleMs } : {}),
      ...(options.timeoutSettleMs !== undefined ? { timeoutSettleMs: options.timeoutSettleMs } : {}),
      events,
      followUps: { ...options.followUps, queue: wakingQueue },
    },
  });
  runner = new QueueRunner({
    queue,
    handlerFor: (worker, retries) => {
      const deps = senderDepsFor(worker, retries);
      return makeSenderHandler(() => deps);
    },
    workers: options.workers ?? 2,
    batchSize: options.batchSize ?? SENDER_DEFAULTS.batchSize,
    gatherWindowMs: options.gatherWindowMs ?? SENDER_DEFAULTS.gatherWindowMs,
    visibilityTimeoutMs,
    log,
    idlePollMs: options.idlePollMs,
  });

  const plannerDeps: PlannerDeps = { plan: { store, queue: wakingQueue, clock, log }, promotions: options.promotions ?? [], log };
  const planner = makePlannerHandler(() => plannerDeps);
  const scheduler = new PromotionScheduler({ promotions: plannerDeps.promotions, trigger: planner, log, clock });

  const consoleDeps: ConsoleDeps = {
    store,
    ledger,
    secrets,
    log,
    clock,
    queue: wakingQueue,
    queueStats: async () => queue.stats(),
    deadLetters: new SqliteDeadLetterQueue(queue),
    promotions: options.promotions ?? [],
    automations: options.automations ?? [],
    sandbox: options.consoleSandbox,
    secureCookies: false,
  };
  const consoleHandler = makeConsoleHandler(() => consoleDeps);

  const routes: Route[] = [
    { method: "POST", path: "/api/v1/entities/{entityId}/messaging/wallet", handler: makeAcceptHandler(() => httpDeps), credential: "api-key-or-signature" },
    { method: "GET", path: "/api/v1/requests", handler: makeRequestListHandler(() => httpDeps), credential: "api-key" },
    { method: "GET", path: "/api/v1/requests/{requestId}", handler: makeRequestStatusHandler(() => httpDeps), credential: "api-key" },
    { method: "DELETE", path: "/api/v1/requests/{requestId}", handler: makeRequestCancelHandler(() => httpDeps), credential: "api-key" },
    { method: "POST", path: "/api/v1/requests/{requestId}/resolve", handler: makeRequestResolveHandler(() => httpDeps), credential: "api-key" },
    { method: "POST", path: "/webhooks/passentry", handler: makePassEntryWebhookHandler(() => webhookDeps), credential: "passentry-signature" },
    { method: "GET", path: "/health", handler: healthHandler, credential: "none" },
    // The console: pages check their session cookie themselves; only the sign-in form takes a key.
    { method: "GET", path: "/", handler: consoleHandler, credential: "none" },
    { method: "GET", path: "/console/requests/{requestId}", handler: consoleHandler, credential: "none" },
    { method: "POST", path: "/console/sign-in", handler: consoleHandler, credential: "console-sign-in" },
    { method: "POST", path: "/console/sign-out", handler: consoleHandler, credential: "none" },
    { method: "POST", path: "/console/redrive", handler: consoleHandler, credential: "none" },
    { method: "POST", path: "/console/requests/{requestId}/cancel", handler: consoleHandler, credential: "none" },
  ];
  let server: LocalHttpServer;
  try {
    server = await startHttpServer(routes, {
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      onError: (error) => log.error("local server error", { error: (error as Error).message }),
      onClientAbort: (error) => log.debug("client closed the connection before its request was read", { error: (error as Error).message }),
      door: new Door({ secrets, clock, rateLimit: options.rateLimit, authFailureLimit: options.authFailureLimit, unverifiedBodyLimit: options.unverifiedBodyLimit }),
    });
  } catch (error) {
    db.close();
    throw error;
  }
  if (options.startWorkers !== false) runner.start();
  if (options.startScheduler === true) scheduler.start();

  return {
    url: server.url,
    db,
    queue,
    store,
    ledger,
    secrets,
    runner,
    events,
    planner,
    scheduler,
    async drained(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (queue.pending(60_000) === 0) return;
        if (Date.now() > until) throw new Error(`The queue did not drain within ${timeoutMs} ms (${JSON.stringify(queue.depth())}).`);
        await sleep(25);
      }
    },
    async stop() {
      await scheduler.stop();
      await server.close();
      await runner!.stop();
      db.close();
    },
  };
}
