/**
 * The sender as the fault suite drives it: the real sender handler and send use case over the real
 * SQLite ledger and request store, talking HTTP to a PassEntry sandbox, with several "workers"
 * (separate owners and PassEntry clients, as separate Lambda instances would have) and a fake clock
 * for leases. Tests deliver the same SQS record to workers in any order, make a worker "crash", and
 * then count what the sandbox received: that, not our own records, is the evidence.
 *
 * @example
 *   const rig = await startSenderRig({ sandbox });
 *   const m = rig.message();
 *   await rig.worker("a").deliver(m.record);
 *   expect(rig.batchesFor(m.requestId)).toHaveLength(1);
 *   rig.close();
 */
import { randomUUID } from "node:crypto";
import type { SQSBatchResponse, SQSRecord } from "aws-lambda";
import { MemoryLog } from "../../../functions/adapters/memory-log.js";
import { PassEntryHttpClient } from "../../../functions/adapters/passentry-http-client.js";
import { openSqlite, type SqliteDatabase } from "../../../functions/adapters/sqlite-database.js";
import { SqliteRequestStore } from "../../../functions/adapters/sqlite-request-store.js";
import { SqliteSendLedger } from "../../../functions/adapters/sqlite-send-ledger.js";
import { StaticSecretStore } from "../../../functions/adapters/static-secret-store.js";
import { CircuitBreaker } from "../../../functions/core/circuit-breaker.js";
import type { Clock, PassEntryClient, SendKey, SendLedger } from "../../../functions/core/ports.js";
import { renderRequest } from "../../../functions/core/request-view.js";
import { isMarkedFor } from "../../../functions/core/batch-rules.js";
import { makeSenderHandler } from "../../../functions/handlers/sender.js";
import { composeSender } from "../../../functions/composition.js";
import { defaultLocalConfig, senderSettings } from "../../../functions/config.js";
import type { Sandbox, SandboxBatch } from "../../../local/passentry-sandbox/sandbox.js";
import { sqsRecord } from "../../support/events.js";
import { CachingSecretStore } from "../../support/harness.js";

export const CREATE_ROUTE = "POST /api/v1/entities/:id/messaging/wallet";
export const LIST_ROUTE = "GET /api/v1/batches";
/** A day well before PassEntry's example date (2030), so scheduled dates stay in the future. */
export const FAULTS_EPOCH = Date.parse("2025-06-02T09:00:00.000Z");
export const SANDBOX_TOKEN = "faults-token-0001";

/** A clock that moves only when told (and when the sender "sleeps", by the time it asked for). */
export interface FakeClock extends Clock {
  advance(ms: number): void;
}

