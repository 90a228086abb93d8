/**
 * The composition root: one function per Lambda turns the ports a home provides and its settings
 * into what that Lambda's handler needs. The AWS wiring (functions/wiring/), the embedded home
 * (local/stack.ts) and the test rigs all call these, so adding a dependency to a function means
 * editing its composition function (and giving each home the port), not four hand-built bags.
 *
 * The status, list, cancel, resolve and console handlers need exactly their ports, so their deps
 * types (handler-deps.ts) are the list of ports and there is nothing to compose.
 *
 * Imports core and types only: each Lambda's bundle still carries just the adapters its wiring builds.
 */
import { randomUUID } from "node:crypto";
import type { SenderSettings } from "./config.js";
import type { AcceptDeps } from "./core/accept-request.js";
import type { Automation } from "./core/automations.js";
import type {
  Clock,
  EventPublisher,
  Log,
  MessageQueue,
  PassEntryClient,
  RequestIntake,
  RequestStore,
  RetryScheduler,
  SecretStore,
  SendKey,
  SendLedger,
} from "./core/ports.js";
import type { Promotion } from "./core/promotions.js";
import type { AcceptHandlerDeps, PassEntryWebhookDeps, PlannerDeps, SenderDeps } from "./handler-deps.js";

/** The ports the accept path uses, whichever door (API, signed webhook, PassEntry's webhook) it is reached by. */
export interface AcceptPorts {
  store: RequestStore;
  queue: MessageQueue;
  /** Where the home can store and queue in one step (the embedded home's SQLite transaction). */
  intake?: RequestIntake;
  clock: Clock;
  log: Log;
  secrets: SecretStore;
  /** Names each new request. Default randomUUID; the model run names them after its steps. */
  newRequestId?: () => string;
}

/** What the accept path takes from the configuration. */
export interface AcceptSettings {
  /** ALLOWED_BATCH_KEYS. */
  allowedBatchKeys: readonly string[];
}

function acceptPath(ports: AcceptPorts, settings: AcceptSettings): AcceptDeps {
  return {
    store: ports.store,
    queue: ports.queue,
    ...(ports.intake ? { intake: ports.intake } : {}),
    clock: ports.clock,
    log: ports.log,
    newRequestId: ports.newRequestId ?? randomUUID,
    allowedBatchKeys: settings.allowedBatchKeys,
  };
}

/** The accept function (POST /api/v1/entities/{entityId}/messaging/wallet). */
export function composeAccept(ports: AcceptPorts, settings: AcceptSettings): AcceptHandlerDeps {
  return { accept: acceptPath(ports, settings), secrets: ports.secrets, log: ports.log };
}

/** The PassEntry webhook function: the accept path plus the automations PassEntry's events trigger. */
export function composePassEntryWebhook(
  ports: AcceptPorts & { automations: readonly Automation[] },
  settings: AcceptSettings,
): PassEntryWebhookDeps {
  return {
    accept: acceptPath(ports, settings),
    secrets: ports.secrets,
    log: ports.log,
    automations: ports.automations,
  };
}

/** The promotion planner: where its sends are stored and queued, and this deploy's promotions. */
export function composePlanner(ports: {
  store: RequestStore;
  queue: MessageQueue;
  clock: Clock;
  log: Log;
  promotions: readonly Promotion[];
}): PlannerDeps {
  const { promotions, log, ...plan } = ports;
  return { plan: { ...plan, log }, promotions, log };
}

/** The ports the sender uses. One set per worker (Lambda instance or local worker): `owner` tells them apart in ledger claims. */
export interface SenderPorts {
  store: RequestStore;
  ledger: SendLedger;
  passEntry: PassEntryClient;
  clock: Clock;
  log: Log;
  sleep: (ms: number) => Promise<void>;
  /** Identifies this worker in ledger claims. */
  owner: string;
  /** Sets each handed-back message's next attempt (absent: the queue's visibility timeout decides). */
  retries?: RetryScheduler;
  /** Where outcome events go. Absent: none are published. */
  events?: EventPublisher;
  /** The sender's own queue, where follow-ups (send-now, tracking, cancel) wait. Absent: batches are not followed up. */
  followUpQueue?: MessageQueue;
  /** Counts sends whose outcome could not be decided (an alarm watches it on AWS). */
  onUnknownOutcome?: (key: SendKey) => void;
  /** Jitter's source (the model run fixes it so a run replays exactly). */
  random?: () => number;
}

/** The sender (SQS → PassEntry). */
export function composeSender(ports: SenderPorts, settings: SenderSettings): SenderDeps {
  const { retries, followUpQueue, ...send } = ports;
  const { followUps, ...tuning } = settings;
  return {
    log: ports.log,
    ...(retries ? { retries } : {}),
    send: { ...send, ...tuning, ...(followUpQueue ? { followUps: { ...followUps, queue: followUpQueue } } : {}) },
  };
}
