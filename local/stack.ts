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
import {
  type AcceptPorts,
  composeAccept,
  composePassEntryWebhook,
  composePlanner,
  composeSender,
} from "../functions/composition.js";
import { defaultLocalConfig, type LocalConfig, senderSettings, type SenderSettings } from "../functions/config.js";
import type { FollowUpTimings } from "../functions/core/follow-up-schedule.js";
import { makeRequestCancelHandler } from "../functions/handlers/request-cancel.js";
import { makeRequestResolveHandler } from "../functions/handlers/request-resolve.js";
import { sleep } from "../functions/core/pacer.js";
import { systemClock, type Clock, type Log, type MessageQueue } from "../functions/core/ports.js";
import type { Automation } from "../functions/core/automations.js";
import type { ConsoleDeps, RequestCancelDeps } from "../functions/handler-deps.js";
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
 * The embedded home's configuration: LocalConfig's variables (functions/config.ts), of which the
 * data directory, the PassEntry to talk to, its token and the API keys must be given; any other left
 * out takes LocalConfig's default. PORT left out picks a free port (npm start passes its 3000).
 */
export type LocalStackConfig = Partial<
  Omit<LocalConfig, "DATA_DIR" | "PASSENTRY_BASE_URL" | "PASSENTRY_TOKEN" | "API_KEYS">
> &
  Pick<LocalConfig, "DATA_DIR"> & { PASSENTRY_BASE_URL: string; PASSENTRY_TOKEN: string; API_KEYS: string };

