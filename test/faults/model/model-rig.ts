/**
 * The model run's rig: the real sender, cancel and accept handlers over the real SQLite ledger,
 * request store and queue, an in-process PassEntry built from the sandbox's own BatchStore and route
 * table (no HTTP), several "Lambda instances" that stop at every port call on a gate the model
 * controls, and ONE virtual clock shared by all of it.
 *
 * THIS IS THE ONLY FILE OF THE MODEL RUN THAT IMPORTS PRODUCTION CODE. When the ledger API changes
 * (SendDeps, SendLedger methods, ClaimResult, how a record asks for its retry delay, …) adapt it
 * here; model-world.ts, the property and the regressions speak only this file's vocabulary.
 *
 * How it works
 * - Gates. Every port call an actor makes (store, ledger, PassEntry, queue send, sleep, and on the
 *   DynamoDB ledger every SDK command) parks the actor until the model releases it with `step`,
 *   optionally with a fault for that call. So other actors can act between any two calls, not only
 *   between whole deliveries.
 * - Crashes. `crash` marks the actor dead at its gate: that call and every later call throws
 *   SimulatedCrash, so a dead instance writes nothing more. Its received messages are not deleted
 *   and come back after the visibility timeout, as in SQS. The slot then holds a fresh instance
 *   with a new owner id (a new Lambda cold start).
 * - Time. Nothing reads the wall clock: ledger claims, the queue's visibility and delays, the
 *   sandbox's batch lifecycle, the pacer, the circuit breaker and every sleep use `clock`. A sleep is
 *   a gate; releasing it moves the clock to the sleeper's wake-up time. On the AWS home a call that
 *   finds the Lambda's deadline passed kills the instance (before the call, or — when the clock
 *   crossed it during the call — after the call took effect, with the answer lost).
 * - PassEntry. Requests go through the real PassEntryHttpClient (so errors are classified exactly as
 *   in production) whose `fetch` is served in process by the sandbox's route handlers. Faults are
 *   applied there: 429 (with and without retry-after), 5xx before or after the effect, timeouts and
 *   dropped answers before/after the effect or with the effect appearing later, slow answers.
 */
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { DynamoDbSendLedger } from "../../../functions/adapters/dynamodb-send-ledger.js";
import { MemoryLog } from "../../../functions/adapters/memory-log.js";
import { PassEntryHttpClient } from "../../../functions/adapters/passentry-http-client.js";
import { openSqlite, type SqliteDatabase } from "../../../functions/adapters/sqlite-database.js";
import { SqliteMessageQueue, type ReceivedMessage } from "../../../functions/adapters/sqlite-message-queue.js";
import { SqliteRequestStore } from "../../../functions/adapters/sqlite-request-store.js";
import { SqliteSendLedger } from "../../../functions/adapters/sqlite-send-ledger.js";
import { StaticSecretStore } from "../../../functions/adapters/static-secret-store.js";
import { CircuitBreaker } from "../../../functions/core/circuit-breaker.js";
import { Pacer } from "../../../functions/core/pacer.js";
import type {
  EventPublisher,
  MessageQueue,
  RequestStore,
  RetryScheduler,
  SendKey,
  SendLedger,
} from "../../../functions/core/ports.js";
import { readParts, renderRequest } from "../../../functions/core/request-view.js";
import type { WalletMessageEvent } from "../../../functions/core/schemas.js";
import { makeAcceptHandler } from "../../../functions/handlers/accept.js";
import { makeRequestCancelHandler } from "../../../functions/handlers/request-cancel.js";
import { makeSenderHandler } from "../../../functions/handlers/sender.js";
import type { RequestCancelDeps, SenderDeps } from "../../../functions/handler-deps.js";
import { composeAccept, composeSender } from "../../../functions/composition.js";
import { DEFAULTS, defaultLocalConfig, senderSettings, type SenderSettings } from "../../../functions/config.js";
import { matchRoute, type RouteServices } from "../../../local/passentry-sandbox/api-routes.js";
import { BatchStore } from "../../../local/passentry-sandbox/batch-store.js";
import { REFUSED_RECIPIENT_MARKER } from "../../../local/passentry-sandbox/validation.js";
import type { LocalDynamoDb } from "../../adapters/support/local-dynamodb.js";
import {
  FIXTURE_API_KEY,
  FIXTURE_API_KEY_NAME,
  loadFixture,
  requestCancelEvent,
  triggerEvent,
} from "../../support/events.js";

/** "Today" in the model: before PassEntry's example date (2030), so scheduled dates lie ahead. */
export const MODEL_EPOCH = Date.parse("2025-06-02T09:00:00.000Z");
/** PassEntryHttpClient's per-request timeout in the model; a timeout fault moves the clock this far. */
export const PASSENTRY_TIMEOUT_MS = 10_000;
/** A recipient carrying this anywhere makes the in-process PassEntry refuse the whole batch (422), as for an unknown pass. */
export const REFUSED_PASS = REFUSED_RECIPIENT_MARKER;

/**
 * The callers the model's doors know: an API key each (the trigger and cancel handlers authenticate
 * them for real, so the stored request carries its caller, which is what sharing a batch keys on).
 */
export const CALLERS = { crm: FIXTURE_API_KEY, shop: "shop-model-key-0001" } as const;
export type CallerName = keyof typeof CALLERS;

/** The sandbox's lifecycle on the virtual clock: validating 2 s, then scheduled for 70 min (see model-world.ts), sending 60 s. */
export const SANDBOX_TIMINGS = { validatingMs: 2_000, scheduledMs: 70 * 60_000, sendingMs: 60_000 } as const;

// ---------------------------------------------------------------------------------------------
// Homes: the numbers each home runs with.

export type HomeName = "aws" | "local";

export interface Home {
  name: HomeName;
  /** The queue's visibility timeout: 6 × 60 s + 1 s on AWS; VISIBILITY_TIMEOUT_SECONDS (30) locally. */
  visibilityMs: number;
  /** The sender Lambda's timeout; null locally, where nothing kills a worker. */
  lambdaTimeoutMs: number | null;
  /**
   * The sender's settings, as each home's composition reads them (functions/config.ts): on AWS the
   * lease is the sender's timeout + 30 s (infra/manifest.ts) and no call starts without the client
   * timeout and a margin left; locally the defaults, with no deadline.
   */
  settings: SenderSettings;
}

