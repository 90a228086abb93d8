/**
 * The pipeline as unit tests drive it: the real handlers and use cases over real adapters (SQLite
 * in memory for requests, ledger and queue; a PassEntryHttpClient talking to a started PassEntry
 * sandbox), without the local HTTP server or workers. Tests post API Gateway events to the accept
 * handler, move what it queued into the sender with `deliverQueued()`, and then look at what the
 * sandbox received, what the queue holds and what the caller got back.
 *
 * @example
 *   const h = await startHarness();
 *   const answer = await h.accept(triggerEvent());
 *   await h.deliverQueued();
 *   expect(h.sandbox.batches()).toHaveLength(1);
 *   await h.close();
 */
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { PassEntryHttpClient } from "../../functions/adapters/passentry-http-client.js";
import { openSqlite, type SqliteDatabase } from "../../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue, type ReceivedMessage } from "../../functions/adapters/sqlite-message-queue.js";
import { SqliteRequestStore } from "../../functions/adapters/sqlite-request-store.js";
import { SqliteSendLedger } from "../../functions/adapters/sqlite-send-ledger.js";
import { StaticSecretStore } from "../../functions/adapters/static-secret-store.js";
import { LocalEventPublisher, type PublishedEvent } from "../../functions/adapters/local-event-publisher.js";
import type { FollowUpTimings } from "../../functions/core/follow-up-schedule.js";
import { composeAccept, composeSender } from "../../functions/composition.js";
import { defaultLocalConfig, senderSettings } from "../../functions/config.js";
import { sleep as realSleep } from "../../functions/core/pacer.js";
import type {
  Clock,
  EventPublisher,
  MessageQueue,
  SecretName,
  SecretStore,
  SendKey,
} from "../../functions/core/ports.js";
import { makeAcceptHandler } from "../../functions/handlers/accept.js";
import { makeRequestCancelHandler } from "../../functions/handlers/request-cancel.js";
import { makeRequestStatusHandler } from "../../functions/handlers/request-status.js";
import { makeSenderHandler } from "../../functions/handlers/sender.js";
import type { RequestCancelDeps } from "../../functions/handler-deps.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "../../local/passentry-sandbox/sandbox.js";
import { FIXTURE_API_KEY, FIXTURE_API_KEY_NAME, sqsRecord } from "./events.js";

/** A token nobody would use, so a test can search every log line and record for it. */
export const CANARY_TOKEN = "canary-token-1234";
/** A second API key, to tell key names apart. */
export const SHOP_API_KEY_NAME = "shop";
export const SHOP_API_KEY = "shop-test-key-0002";

/**
 * "Today" for the tests: PassEntry's own example is scheduled for 2030-03-31, so the suite runs on a
 * clock that starts on a fixed day and then advances in real time; it stays green after 2030.
 */
export const TEST_EPOCH = Date.parse("2025-06-02T09:00:00.000Z");

export function runningClockFrom(epoch: number): Clock {
  const startedAt = Date.now();
  return { now: () => epoch + (Date.now() - startedAt) };
}

export interface HarnessOptions {
  /** The sandbox's rate limit per endpoint and method; default 1000 (tests that need the real 10 say so). */
  rateLimitPerSecond?: number;
  /** More sandbox options (lifecycle timings, faults). */
  sandbox?: Omit<SandboxOptions, "rateLimitPerSecond" | "tokens" | "now">;
  /** Our client's pace per endpoint; default 100/s so tests do not wait on the production 9/s. */
  clientRatePerSecond?: number;
  clientTimeoutMs?: number;
  leaseMs?: number;
  reconcilePages?: number;
  /** Wait after a 5xx before looking for the batch; default 20 ms (production: 1 s). */
  serverErrorSettleMs?: number;
  /** Wait after a timeout before anyone looks for the batch; default 30 s as in production. */
  timeoutSettleMs?: number;
  /**
   * Follow up created batches (send-now, tracking, cancel) through the harness queue, with these
   * timings (use small delays, e.g. `{ firstDelaySeconds: 0.05 }`). Default off: tests of sending
   * alone then find only their own messages in the queue.
   */
  followUps?: Partial<FollowUpTimings>;
  /**
   * Publish outcome events: `true` to a LocalEventPublisher whose events `h.published` collects, or
   * this publisher (e.g. one that fails). Default off (no extra log lines).
   */
  events?: boolean | EventPublisher;
  /** Top-level batch keys beyond the contract that the accept path forwards (ALLOWED_BATCH_KEYS). Default none. */
  allowedBatchKeys?: readonly string[];
}