export function fakeClock(start = FAULTS_EPOCH): FakeClock {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

/** A clock that starts on a fixed day and then runs in real time (for the sandbox's "not in the past" check). */
export function runningClock(start = FAULTS_EPOCH): Clock {
  const startedAt = Date.now();
  return { now: () => start + (Date.now() - startedAt) };
}

/** Thrown by a worker that "dies"; deliberately not one of our error classes. */
export class SimulatedCrash extends Error {
  constructor(where: string) {
    super(`simulated crash ${where}`);
    this.name = "SimulatedCrash";
  }
}

/** Where a worker is to die on its next send: each count is consumed by one crash. */
export interface CrashSwitches {
  /** Right after PassEntry answered 202, before the outcome is written: the claim stays as a dead worker leaves it. */
  afterPost: number;
  /** After the claim, before the POST leaves. */
  beforePost: number;
}

/** `inner` with some methods replaced; every other member (today's and tomorrow's) passes through. */
function intercept<T extends object>(inner: T, overrides: Partial<T>): T {
  return new Proxy(inner, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function crashingLedger(inner: SendLedger, crash: CrashSwitches): SendLedger {
  return intercept(inner, {
    // Recording the batch is the write that makes an entry `sent`: die just before it.
    write: async (move) => {
      if (move.next.state === "sent" && crash.afterPost > 0) {
        crash.afterPost -= 1;
        throw new SimulatedCrash(`after PassEntry created batch ${move.next.batchId}`);
      }
      return inner.write(move);
    },
  });
}

function crashingPassEntry(inner: PassEntryClient, crash: CrashSwitches): PassEntryClient {
  return intercept(inner, {
    createBatch: async (input) => {
      if (crash.beforePost > 0) {
        crash.beforePost -= 1;
        throw new SimulatedCrash("after claiming, before posting");
      }
      return inner.createBatch(input);
    },
  });
}

export interface Worker {
  owner: string;
  /** Arm these to make the worker die at that point of its next send. */
  crash: CrashSwitches;
  /** Delivers records as one SQS event, as the event source mapping would. */
  deliver(records: SQSRecord | SQSRecord[], remainingMs?: number): Promise<SQSBatchResponse>;
  /** Why records were kept for retry, with the delay the sender asked for (seconds). */
  retries: { messageId: string; error: string; delaySeconds: number | undefined }[];
}

export interface TestMessage {
  requestId: string;
  entityId: string;
  body: Record<string, unknown>;
  /** One SQS record carrying the body; deliver it again for a redelivery (same message id). */
  record: SQSRecord;
}

export interface SenderRigOptions {
  sandbox: Sandbox;
  leaseMs?: number;
  reconcilePages?: number;
  /** Wait after a timeout before anyone looks for the batch (default 30 s, on the fake clock). */
  timeoutSettleMs?: number;
  clientTimeoutMs?: number;
  /** The sender's waits (429s) move the fake clock by what they asked for (default), or leave it where it is. */
  sleepMovesClock?: boolean;
}

export interface SenderRig {
  sandbox: Sandbox;
  db: SqliteDatabase;
  store: SqliteRequestStore;
  ledger: SqliteSendLedger;
  clock: FakeClock;
  log: MemoryLog;
  /** Source of the PassEntry token: `secrets.set("passentry-token", …)` rotates it. */
  secrets: StaticSecretStore;
  /** Every wait the sender asked for, in ms. */
  sleeps: number[];
  /** Keys whose outcome could not be decided (the onUnknownOutcome hook). */
  unknownOutcomes: SendKey[];
  worker(name: string): Worker;
  message(overrides?: { requestId?: string; entityId?: string; batch?: Record<string, unknown> }): TestMessage;
  /** The same body in a new SQS message (a duplicate send, or a copy put back from the dead-letter queue). */
  copyOf(message: TestMessage): SQSRecord;
  /** Batches the sandbox created for this request's chunk, found by the marker in the name. */
  batchesFor(requestId: string, chunk?: number): SandboxBatch[];
  /** Create POSTs the sandbox answered 202 on this entity's path. */
  acceptedPostsFor(entityId: string): number;
  /** What GET /api/v1/requests/{id} would answer: the overall state and each send. */
  view(requestId: string): Promise<ReturnType<typeof renderRequest>["data"]["attributes"]>;
  close(): void;
}

export async function startSenderRig(options: SenderRigOptions): Promise<SenderRig> {
  const { sandbox } = options;
  const clock = fakeClock();
  const db = openSqlite(":memory:");
  const store = new SqliteRequestStore(db);
  const ledger = new SqliteSendLedger(db);
  const log = new MemoryLog();
  const secrets = new StaticSecretStore({ "passentry-token": SANDBOX_TOKEN });
  const sleeps: number[] = [];
  const unknownOutcomes: SendKey[] = [];
  // Waits are recorded, never slept: the fake clock stands in for time.
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    if (options.sleepMovesClock !== false) clock.advance(ms);
    await new Promise((resolve) => setImmediate(resolve));
  };

  // As on AWS with PassEntry's default 10 s client timeout: no call starts with less than 15 s left.
  const settings = senderSettings(
    {
      ...defaultLocalConfig(),
      ...(options.leaseMs !== undefined ? { SEND_LEASE_MS: options.leaseMs } : {}),
      RECONCILE_MAX_PAGES: options.reconcilePages ?? 8,
    },
    "lambda",
  );
  const worker = (name: string): Worker => {
    // A separate client (token cache, pacer) per worker, as separate processes would have.
    const http = new PassEntryHttpClient({
      baseUrl: sandbox.url,
      secrets: new CachingSecretStore(secrets),
      ratePerSecond: 200,
      timeoutMs: options.clientTimeoutMs ?? 3_000,
      // The outage breaker's cooldown runs on the fake clock too, so advancing time closes it.
      breaker: new CircuitBreaker({ now: clock.now }),
    });
    const crash: CrashSwitches = { afterPost: 0, beforePost: 0 };
    const owner = `${name}-${randomUUID()}`;
    const retries: Worker["retries"] = [];
    const delivered = new Map<string, string>();
    const deps = composeSender(
      {
        store,
        ledger: crashingLedger(ledger, crash),
        passEntry: crashingPassEntry(http, crash),
        clock,
        log,
        owner,
        sleep,
        onUnknownOutcome: (key) => unknownOutcomes.push(key),
        retries: {
          retryAfter: async (receiptHandle, delaySeconds, reason) => {
            retries.push({ messageId: delivered.get(receiptHandle) ?? receiptHandle, error: reason, delaySeconds });
          },
        },
      },
      {
        ...settings,
        ...(options.timeoutSettleMs !== undefined ? { timeoutSettleMs: options.timeoutSettleMs } : {}),
      },
    );
    const handler = makeSenderHandler(() => deps);
    return {
      owner,
      crash,
      retries,
      deliver: (records, remainingMs = 60_000) => {
        const list = Array.isArray(records) ? records : [records];
        for (const record of list) delivered.set(record.receiptHandle, record.messageId);
        const startedAt = clock.now();
        // The invocation's remaining time runs on the fake clock, as the sender's waits do.
        return handler({ Records: list }, { getRemainingTimeInMillis: () => remainingMs - (clock.now() - startedAt) });
      },
    };
  };

  const message: SenderRig["message"] = (overrides = {}) => {
    const requestId = overrides.requestId ?? `req-${randomUUID()}`;
    const entityId = overrides.entityId ?? `ent-${randomUUID().slice(0, 8)}`;
    const body = {
      requestId,
      entityId,
      batch: overrides.batch ?? {
        message: `Hello from ${requestId}`,
        segments: [{ groupTag: "faults" }],
        scheduledAt: "2030-03-31T13:16:26Z",
      },
      source: "sqs",
      acceptedAt: new Date(FAULTS_EPOCH).toISOString(),
    };
    return { requestId, entityId, body, record: sqsRecord(body) };
  };

  return {
    sandbox,
    db,
    store,
    ledger,
    clock,
    log,
    secrets,
    sleeps,
    unknownOutcomes,
    worker,
    message,
    copyOf: (m) => sqsRecord(m.body),
    batchesFor: (requestId, chunk = 0) => sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId, chunk })),
    acceptedPostsFor: (entityId) =>
      sandbox
        .requests()
        .filter(
          (r) =>
            r.routeKey === CREATE_ROUTE &&
            r.status === 202 &&
            r.path === `/api/v1/entities/${entityId}/messaging/wallet`,
        ).length,
    async view(requestId) {
      const request = await store.get(requestId);
      if (!request) throw new Error(`The rig has no request ${requestId}.`);
      return renderRequest(request, await ledger.list(requestId)).data.attributes;
    },
    close: () => db.close(),
  };
}

/** Fails the test's wait with a clear message rather than hanging. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  everyMs = 25,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