/** What the embedded home takes beyond its configuration: what it logs to, and what tests choose. */
export interface LocalStackOptions extends LocalStackConfig {
  log: Log;
  /** What PassEntry's events trigger (automations.json, parsed). */
  automations?: readonly Automation[];
  /** The promotions the planner knows (npm start reads promotions.json). Default none. */
  promotions?: readonly Promotion[];
  /** Per verified caller (see local/door.ts; npm start: RATE_LIMIT_*). Unset: no limit (tests that flood on purpose). */
  rateLimit?: RateLimit;
  /** Failed authentications per client address. Unset: no limit (tests that fail on purpose). */
  authFailureLimit?: RateLimit;
  /** What unverified (signed) requests may buffer. Default: DEFAULT_UNVERIFIED_BODY_LIMIT. */
  unverifiedBodyLimit?: UnverifiedBodyLimit;
  /** Sender timings no variable sets (functions/config.ts DEFAULTS), shortened by tests that must not wait for them. */
  timings?: Partial<Pick<SenderSettings, "serverErrorSettleMs" | "timeoutSettleMs">> & {
    followUps?: Partial<FollowUpTimings>;
  };
  clock?: Clock;
  /** Start the workers at once (default). Tests of the restart case accept first, then start them. */
  startWorkers?: boolean;
  idlePollMs?: number;
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

/** The options that were given: an option left undefined takes its default rather than erasing it. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export function databasePath(dataDir: string): string {
  return join(dataDir, "wallet-messaging.db");
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { log, timings = {} } = options;
  const config: LocalConfig = { ...defaultLocalConfig(), ...definedOnly(options) };
  const clock = options.clock ?? systemClock;
  const db = openSqlite(databasePath(config.DATA_DIR));
  const queue = new SqliteMessageQueue(db, { maxReceives: config.MAX_RECEIVES });
  const store = new SqliteRequestStore(db);
  const ledger = new SqliteSendLedger(db);
  // Unconfigured webhook secrets are empty lists: every signature then fails as a 401, not a 500.
  const secrets = new StaticSecretStore({
    "passentry-token": options.PASSENTRY_TOKEN,
    "api-keys": options.API_KEYS,
    "webhook-signing-secrets": config.WEBHOOK_SIGNING_SECRETS ?? "",
    "passentry-webhook-secrets": config.PASSENTRY_WEBHOOK_SECRETS ?? "",
  });

  let runner: QueueRunner | undefined;
  // Wake idle workers the moment a request is queued, so a local send starts at once.
  const wakingQueue: MessageQueue = {
    send: async (body, sendOptions) => {
      const id = await queue.send(body, sendOptions);
      runner?.wake();
      return id;
    },
  };

  const acceptPorts: AcceptPorts = {
    store,
    queue: wakingQueue,
    // One SQLite transaction stores and queues each accepted request.
    intake: new SqliteRequestIntake(db, store, queue, () => runner?.wake()),
    clock,
    log,
    secrets,
  };
  const acceptSettings = { allowedBatchKeys: config.ALLOWED_BATCH_KEYS };
  const requestDeps: RequestCancelDeps = { store, ledger, queue: wakingQueue, clock, secrets, log };
  const passEntry = new PassEntryHttpClient({
    baseUrl: options.PASSENTRY_BASE_URL,
    secrets,
    ratePerSecond: config.PASSENTRY_RATE_PER_SECOND,
    timeoutMs: config.PASSENTRY_TIMEOUT_MS,
  });
  const events = new LocalEventPublisher(log);
  const defaults = senderSettings(config, "none");
  const settings: SenderSettings = {
    ...defaults,
    ...definedOnly(timings),
    followUps: { ...defaults.followUps, ...definedOnly(timings.followUps ?? {}) },
  };
  const instanceId = randomUUID().slice(0, 8);
  runner = new QueueRunner({
    queue,
    // One set of sender dependencies per worker: each its own owner id in ledger claims.
    handlerFor: (worker, retries) => {
      const deps = composeSender(
        {
          store,
          ledger,
          passEntry,
          clock,
          log,
          sleep,
          owner: `local-${instanceId}-w${worker}`,
          retries,
          events,
          followUpQueue: wakingQueue,
        },
        settings,
      );
      return makeSenderHandler(() => deps);
    },
    workers: config.SENDER_WORKERS,
    batchSize: config.SENDER_BATCH_SIZE,
    gatherWindowMs: config.SHARE_GATHER_MS,
    visibilityTimeoutMs: config.VISIBILITY_TIMEOUT_SECONDS * 1000,
    log,
    idlePollMs: options.idlePollMs,
  });

  const plannerDeps = composePlanner({ store, queue: wakingQueue, clock, log, promotions: options.promotions ?? [] });
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
  const acceptDeps = composeAccept(acceptPorts, acceptSettings);
  const webhookDeps = composePassEntryWebhook(
    { ...acceptPorts, automations: options.automations ?? [] },
    acceptSettings,
  );

  const routes: Route[] = [
    {
      method: "POST",
      path: "/api/v1/entities/{entityId}/messaging/wallet",
      handler: makeAcceptHandler(() => acceptDeps),
      credential: "api-key-or-signature",
    },
    {
      method: "GET",
      path: "/api/v1/requests",
      handler: makeRequestListHandler(() => requestDeps),
      credential: "api-key",
    },
    {
      method: "GET",
      path: "/api/v1/requests/{requestId}",
      handler: makeRequestStatusHandler(() => requestDeps),
      credential: "api-key",
    },
    {
      method: "DELETE",
      path: "/api/v1/requests/{requestId}",
      handler: makeRequestCancelHandler(() => requestDeps),
      credential: "api-key",
    },
    {
      method: "POST",
      path: "/api/v1/requests/{requestId}/resolve",
      handler: makeRequestResolveHandler(() => requestDeps),
      credential: "api-key",
    },
    {
      method: "POST",
      path: "/webhooks/passentry",
      handler: makePassEntryWebhookHandler(() => webhookDeps),
      credential: "passentry-signature",
    },
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
      host: config.HOST,
      port: options.PORT ?? 0,
      onError: (error) => log.error("local server error", { error: (error as Error).message }),
      onClientAbort: (error) =>
        log.debug("client closed the connection before its request was read", { error: (error as Error).message }),
      door: new Door({
        secrets,
        clock,
        rateLimit: options.rateLimit,
        authFailureLimit: options.authFailureLimit,
        unverifiedBodyLimit: options.unverifiedBodyLimit,
      }),
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
        if (Date.now() > until)
          throw new Error(`The queue did not drain within ${timeoutMs} ms (${JSON.stringify(queue.depth())}).`);
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
