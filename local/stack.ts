/**
 * The embedded home, assembled: the same handlers as on AWS, wired to SQLite (queue, requests,
 * ledger), in-process workers and a PassEntry (the sandbox or a real one). `npm start` and the
 * end-to-end tests both build it here, so what the tests drive is what a user runs.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { openSqlite, type SqliteDatabase } from "../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue } from "../functions/adapters/sqlite-message-queue.js";
import { SqliteRequestStore } from "../functions/adapters/sqlite-request-store.js";
import { SqliteSendLedger } from "../functions/adapters/sqlite-send-ledger.js";
import { StaticSecretStore } from "../functions/adapters/static-secret-store.js";
import { PassEntryHttpClient } from "../functions/adapters/passentry-http-client.js";
import { sleep } from "../functions/core/pacer.js";
import { systemClock, type Clock, type Log, type MessageQueue } from "../functions/core/ports.js";
import type { HttpDeps, SenderDeps } from "../functions/wiring.js";
import { makeAcceptHandler } from "../functions/handlers/accept.js";
import { makeRequestStatusHandler } from "../functions/handlers/request-status.js";
import { handler as healthHandler } from "../functions/handlers/health.js";
import { makeSenderHandler } from "../functions/handlers/sender.js";
import { startHttpServer, type LocalHttpServer, type Route } from "./http-server.js";
import { QueueRunner } from "./queue-runner.js";

export interface LocalStackOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  dataDir: string;
  passEntryBaseUrl: string;
  passEntryToken: string;
  /** As in API_KEYS: `name:key,name2:key2`. */
  apiKeys: string;
  log: Log;
  workers?: number;
  visibilityTimeoutSeconds?: number;
  maxReceives?: number;
  ratePerSecond?: number;
  passEntryTimeoutMs?: number;
  leaseMs?: number;
  reconcilePages?: number;
  clock?: Clock;
  /** Start the workers at once (default). Tests of the restart case accept first, then start them. */
  startWorkers?: boolean;
  idlePollMs?: number;
}

export interface LocalStack {
  url: string;
  db: SqliteDatabase;
  queue: SqliteMessageQueue;
  store: SqliteRequestStore;
  ledger: SqliteSendLedger;
  secrets: StaticSecretStore;
  runner: QueueRunner;
  /** Resolves once the queue has nothing visible or in flight (dead letters aside). */
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
  const queue = new SqliteMessageQueue(db, { maxReceives: options.maxReceives ?? 5 });
  const store = new SqliteRequestStore(db);
  const ledger = new SqliteSendLedger(db);
  const secrets = new StaticSecretStore({ "passentry-token": options.passEntryToken, "api-keys": options.apiKeys });
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

  const httpDeps: HttpDeps = { accept: { store, queue: wakingQueue, clock, log, newRequestId: randomUUID }, secrets, ledger, log };
  const passEntry = new PassEntryHttpClient({
    baseUrl: options.passEntryBaseUrl,
    secrets,
    ratePerSecond: options.ratePerSecond ?? 9,
    timeoutMs: options.passEntryTimeoutMs ?? 10_000,
  });
  const senderDeps: SenderDeps = {
    log,
    send: { store, ledger, passEntry, clock, log, owner: `local-${randomUUID()}`, leaseMs: options.leaseMs ?? 60_000, sleep, reconcilePages: options.reconcilePages ?? 8 },
  };

  const retryNotes = new Map<string, { error: string; delaySeconds?: number | undefined }>();
  const senderHandler = makeSenderHandler(() => senderDeps, {
    onRetry: (messageId, error, delaySeconds) => retryNotes.set(messageId, { error: error.message, delaySeconds }),
  });
  runner = new QueueRunner({ queue, handler: senderHandler, retryNotes, workers: options.workers ?? 2, visibilityTimeoutMs, log, idlePollMs: options.idlePollMs });

  const routes: Route[] = [
    { method: "POST", path: "/api/v1/entities/{entityId}/messaging/wallet", handler: makeAcceptHandler(() => httpDeps) },
    { method: "GET", path: "/api/v1/requests/{requestId}", handler: makeRequestStatusHandler(() => httpDeps) },
    { method: "GET", path: "/health", handler: healthHandler },
  ];
  let server: LocalHttpServer;
  try {
    server = await startHttpServer(routes, {
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      onError: (error) => log.error("local server error", { error: (error as Error).message }),
    });
  } catch (error) {
    db.close();
    throw error;
  }
  if (options.startWorkers !== false) runner.start();

  return {
    url: server.url,
    db,
    queue,
    store,
    ledger,
    secrets,
    runner,
    async drained(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const depth = queue.depth();
        if (depth.visible === 0 && depth.inFlight === 0) return;
        if (Date.now() > until) throw new Error(`The queue did not drain within ${timeoutMs} ms (${JSON.stringify(depth)}).`);
        await sleep(25);
      }
    },
    async stop() {
      await server.close();
      await runner!.stop();
      db.close();
    },
  };
}