/** The accept handler's queue, which a test can make fail: `failNextSends(1)` throws once. */
export class FlakyQueue implements MessageQueue {
  private failures = 0;
  constructor(private readonly inner: MessageQueue) {}
  failNextSends(count: number): void {
    this.failures = count;
  }
  async send(body: unknown, options?: { delaySeconds?: number }): Promise<string> {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error("SQS SendMessage failed: ServiceUnavailable (simulated)");
    }
    return this.inner.send(body, options);
  }
}

/**
 * Caches each secret until it is invalidated, as the Secrets Manager store does for its max age.
 * StaticSecretStore reads the current value every time, so without this a rotated token would be
 * used at once and PassEntry's 401 path (refetch, retry once) would never run in a test.
 */
export class CachingSecretStore implements SecretStore {
  private readonly cache = new Map<SecretName, string>();
  constructor(private readonly source: SecretStore) {}
  async get(name: SecretName): Promise<string> {
    const cached = this.cache.get(name);
    if (cached !== undefined) return cached;
    const value = await this.source.get(name);
    this.cache.set(name, value);
    return value;
  }
  invalidate(name: SecretName): void {
    this.cache.delete(name);
    this.source.invalidate(name);
  }
}

type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
  /** The parsed JSON body. */
  body: any;
}

export interface Delivery {
  event: SQSEvent;
  response: SQSBatchResponse;
}

export interface Harness {
  sandbox: Sandbox;
  db: SqliteDatabase;
  store: SqliteRequestStore;
  ledger: SqliteSendLedger;
  queue: SqliteMessageQueue;
  /** What the accept handler sends to; wraps `queue`. */
  acceptQueue: FlakyQueue;
  /** The secrets' source of truth: `secrets.set("passentry-token", …)` rotates the token. */
  secrets: StaticSecretStore;
  log: MemoryLog;
  clock: Clock;
  passEntry: PassEntryHttpClient;
  /** Every wait the sender asked for, in ms (it really waits). */
  sleeps: number[];
  /** Sends whose outcome could not be decided. */
  unknownOutcomes: SendKey[];
  /** Outcome events published (with `events: true`), in order. */
  published: PublishedEvent[];
  /** Calls the accept handler and parses its JSON answer. */
  accept(event: APIGatewayProxyEventV2): Promise<HttpAnswer>;
  requestStatus(event: APIGatewayProxyEventV2): Promise<HttpAnswer>;
  requestCancel(event: APIGatewayProxyEventV2): Promise<HttpAnswer>;
  /** Calls the sender handler with an SQS event, as the event source mapping would. */
  send(event: SQSEvent, context?: { getRemainingTimeInMillis(): number }): Promise<SQSBatchResponse>;
  /**
   * Receives what the SQLite queue holds, hands it to the sender as one SQS event, deletes what
   * succeeded and makes the batchItemFailures visible again at once (so a test can redeliver).
   */
  deliverQueued(context?: { getRemainingTimeInMillis(): number }): Promise<Delivery>;
  /**
   * Delivers until the queue is empty, waiting for delayed messages (follow-ups) to become visible;
   * fails after `timeoutMs`. Returns every delivery made.
   */
  deliverUntilEmpty(timeoutMs?: number): Promise<Delivery[]>;
  /** Bodies of the messages waiting in the queue, parsed. */
  queuedBodies(): any[];
  /** How many requests the request store holds. */
  storedRequestCount(): number;
  /** Every row of every table (requests, ledger, queue), as text: to search for secrets. */
  everythingStored(): string;
  close(): Promise<void>;
}