/** The defaults, with the lease AWS sets and the model's PassEntry timeout. */
const modelConfig = (leaseMs: number) => ({ ...defaultLocalConfig(), SEND_LEASE_MS: leaseMs, PASSENTRY_TIMEOUT_MS });

export const HOMES: Record<HomeName, Home> = {
  aws: {
    name: "aws",
    visibilityMs: 361_000,
    lambdaTimeoutMs: 60_000,
    settings: senderSettings(modelConfig(90_000), "lambda"),
  },
  local: {
    name: "local",
    visibilityMs: 30_000,
    lambdaTimeoutMs: null,
    settings: senderSettings(modelConfig(DEFAULTS.sendLeaseMs), "none"),
  },
};

// ---------------------------------------------------------------------------------------------
// Faults the model can attach to a call.

export type PassEntryOp = "createBatch" | "getBatch" | "listBatches" | "sendNow" | "cancelBatch";
/** The PassEntry calls that change something there (so a fault can come after their effect). */
export const EFFECTFUL_OPS: readonly PassEntryOp[] = ["createBatch", "sendNow", "cancelBatch"];

export type PassEntryFault =
  /** Rate limited, no effect. `retryAfter` is x-rate-limit-retry-after (absent: no header). */
  | { kind: "429"; retryAfter?: string }
  /** A server error; `afterEffect`: PassEntry did it (created the batch) and then answered the error. */
  | { kind: "5xx"; status: 500 | 502 | 503; afterEffect: boolean }
  /**
   * No answer within the client's timeout (the clock moves PASSENTRY_TIMEOUT_MS). The effect happens
   * `never`, at once (`before-timeout`), or `lateMs` after the call started (PassEntry still working).
   */
  | { kind: "timeout"; effect: "never" | "before-timeout" | { lateMs: number } }
  /** The connection drops after PassEntry did it: the effect happened, the answer is lost. */
  | { kind: "drop-after-effect" }
  /** The answer comes, but `ms` later (the clock moves while the caller waits: slow list pages). */
  | { kind: "slow"; ms: number };

export type CallFault = PassEntryFault | { kind: "queue-send-fails" };

export function describeFault(fault: CallFault): string {
  switch (fault.kind) {
    case "429":
      return fault.retryAfter === undefined ? "429 without retry-after" : `429 retry-after ${fault.retryAfter}`;
    case "5xx":
      return `${fault.status} ${fault.afterEffect ? "after the effect" : "before any effect"}`;
    case "timeout":
      return fault.effect === "never"
        ? "timeout, no effect"
        : fault.effect === "before-timeout"
          ? "timeout after the effect"
          : `timeout, effect ${fault.effect.lateMs / 1000} s later`;
    case "drop-after-effect":
      return "answer dropped after the effect";
    case "slow":
      return `slow answer (${fault.ms / 1000} s)`;
    case "queue-send-fails":
      return "queue send fails";
  }
}

/** Whether `fault` means anything for the call an actor is parked at. */
export function faultFits(fault: CallFault, call: ParkedCall): boolean {
  if (fault.kind === "queue-send-fails") return call.port === "queue" && call.op === "send";
  if (call.port !== "passEntry") return false;
  const needsEffect =
    (fault.kind === "5xx" && fault.afterEffect) ||
    fault.kind === "drop-after-effect" ||
    (fault.kind === "timeout" && fault.effect !== "never");
  return !needsEffect || (EFFECTFUL_OPS as readonly string[]).includes(call.op);
}

// ---------------------------------------------------------------------------------------------
// Virtual time.

export class VirtualClock {
  private current: number;
  private readonly listeners: (() => void)[] = [];
  /** The next moment something is due (a late PassEntry effect): a jump stops there first. */
  nextDue: () => number | undefined = () => undefined;
  constructor(start = MODEL_EPOCH) {
    this.current = start;
  }
  readonly now = (): number => this.current;
  advance(ms: number): void {
    if (ms > 0) this.advanceTo(this.current + ms);
  }
  advanceTo(at: number): void {
    for (let due = this.nextDue(); due !== undefined && due > this.current && due < at; due = this.nextDue())
      this.moveTo(due);
    if (at > this.current) this.moveTo(at);
  }
  onAdvance(listener: () => void): void {
    this.listeners.push(listener);
  }
  private moveTo(at: number): void {
    this.current = at;
    for (const listener of this.listeners) listener();
  }
}

// ---------------------------------------------------------------------------------------------
// Actors and gates.

export type Port = "store" | "ledger" | "passEntry" | "queue" | "sleep" | "dynamodb";

/** The call an actor is stopped at. `requestId`/`chunk` say which send it concerns, when it names one. */
export interface ParkedCall {
  port: Port;
  op: string;
  detail: string;
  requestId?: string;
  chunk?: number;
}

/** Thrown by every call of a dead actor; deliberately not one of our error classes. */
export class SimulatedCrash extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SimulatedCrash";
  }
}

export type ActorName = string;

class Actor {
  generation = 0;
  dead = false;
  deathCause = "";
  /** Run every gate straight through (the quiet drain): no parking, no faults. */
  autopilot = false;
  parked: { call: ParkedCall; release: (fault: CallFault | undefined) => void } | undefined;
  /** The invocation in progress: an SQS batch for a sender, a DELETE for the canceller. */
  busy = false;
  deadline: number | null = null;
  /** The fault the next PassEntry request of this actor is to meet (set by its gate). */
  armedFault: PassEntryFault | undefined;
  private arrival: (() => void) | undefined;

  constructor(readonly name: ActorName) {}

  get id(): string {
    return `${this.name}.${this.generation}`;
  }
  get owner(): string {
    return `model-${this.id}`;
  }
  /** Resolves the next time this actor parks at a gate or finishes its invocation. */
  nextArrival(): Promise<void> {
    return new Promise((resolve) => {
      this.arrival = resolve;
    });
  }
  arrive(): void {
    const arrival = this.arrival;
    this.arrival = undefined;
    arrival?.();
  }
}

// ---------------------------------------------------------------------------------------------
// What the rig records, for invariants and for readable failures.

export interface PassEntryCall {
  seq: number;
  at: number;
  actorId: string;
  op: PassEntryOp;
  /** Time left in the Lambda invocation when the call started (AWS home), else null. */
  remainingMs: number | null;
  fault: PassEntryFault | undefined;
  /** The posted document for creates (the whole body, `batch` wrapper included). */
  body?: unknown;
}

export interface Creation {
  batchId: string;
  /** When the POST that created it was made, and when PassEntry created it (later for a late effect). */
  requestSeq: number;
  effectSeq: number;
  at: number;
  actorId: string;
}

/** A ledger call that finished: the actor knows the entry as of `seq`. */
export interface LedgerConsult {
  seq: number;
  actorId: string;
  requestId: string;
  /** Undefined when the call concerned the whole request (e.g. list). */
  chunk: number | undefined;
}

export interface CancelAnswer {
  requestId: string;
  status: number;
  seq: number;
  at: number;
  /** The state each part had in the 202 answer (chunk → ledger state), when answered 202. */
  shownStates: Map<number, string>;
}

export interface ModelBatch {
  id: string;
  message: string;
  name: string;
  tag: string | null;
  body: { batch?: { recipients?: { passId?: string }[]; [key: string]: unknown } };
  status: string;
  scheduledAt: string;
  sentNowAt: string | null;
  cancelledAt: string | null;
}

export interface PartView {
  chunk: number;
  state: string;
  batchId: string | null;
  batchStatus: string | null;
  note: string | null;
  reason: string | null;
  /** The shared batch (group) that carries or carried this part, if any. */
  groupId: string | null;
}
export interface RequestView {
  status: string;
  parts: PartView[];
}

export interface QueueMessageView {
  messageId: string;
  body: string;
  receiveCount: number;
}

// ---------------------------------------------------------------------------------------------
// The in-process PassEntry.

const PASSENTRY_URL = "https://passentry.model";

function opOf(template: string | undefined, method: string): PassEntryOp | undefined {
  if (template === "/api/v1/entities/:id/messaging/wallet" && method === "POST") return "createBatch";
  if (template === "/api/v1/batches" && method === "GET") return "listBatches";
  if (template === "/api/v1/batches/:id" && method === "GET") return "getBatch";
  if (template === "/api/v1/batches/:id/send-now" && method === "POST") return "sendNow";
  if (template === "/api/v1/batches/:id/cancel" && method === "PATCH") return "cancelBatch";
  return undefined;
}

class InProcessPassEntry {
  readonly store: BatchStore;
  readonly calls: PassEntryCall[] = [];
  readonly creations: Creation[] = [];
  private readonly services: RouteServices;
  private readonly scripted = new Map<PassEntryOp, PassEntryFault[]>();
  private outage: { until: number; status: 500 | 502 | 503 } | undefined;
  private deferred: { at: number; run: () => void }[] = [];

  constructor(private readonly rig: ModelRig) {
    this.store = new BatchStore({ ...SANDBOX_TIMINGS }, rig.clock.now);
    this.services = { store: this.store, notifications: [], baseUrl: PASSENTRY_URL, now: rig.clock.now };
  }

  /** Faults consumed one per matching call, whoever makes it (regressions script PassEntry this way). */
  script(op: PassEntryOp, faults: PassEntryFault[]): void {
    this.scripted.set(op, [...(this.scripted.get(op) ?? []), ...faults]);
  }

  /** Every call before `until` answers `status` and has no effect. */
  outageUntil(until: number, status: 500 | 502 | 503 = 503): void {
    this.outage = { until, status };
  }

  /** Batches of other tenants, created directly (a busy account), newest last. */
  prefill(count: number, tag = "other"): void {
    for (let i = 0; i < count; i++)
      this.handle("POST", `/api/v1/entities/other-tenant/messaging/wallet`, {
        batch: { message: `Another tenant's batch ${tag}-${i}`, segments: [{ groupTag: "other" }] },
      });
  }

  /** When the next late effect is due, if any. */
  nextDue(): number | undefined {
    return this.deferred.length === 0 ? undefined : Math.min(...this.deferred.map((d) => d.at));
  }

  /** Applies effects PassEntry was still working on when their caller gave up, once their time has come. */
  settle(): void {
    if (this.deferred.length === 0) return;
    const now = this.rig.clock.now();
    const due = this.deferred.filter((d) => d.at <= now).sort((a, b) => a.at - b.at);
    this.deferred = this.deferred.filter((d) => d.at > now);
    for (const d of due) d.run();
  }

  batches(): ModelBatch[] {
    return this.store.snapshots().map((b) => ({
      id: b.id,
      message: b.message,
      name: b.name,
      tag: b.tag,
      body: b.body,
      status: b.status,
      scheduledAt: b.scheduledAt,
      sentNowAt: b.sentNowAt,
      cancelledAt: b.cancelledAt,
    }));
  }

  fetchFor(actor: Actor): typeof fetch {
    return async (input, init) => {
      const url = new URL(String(input));
      const method = init?.method ?? "GET";
      const match = matchRoute(method, url.pathname);
      const op = opOf(match?.template, method);
      if (!match?.route || !op) throw new Error(`The model's PassEntry has no ${method} ${url.pathname}.`);
      const fault = this.takeFault(actor, op);
      const rawBody = typeof init?.body === "string" ? init.body : "";
      const call: PassEntryCall = {
        seq: this.rig.nextSeq(),
        at: this.rig.clock.now(),
        actorId: actor.id,
        op,
        remainingMs: actor.deadline === null ? null : actor.deadline - this.rig.clock.now(),
        fault,
        ...(op === "createBatch" ? { body: JSON.parse(rawBody || "null") as unknown } : {}),
      };
      this.calls.push(call);
      const route = match.route;
      const effect = () =>
        this.effect(op, call, actor, () =>
          route.handle(
            {
              params: match.params,
              query: url.searchParams,
              rawBody: Buffer.from(rawBody),
              contentType: "application/json",
            },
            this.services,
          ),
        );

      if (fault === undefined) return toResponse(effect());
      switch (fault.kind) {
        case "429":
          return toResponse({
            status: 429,
            headers: {
              "content-type": "application/json",
              ...(fault.retryAfter !== undefined ? { "x-rate-limit-retry-after": fault.retryAfter } : {}),
            },
            payload: JSON.stringify({ errors: ["Too Many Requests"] }),
          });
        case "5xx":
          if (fault.afterEffect) effect();
          return toResponse({
            status: fault.status,
            headers: { "content-type": "application/json" },
            payload: JSON.stringify({ errors: ["Internal Server Error"] }),
          });
        case "timeout":
          if (fault.effect === "before-timeout") effect();
          else if (typeof fault.effect === "object")
            this.deferred.push({ at: call.at + fault.effect.lateMs, run: effect });
          this.rig.clock.advance(PASSENTRY_TIMEOUT_MS);
          throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
        case "drop-after-effect":
          effect();
          throw new TypeError("fetch failed", { cause: { code: "ECONNRESET" } });
        case "slow":
          this.rig.clock.advance(fault.ms);
          return toResponse(effect());
      }
    };
  }