/** Builds the pipeline; always `await harness.close()` (afterEach). */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = runningClockFrom(TEST_EPOCH);
  const sandbox = await startSandbox({
    ...options.sandbox,
    rateLimitPerSecond: options.rateLimitPerSecond ?? 1000,
    tokens: [CANARY_TOKEN],
    now: clock.now,
  });
  const db = openSqlite(":memory:");
  const store = new SqliteRequestStore(db);
  const ledger = new SqliteSendLedger(db);
  const queue = new SqliteMessageQueue(db, { now: clock.now });
  const acceptQueue = new FlakyQueue(queue);
  const secrets = new StaticSecretStore({
    "passentry-token": CANARY_TOKEN,
    "api-keys": `${FIXTURE_API_KEY_NAME}:${FIXTURE_API_KEY},${SHOP_API_KEY_NAME}:${SHOP_API_KEY}`,
  });
  const cachedSecrets = new CachingSecretStore(secrets);
  const log = new MemoryLog();
  const passEntry = new PassEntryHttpClient({
    baseUrl: sandbox.url,
    secrets: cachedSecrets,
    ratePerSecond: options.clientRatePerSecond ?? 100,
    timeoutMs: options.clientTimeoutMs ?? 5_000,
  });
  const sleeps: number[] = [];
  const unknownOutcomes: SendKey[] = [];
  const published: PublishedEvent[] = [];
  const events = new LocalEventPublisher(log);
  events.subscribe((event) => published.push(event));

  const config = {
    ...defaultLocalConfig(),
    ...(options.leaseMs !== undefined ? { SEND_LEASE_MS: options.leaseMs } : {}),
    RECONCILE_MAX_PAGES: options.reconcilePages ?? 8,
    PASSENTRY_TIMEOUT_MS: options.clientTimeoutMs ?? 5_000,
    ALLOWED_BATCH_KEYS: options.allowedBatchKeys ?? [],
  };
  // As the AWS wiring: no PassEntry call starts unless the client's timeout and a margin fit.
  const settings = senderSettings(config, "lambda");
  const acceptDeps = composeAccept(
    { store, queue: acceptQueue, clock, log, secrets: cachedSecrets },
    { allowedBatchKeys: config.ALLOWED_BATCH_KEYS },
  );
  const requestDeps: RequestCancelDeps = { store, ledger, queue: acceptQueue, clock, secrets: cachedSecrets, log };
  const senderDeps = composeSender(
    {
      store,
      ledger,
      passEntry,
      clock,
      log,
      owner: `test-${randomUUID()}`,
      sleep: async (ms) => {
        sleeps.push(ms);
        await realSleep(ms);
      },
      onUnknownOutcome: (key) => unknownOutcomes.push(key),
      ...(options.events ? { events: options.events === true ? events : options.events } : {}),
      ...(options.followUps ? { followUpQueue: queue } : {}),
    },
    {
      ...settings,
      serverErrorSettleMs: options.serverErrorSettleMs ?? 20,
      ...(options.timeoutSettleMs !== undefined ? { timeoutSettleMs: options.timeoutSettleMs } : {}),
      followUps: { ...settings.followUps, ...options.followUps },
    },
  );
  const acceptHandler = makeAcceptHandler(() => acceptDeps);
  const statusHandler = makeRequestStatusHandler(() => requestDeps);
  const cancelHandler = makeRequestCancelHandler(() => requestDeps);
  const senderHandler = makeSenderHandler(() => senderDeps);

  const call = async (handler: HttpHandler, event: APIGatewayProxyEventV2): Promise<HttpAnswer> => {
    const answer = await handler(event);
    const headers = Object.fromEntries(
      Object.entries(answer.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
    );
    return { statusCode: answer.statusCode ?? 200, headers, body: answer.body ? JSON.parse(answer.body) : undefined };
  };

  const send = (event: SQSEvent, context?: { getRemainingTimeInMillis(): number }) => senderHandler(event, context);
  const deliverQueued = async (context?: { getRemainingTimeInMillis(): number }): Promise<Delivery> => {
    const messages = queue.receive(10, 30_000);
    const event = toSqsEvent(messages);
    const response = await send(event, context);
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    for (const message of messages) {
      if (failed.has(message.messageId)) queue.release(message.receiptHandle, 0);
      else queue.delete(message.receiptHandle);
    }
    return { event, response };
  };

  return {
    sandbox,
    db,
    store,
    ledger,
    queue,
    acceptQueue,
    secrets,
    log,
    clock,
    passEntry,
    sleeps,
    unknownOutcomes,
    published,
    accept: (event) => call(acceptHandler, event),
    requestStatus: (event) => call(statusHandler, event),
    requestCancel: (event) => call(cancelHandler, event),
    send,
    deliverQueued,
    async deliverUntilEmpty(timeoutMs = 10_000) {
      const deliveries: Delivery[] = [];
      const until = Date.now() + timeoutMs;
      while (queue.peek().length > 0) {
        if (Date.now() > until)
          throw new Error(
            `The queue still held ${queue.peek().length} message(s) after ${timeoutMs} ms: ${queue
              .peek()
              .map((m) => m.body)
              .join(" | ")}`,
          );
        const delivery = await deliverQueued();
        if (delivery.event.Records.length > 0) deliveries.push(delivery);
        else await realSleep(10);
      }
      return deliveries;
    },
    queuedBodies: () => queue.peek().map((m) => JSON.parse(m.body)),
    storedRequestCount: () => (db.prepare("SELECT COUNT(*) AS n FROM requests").get() as { n: number }).n,
    everythingStored: () =>
      ["requests", "sends", "queue_messages"]
        .map((table) => JSON.stringify(db.prepare(`SELECT * FROM ${table}`).all()))
        .join("\n"),
    async close() {
      await sandbox.close();
      db.close();
    },
  };
}

/** The SQS event the event source mapping would build from these received messages. */
export function toSqsEvent(messages: ReceivedMessage[]): SQSEvent {
  return {
    Records: messages.map((m) => ({
      ...sqsRecord(m.body, { messageId: m.messageId, receiveCount: m.receiveCount }),
      receiptHandle: m.receiptHandle,
    })),
  };
}