  /** Serves a request with no actor and no fault (prefill). */
  private handle(method: string, path: string, body: unknown): void {
    const match = matchRoute(method, path);
    if (!match?.route) throw new Error(`No sandbox route for ${method} ${path}.`);
    match.route.handle(
      {
        params: match.params,
        query: new URLSearchParams(),
        rawBody: Buffer.from(JSON.stringify(body)),
        contentType: "application/json",
      },
      this.services,
    );
  }

  private takeFault(actor: Actor, op: PassEntryOp): PassEntryFault | undefined {
    const armed = actor.armedFault;
    actor.armedFault = undefined;
    if (armed) return armed;
    const scripted = this.scripted.get(op)?.shift();
    if (scripted) return scripted;
    if (this.outage && this.rig.clock.now() < this.outage.until)
      return { kind: "5xx", status: this.outage.status, afterEffect: false };
    return undefined;
  }

  private effect(
    op: PassEntryOp,
    call: PassEntryCall,
    actor: Actor,
    run: () => { status: number; headers: Record<string, string>; payload: string },
  ) {
    const answer = run();
    if (op === "createBatch" && answer.status === 202) {
      const id = (JSON.parse(answer.payload) as { data: { id: string } }).data.id;
      this.creations.push({
        batchId: id,
        requestSeq: call.seq,
        effectSeq: this.rig.nextSeq(),
        at: this.rig.clock.now(),
        actorId: actor.id,
      });
      this.rig.note(`PassEntry created batch ${short(id)} for ${actor.id}`);
    }
    return answer;
  }
}

/**
 * What PassEntryHttpClient reads of an answer (ok, status, headers.get, text). Building undici
 * Responses was a tenth of the model run's time; this is the same answer without the streams.
 */
function toResponse(answer: { status: number; headers: Record<string, string>; payload: string }): Response {
  const headers = new Map(Object.entries(answer.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const response = {
    ok: answer.status >= 200 && answer.status < 300,
    status: answer.status,
    headers: { get: (name: string) => headers.get(name.toLowerCase()) ?? null },
    text: async () => answer.payload,
  };
  return response as unknown as Response;
}

// ---------------------------------------------------------------------------------------------
// The rig.

export interface ModelRigOptions {
  home: HomeName;
  /** Sender instances (each its own owner id, as separate Lambda instances). Default 3. */
  workers?: number;
  /** The SQLite ledger (default), or the DynamoDB one on a dynalite server the caller started. */
  ledger?: { kind: "sqlite" } | { kind: "dynamodb"; dynamo: LocalDynamoDb };
  /**
   * Messages the quiet drain hands a worker at once (an SQS batch). Default 5: a delivery can hold
   * several requests that share a PassEntry batch, as the sender's event source and the embedded
   * home's runner deliver them.
   */
  drainBatchSize?: number;
}

const SQS_TEMPLATE: SQSRecord = loadFixture<SQSEvent>("sqs-send-request.json").Records[0]!;
const API_KEYS_SECRET = JSON.stringify({ [FIXTURE_API_KEY_NAME]: CALLERS.crm, shop: CALLERS.shop });
const WATCHDOG_MS = 10_000;

export class ModelRig {
  readonly clock = new VirtualClock();
  readonly home: Home;
  readonly passEntry: InProcessPassEntry;
  readonly log = new MemoryLog();
  /** Every executed call and rig event, one line each (the tail goes into failure messages). */
  readonly trace: string[] = [];
  readonly ledgerConsults: LedgerConsult[] = [];
  readonly cancelAnswers: CancelAnswer[] = [];
  /** Keys the sender reported through onUnknownOutcome (the UnknownOutcomes metric on AWS). */
  readonly unknownOutcomes: SendKey[] = [];
  /** Outcome events published (not judged by the invariants; there for whoever reads a failing run). */
  readonly events: WalletMessageEvent[] = [];
  /** The calls actors were crashed at (for the survey's count of what a run exercised). */
  readonly crashes: ParkedCall[] = [];
  /** Lambda instances the AWS home's timeout killed, and whether a PassEntry call was in flight then. */
  readonly deadlineKills: { actorId: string; at: number; duringCall: string | null }[] = [];
  readonly workerNames: ActorName[];
  readonly cancellerName: ActorName = "canceller";

  private seq = 0;
  private readonly db: SqliteDatabase;
  private readonly queue: SqliteMessageQueue;
  private readonly store: SqliteRequestStore;
  private readonly plainLedger: SendLedger;
  private readonly ledgerFor: (actor: Actor) => SendLedger;
  private readonly actors = new Map<ActorName, Actor>();
  private readonly builtDeps = new Map<string, SenderDeps>();
  private nextRequestNumber = 0;
  private readonly drainBatchSize: number;
  /** Whose API key made each HTTP request: its DELETE is made with the same key (another caller's would be a 404). */
  private readonly callerOf = new Map<string, CallerName>();

  private constructor(options: ModelRigOptions, tableName: string | undefined) {
    this.home = HOMES[options.home];
    this.passEntry = new InProcessPassEntry(this);
    this.clock.onAdvance(() => this.passEntry.settle());
    this.clock.nextDue = () => this.passEntry.nextDue();
    this.db = withStatementCache(openSqlite(":memory:"));
    this.queue = new SqliteMessageQueue(this.db, { maxReceives: this.home.settings.maxReceives, now: this.clock.now });
    this.store = new SqliteRequestStore(this.db);
    if (options.ledger?.kind === "dynamodb") {
      const dynamo = options.ledger.dynamo;
      this.plainLedger = new DynamoDbSendLedger({ tableName: tableName!, client: dynamo.client() });
      // Each actor's own client stops at every DynamoDB command, so a cancel can land between a read and a write.
      this.ledgerFor = (actor) =>
        oneWriteAtATime(
          new DynamoDbSendLedger({
            tableName: tableName!,
            client: dynamo.client({
              beforeSend: (command, input) =>
                this.gate(
                  actor,
                  { port: "dynamodb", op: command.replace(/Command$/, ""), detail: dynamoDetail(input) },
                  async () => undefined,
                ),
            }),
          }),
        );
    } else {
      const ledger = new SqliteSendLedger(this.db);
      this.plainLedger = ledger;
      this.ledgerFor = () => ledger;
    }
    this.drainBatchSize = options.drainBatchSize ?? 5;
    this.workerNames = Array.from({ length: options.workers ?? 3 }, (_, i) => `w${i}`);
    for (const name of [...this.workerNames, this.cancellerName]) this.actors.set(name, new Actor(name));
  }

  static async start(options: ModelRigOptions): Promise<ModelRig> {
    const tableName = options.ledger?.kind === "dynamodb" ? await options.ledger.dynamo.createTable() : undefined;
    return new ModelRig(options, tableName);
  }

  close(): void {
    this.db.close();
  }

  nextSeq(): number {
    return ++this.seq;
  }

  note(line: string): void {
    this.trace.push(`${this.time()} ${line}`);
  }

  time(): string {
    return `t+${((this.clock.now() - MODEL_EPOCH) / 1000).toFixed(1)}s`;
  }

  advance(ms: number): void {
    this.clock.advance(ms);
  }

  // -------------------------------------------------------------------------------------------
  // Doors.

  /** POST /api/v1/entities/{entityId}/messaging/wallet through the accept handler, with `caller`'s API key. Atomic (not gated). */
  async submitHttp(
    entityId: string,
    batch: Record<string, unknown>,
    label: string,
    caller: CallerName = "crm",
  ): Promise<{ status: number; requestId: string | undefined; errors: string[] }> {
    const requestId = `req-${label}-${++this.nextRequestNumber}`;
    const deps = composeAccept(
      {
        store: this.store,
        queue: this.queue,
        clock: this.clock,
        log: this.log,
        secrets: this.apiKeySecrets(),
        newRequestId: () => requestId,
      },
      { allowedBatchKeys: [] },
    );
    const answer = await makeAcceptHandler(() => deps)(
      triggerEvent({ entityId, body: { batch }, headers: { authorization: `Bearer ${CALLERS[caller]}` } }),
    );
    const body = JSON.parse(String(answer.body ?? "{}")) as { data?: { id?: string }; errors?: string[] };
    this.note(
      `POST …/messaging/wallet (${label}${caller === "crm" ? "" : `, as ${caller}`}) → ${answer.statusCode}${body.data?.id ? ` ${body.data.id}` : ""}`,
    );
    if (answer.statusCode === 202 && body.data?.id) this.callerOf.set(body.data.id, caller);
    return {
      status: answer.statusCode ?? 0,
      requestId: answer.statusCode === 202 ? body.data?.id : undefined,
      errors: body.errors ?? [],
    };
  }

  /** Another AWS service's SendMessage straight to the queue, without a requestId. Returns the message id. */
  async submitSqs(body: Record<string, unknown>, label: string): Promise<string> {
    const id = await this.queue.send(body);
    this.note(`SQS SendMessage (${label}) → ${short(id)}`);
    return id;
  }

  /** Request ids the store holds for requests carrying this message text (raw SQS requests have no id of ours to look up). */
  requestIdsCarrying(message: string): string[] {
    const rows = this.db.prepare("SELECT record FROM requests").all() as { record: string }[];
    return rows
      .map((r) => JSON.parse(r.record) as { requestId: string; batch: { message: string } })
      .filter((r) => r.batch.message === message)
      .map((r) => r.requestId);
  }

  /**
   * What GET /api/v1/requests/{id} answers (request-status.ts: a part riding in a shared batch shows
   * that batch's status and notes, read from the group's own part), trimmed to what the invariants read.
   */
  async view(requestId: string): Promise<RequestView | undefined> {
    const request = await this.store.get(requestId);
    if (!request) return undefined;
    const attributes = renderRequest(request, await readParts(this.plainLedger, requestId)).data.attributes;
    return {
      status: attributes.status,
      parts: attributes.batches.map((b) => ({
        chunk: b.chunk,
        state: b.state,
        batchId: b.batchId,
        batchStatus: b.status,
        note: b.note,
        reason: b.reason,
        groupId: b.sharedBatch?.groupId ?? null,
      })),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Queue.

  hasVisibleMessage(): boolean {
    return this.queue.depth().visible > 0;
  }
  liveMessages(): QueueMessageView[] {
    return this.queue.peek();
  }
  deadLetters(): QueueMessageView[] {
    return this.queue
      .deadLetters()
      .map((d) => ({ messageId: d.messageId, body: d.body, receiveCount: d.receiveCount }));
  }

  /**
   * SQS's redrive (AWS's move task, and our dlq tool on SQS): each dead letter's body comes back
   * under a NEW message id with a fresh receive count. (The local queue's own redrive keeps the id;
   * SQS cannot, which is what issue 10 item 8 is about.)
   */
  async redrive(): Promise<number> {
    const letters = this.queue.deadLetters();
    for (const letter of letters) {
      const id = await this.queue.send(JSON.parse(letter.body));
      this.db.prepare("DELETE FROM queue_messages WHERE message_id = ? AND dead_at IS NOT NULL").run(letter.messageId);
      this.note(`redrive ${short(letter.messageId)} → ${short(id)}`);
    }
    return letters.length;
  }

  // -------------------------------------------------------------------------------------------
  // Actors.

  private actor(name: ActorName): Actor {
    const actor = this.actors.get(name);
    if (!actor) throw new Error(`The rig has no actor ${name}.`);
    return actor;
  }

  isIdle(name: ActorName): boolean {
    return !this.actor(name).busy;
  }
  parkedCall(name: ActorName): ParkedCall | undefined {
    return this.actor(name).parked?.call;
  }
  actorId(name: ActorName): string {
    return this.actor(name).id;
  }

  /** The worker takes up to `max` visible messages as one SQS event and runs until its first gate. False if nothing was visible. */
  async receive(name: ActorName, max = 1): Promise<boolean> {
    const actor = this.actor(name);
    if (actor.busy) throw new Error(`${name} is busy.`);
    const received = this.queue.receive(max, this.home.visibilityMs);
    if (received.length === 0) return false;
    this.note(
      `${actor.id} receives ${received.map((m) => `${short(m.messageId)} (receive ${m.receiveCount})`).join(", ")}`,
    );
    await this.begin(actor, () => this.invokeSender(actor, received));
    return true;
  }

  /** SQS delivers a second copy of a live message (at-least-once) to this worker: same message id, its own receipt. */
  async deliverCopy(name: ActorName, index: number): Promise<boolean> {
    const actor = this.actor(name);
    const live = this.queue.peek();
    if (actor.busy || live.length === 0) return false;
    const message = live[index % live.length]!;
    this.note(`${actor.id} receives a duplicate copy of ${short(message.messageId)}`);
    const copy: ReceivedMessage = {
      messageId: message.messageId,
      body: message.body,
      receiptHandle: `duplicate-${randomUUID()}`,
      receiveCount: Math.max(1, message.receiveCount),
      sentAt: this.clock.now(),
    };
    await this.begin(actor, () => this.invokeSender(actor, [copy]));
    return true;
  }

  /** DELETE /api/v1/requests/{id} as another actor (gated like a worker). Runs until its first gate. */
  async startCancel(requestId: string): Promise<void> {
    const actor = this.actor(this.cancellerName);
    if (actor.busy) throw new Error("The canceller is busy.");
    this.note(`${actor.id}: DELETE /api/v1/requests/${requestId}`);
    await this.begin(actor, () => this.invokeCancel(actor, requestId));
  }

  /** Releases the actor's gate (with a fault for that call, if any) and waits until it parks again or finishes. */
  async step(name: ActorName, fault?: CallFault): Promise<void> {
    const actor = this.actor(name);
    const parked = actor.parked;
    if (!parked) throw new Error(`${name} is not parked at a gate.`);
    if (fault && !faultFits(fault, parked.call))
      throw new Error(`The fault "${describeFault(fault)}" does not fit ${parked.call.port}.${parked.call.op}.`);
    const arrived = actor.nextArrival();
    parked.release(fault);
    await watchdog(arrived, `${actor.id} after ${parked.call.port}.${parked.call.op}`);
  }

  /** Kills the actor at its gate: that call and every later one throws; nothing it received is deleted. */
  async crash(name: ActorName): Promise<void> {
    const actor = this.actor(name);
    if (!actor.parked) throw new Error(`${name} is not parked at a gate.`);
    this.crashes.push(actor.parked.call);
    this.die(actor, `crashed at ${actor.parked.call.port}.${actor.parked.call.op}`);
    await this.step(name);
  }

  /** Steps the actor without faults until it finishes its invocation. */
  async runToEnd(name: ActorName): Promise<void> {
    while (this.actor(name).busy) await this.step(name);
  }

  /** Steps the actor without faults until it is parked at a call `matches` accepts; throws if it finishes first. */
  async runUntil(
    name: ActorName,
    matches: (call: ParkedCall) => boolean,
    what = "the call asked for",
  ): Promise<ParkedCall> {
    for (;;) {
      const actor = this.actor(name);
      const call = actor.parked?.call;
      if (call && matches(call)) return call;
      if (!actor.busy) throw new Error(`${name} finished its invocation without reaching ${what}.`);
      await this.step(name);
    }
  }

  /**
   * The quiet drain: no new faults (faults a regression scripted are still consumed as calls
   * arrive), every actor finishes what it holds, dead instances are replaced, and the clock jumps to
   * each next message that becomes visible (past every lease, visibility timeout and backoff) while
   * live workers take messages until the queue holds nothing but dead letters. Returns false when it
   * gave up after `maxDeliveries` (the system kept finding work: a liveness failure).
   */
  async quietDrain(maxDeliveries = 2_000): Promise<boolean> {
    for (const actor of this.actors.values()) actor.autopilot = true;
    try {
      for (const actor of this.actors.values()) if (actor.busy && actor.parked) await this.step(actor.name);
      let deliveries = 0;
      let turn = 0;
      for (;;) {
        if (this.hasVisibleMessage()) {
          if (deliveries++ >= maxDeliveries) return false;
          const name = this.workerNames[turn++ % this.workerNames.length]!;
          await this.receive(name, this.drainBatchSize);
          continue;
        }
        const next = this.db
          .prepare("SELECT MIN(visible_at) AS at FROM queue_messages WHERE dead_at IS NULL")
          .get() as { at: number | null };
        // A batch PassEntry is still creating appears before the run is judged, even with nothing queued.
        const due = next.at ?? this.passEntry.nextDue();
        if (due === undefined) return true;
        this.clock.advanceTo(due);
      }
    } finally {
      for (const actor of this.actors.values()) actor.autopilot = false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Gates and invocations.

  private async begin(actor: Actor, run: () => Promise<void>): Promise<void> {
    actor.busy = true;
    const arrived = actor.nextArrival();
    void run()
      .catch((error: unknown) => this.note(`${actor.id} invocation threw: ${(error as Error).message}`))
      .finally(() => {
        actor.busy = false;
        actor.deadline = null;
        if (actor.dead) this.respawn(actor);
        actor.arrive();
      });
    await watchdog(arrived, `${actor.id} starting`);
  }

  private respawn(actor: Actor): void {
    actor.generation += 1;
    actor.dead = false;
    actor.deathCause = "";
    actor.parked = undefined;
    actor.armedFault = undefined;
    this.note(`${actor.name} is replaced by a fresh instance ${actor.id}`);
  }

  private die(actor: Actor, cause: string): void {
    if (actor.dead) return;
    actor.dead = true;
    actor.deathCause = cause;
    this.note(`${actor.id} DIES: ${cause}`);
  }

  /** On the AWS home, the Lambda is gone once its deadline has passed. */
  private pastDeadline(actor: Actor, during: string | null): boolean {
    if (actor.dead || actor.deadline === null || this.clock.now() <= actor.deadline) return actor.dead;
    this.deadlineKills.push({ actorId: actor.id, at: this.clock.now(), duringCall: during });
    this.die(actor, `killed by the Lambda timeout${during ? ` while ${during} was in flight` : ""}`);
    return true;
  }

  /** Parks the actor before `call`, then makes it (with the fault the model chose) unless the actor died meanwhile. */
  private async gate<T>(actor: Actor, call: ParkedCall, run: (fault: CallFault | undefined) => Promise<T>): Promise<T> {
    const dead = () =>
      new SimulatedCrash(`${actor.id} is dead (${actor.deathCause}); ${call.port}.${call.op} never happened.`);
    if (this.pastDeadline(actor, null)) throw dead();
    let fault: CallFault | undefined;
    if (!actor.autopilot) {
      fault = await new Promise<CallFault | undefined>((release) => {
        actor.parked = { call, release };
        actor.arrive();
      });
      actor.parked = undefined;
    }
    if (this.pastDeadline(actor, null)) throw dead();
    this.passEntry.settle();
    this.trace.push(
      `${this.time()} ${actor.id}: ${call.port}.${call.op}(${call.detail})${fault ? ` ⚡ ${describeFault(fault)}` : ""}`,
    );
    if (fault?.kind === "queue-send-fails") throw new Error("SQS SendMessage failed (injected by the model).");
    if (fault) actor.armedFault = fault;
    let result: T;
    try {
      result = await run(fault);
    } catch (error) {
      this.consulted(actor, call);
      if (this.pastDeadline(actor, call.port === "passEntry" ? call.op : null)) throw dead();
      throw error;
    } finally {
      actor.armedFault = undefined;
    }
    this.consulted(actor, call);
    // The clock crossed the deadline during the call: it took effect, but the instance died before reading the answer.
    if (this.pastDeadline(actor, call.port === "passEntry" ? call.op : null)) throw dead();
    return result;
  }

  /** A finished ledger call (answered or refused): the actor has seen the entry as it stood then. */
  private consulted(actor: Actor, call: ParkedCall): void {
    if (call.port === "ledger" && call.requestId !== undefined && !actor.dead) {
      this.ledgerConsults.push({
        seq: this.nextSeq(),
        actorId: actor.id,
        requestId: call.requestId,
        chunk: call.chunk,
      });
    }
  }

  /** `target` with every method behind the actor's gate: today's methods and tomorrow's alike. */
  private gated<T extends object>(actor: Actor, port: Port, target: T): T {
    return new Proxy(target, {
      get: (inner, property) => {
        const value = Reflect.get(inner, property, inner) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) =>
          this.gate(actor, { port, op: String(property), ...describeArgs(port, args) }, async () =>
            (value as (...a: unknown[]) => unknown).apply(inner, args),
          );
      },
    });
  }

  private sleeper(actor: Actor): (ms: number) => Promise<void> {
    return (ms) => {
      const wakeAt = this.clock.now() + ms;
      return this.gate(actor, { port: "sleep", op: "sleep", detail: `${Math.round(ms)} ms` }, async () =>
        this.clock.advanceTo(wakeAt),
      );
    };
  }

  private eventsOf(actor: Actor): EventPublisher {
    return {
      publish: async (event) => {
        if (actor.dead) throw new SimulatedCrash(`${actor.id} is dead; no event published.`);
        this.events.push(event);
      },
    };
  }

  private apiKeySecrets(): StaticSecretStore {
    return new StaticSecretStore({ "api-keys": API_KEYS_SECRET });
  }

  /** One sender instance's dependencies, built once per instance (a Lambda keeps its client, pacer and breaker between invocations). */
  private senderDeps(actor: Actor): SenderDeps {
    const built = this.builtDeps.get(actor.id);
    if (built) return built;
    const deps = this.buildSenderDeps(actor);
    this.builtDeps.set(actor.id, deps);
    return deps;
  }

  /**
   * A fresh instance (after a crash) gets a fresh client, pacer and breaker, and a new owner id.
   * Every worker has its own owner id on both homes (local/stack.ts gives each embedded worker
   * its own), as the model's actors do.
   */
  private buildSenderDeps(actor: Actor): SenderDeps {
    const passEntry = new PassEntryHttpClient({
      baseUrl: PASSENTRY_URL,
      secrets: new StaticSecretStore({ "passentry-token": "model-token" }),
      timeoutMs: PASSENTRY_TIMEOUT_MS,
      // Pacing at the production rate on the virtual clock: time moves as an instance works.
      // (Whole milliseconds: at ~1.7e12 ms a sub-millisecond step may not change the number at all.)
      pacer: new Pacer({
        perSecond: 9,
        now: this.clock.now,
        sleep: async (ms) => this.clock.advance(Math.max(1, Math.ceil(ms))),
      }),
      breaker: new CircuitBreaker({ now: this.clock.now }),
      fetch: this.passEntry.fetchFor(actor),
    });
    const queue: MessageQueue = this.gated(actor, "queue", {
      send: (body: unknown, options?: { delaySeconds?: number }) => this.queue.send(body, options),
    });
    return composeSender(
      {
        store: this.gated<RequestStore>(actor, "store", this.store),
        ledger: this.gated(actor, "ledger", this.ledgerFor(actor)),
        passEntry: this.gated(actor, "passEntry", passEntry),
        clock: this.clock,
        log: this.log,
        owner: actor.owner,
        sleep: this.sleeper(actor),
        // Jitter at its midpoint: fast-check must be able to replay a run exactly.
        random: () => 0.5,
        // ChangeMessageVisibility is a queue call like any other: it can be the step an instance dies at.
        retries: this.gated<RetryScheduler>(actor, "queue", {
          retryAfter: (handle: string, seconds: number, reason: string) =>
            this.queue.retryAfter(handle, seconds, reason),
        }),
        onUnknownOutcome: (key) => {
          this.unknownOutcomes.push({ requestId: key.requestId, chunk: key.chunk });
        },
        events: this.eventsOf(actor),
        followUpQueue: queue,
      },
      this.home.settings,
    );
  }

  private async invokeSender(actor: Actor, received: ReceivedMessage[]): Promise<void> {
    const startedAt = this.clock.now();
    actor.deadline = this.home.lambdaTimeoutMs === null ? null : startedAt + this.home.lambdaTimeoutMs;
    const deps = this.senderDeps(actor);
    const handler = makeSenderHandler(() => deps);
    // The embedded home has no deadline (local/queue-runner.ts passes no Lambda context: the handler assumes 60 s).
    const remainingMs = actor.deadline !== null ? () => actor.deadline! - this.clock.now() : () => 60_000;
    const event: SQSEvent = { Records: received.map((m) => sqsRecordOf(m)) };
    let answer: SQSBatchResponse | undefined;
    try {
      answer = await handler(event, { getRemainingTimeInMillis: remainingMs });
    } catch (error) {
      this.note(`${actor.id} handler threw: ${(error as Error).message}`);
    }
    if (actor.dead) return; // A dead instance answers nothing: SQS hands every record back after the visibility timeout.
    const failed = new Set(
      answer ? answer.batchItemFailures.map((f) => f.itemIdentifier) : received.map((m) => m.messageId),
    );
    // What failed stays in flight until the sender's own retryAfter (ChangeMessageVisibility on AWS,
    // its local twin) or the visibility timeout makes it visible again, in both homes.
    for (const message of received) if (!failed.has(message.messageId)) this.queue.delete(message.receiptHandle);
    this.note(`${actor.id} finished: ${received.length - failed.size} done, ${failed.size} handed back`);
  }

  private async invokeCancel(actor: Actor, requestId: string): Promise<void> {
    const store = this.gated<RequestStore>(actor, "store", this.store);
    const queue: MessageQueue = this.gated(actor, "queue", {
      send: (body: unknown, options?: { delaySeconds?: number }) => this.queue.send(body, options),
    });
    const deps: RequestCancelDeps = {
      store,
      queue,
      clock: this.clock,
      secrets: this.apiKeySecrets(),
      ledger: this.gated(actor, "ledger", this.ledgerFor(actor)),
      log: this.log,
    };
    const answer = await makeRequestCancelHandler(() => deps)(
      cancelEvent(requestId, CALLERS[this.callerOf.get(requestId) ?? "crm"]),
    );
    if (actor.dead) return; // API Gateway answers 5xx for a dead function: not an acknowledgement.
    const status = answer.statusCode ?? 0;
    const shownStates = new Map<number, string>();
    if (status === 202) {
      const body = JSON.parse(String(answer.body)) as {
        data: { attributes: { batches: { chunk: number; state: string }[] } };
      };
      for (const part of body.data.attributes.batches) shownStates.set(part.chunk, part.state);
    }
    this.cancelAnswers.push({ requestId, status, seq: this.nextSeq(), at: this.clock.now(), shownStates });
    this.note(
      `${actor.id}: DELETE ${requestId} answered ${status}${status === 202 ? ` (parts: ${[...shownStates].map(([c, s]) => `#${c} ${s}`).join(", ")})` : ""}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * The SQLite adapters prepare their SQL on every call; over thousands of runs that was the largest
 * cost of the model run. Prepared statements are reusable (every use here is synchronous), so this
 * handle hands out one per SQL text. Behaviour is unchanged.
 */
function withStatementCache(db: SqliteDatabase): SqliteDatabase {
  const prepare = db.prepare.bind(db);
  const statements = new Map<string, ReturnType<SqliteDatabase["prepare"]>>();
  db.prepare = ((sql: string) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  }) as SqliteDatabase["prepare"];
  return db;
}

/**
 * The DynamoDB ledger writes a shared batch's members in parallel (writeMany); an actor of the rig
 * parks at one gate at a time, so here they go one after another. Each is its own conditional write
 * either way (DynamoDB applies each atomically and none waits for another), so this order is one of
 * those parallel writes allow, and what the model is after stays: a crash, or another actor's move,
 * between two of them (a group half joined, half settled), which SQLite's one transaction never shows.
 */
function oneWriteAtATime(ledger: DynamoDbSendLedger): SendLedger {
  ledger.writeMany = async (moves) => {
    const written: boolean[] = [];
    for (const move of moves) written.push(await ledger.write(move));
    return written;
  };
  return ledger;
}

function sqsRecordOf(message: ReceivedMessage): SQSRecord {
  return {
    ...SQS_TEMPLATE,
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    md5OfBody: "",
    attributes: {
      ...SQS_TEMPLATE.attributes,
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentAt),
    },
  };
}

const CANCEL_EVENT_TEMPLATE = requestCancelEvent("template");
function cancelEvent(requestId: string, apiKey: string): APIGatewayProxyEventV2 {
  const path = `/api/v1/requests/${encodeURIComponent(requestId)}`;
  return {
    ...CANCEL_EVENT_TEMPLATE,
    rawPath: path,
    pathParameters: { requestId },
    headers: { ...CANCEL_EVENT_TEMPLATE.headers, authorization: `Bearer ${apiKey}` },
    requestContext: {
      ...CANCEL_EVENT_TEMPLATE.requestContext,
      http: { ...CANCEL_EVENT_TEMPLATE.requestContext.http, path },
    },
  };
}

export function short(id: string): string {
  return /^[0-9a-f]{8}-/.test(id) ? id.slice(0, 8) : id;
}

/** What a gate line says about its call, and which send it concerns. */
function describeArgs(port: Port, args: unknown[]): Omit<ParkedCall, "port" | "op"> {
  const first = args[0];
  if ((port === "ledger" || port === "store") && typeof first === "object" && first !== null && "requestId" in first) {
    const key = first as { requestId: string; chunk?: number };
    if (typeof key.chunk === "number")
      return { detail: `${key.requestId}#${key.chunk}`, requestId: key.requestId, chunk: key.chunk };
    return { detail: key.requestId, requestId: key.requestId };
  }
  if ((port === "ledger" || port === "store") && typeof first === "string") return { detail: first, requestId: first };
  if (port === "queue" && typeof first === "object" && first !== null) {
    const body = first as { followUp?: string; requestId?: string };
    return { detail: body.followUp ? `${body.followUp} follow-up of ${body.requestId}` : "a message" };
  }
  if (port === "passEntry") {
    if (typeof first === "string") return { detail: short(first) };
    if (typeof first === "number") return { detail: `page ${first}` };
    const batch = (first as { batch?: { message?: string } } | undefined)?.batch;
    return { detail: batch?.message ? JSON.stringify(batch.message.slice(0, 40)) : "" };
  }
  return { detail: "" };
}

function dynamoDetail(input: unknown): string {
  const key =
    (input as { Key?: Record<string, { S?: string }>; Item?: Record<string, { S?: string }> } | undefined) ?? {};
  const item = key.Key ?? key.Item;
  return item ? `${item.pk?.S ?? ""} ${item.sk?.S ?? ""}`.trim() : "";
}

async function watchdog(arrived: Promise<void>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `The model rig waited ${WATCHDOG_MS} ms for ${what} to reach its next gate: something awaited outside the rig's ports.`,
          ),
        ),
      WATCHDOG_MS,
    );
  });
  try {
    await Promise.race([arrived, stuck]);
  } finally {
    clearTimeout(timer);
  }
}
