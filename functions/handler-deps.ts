/**
 * Types only: what each function's handler needs, named after what it uses. The values are built by
 * the composition functions (functions/composition.ts) from the ports each home provides: the AWS
 * wiring (functions/wiring/, one module per function, so each Lambda bundles only the adapters it
 * calls), the embedded home (local/stack.ts) and the test rigs.
 */
import type { AcceptDeps } from "./core/accept-request.js";
import type { Automation } from "./core/automations.js";
import type { PlanDeps } from "./core/plan-promotions.js";
import type {
  Clock,
  DeadLetterQueue,
  Log,
  MessageQueue,
  QueueStats,
  RequestStore,
  RetryScheduler,
  SecretStore,
  SendLedger,
} from "./core/ports.js";
import type { Promotion } from "./core/promotions.js";
import type { SendDeps } from "./core/send-request.js";

/** What the accept handler needs: the accept path and the secrets that authenticate callers. */
export interface AcceptHandlerDeps {
  accept: AcceptDeps;
  secrets: SecretStore;
  log: Log;
}

/** What the status handler needs: it reads the request and its sends, and queues nothing. */
export interface RequestStatusDeps {
  store: RequestStore;
  ledger: SendLedger;
  secrets: SecretStore;
  log: Log;
}

/** What the list handler needs: it pages the request store only. */
export type RequestListDeps = Omit<RequestStatusDeps, "ledger">;

/** What the cancel handler needs: the request, its sends, and the queue for the sender's cancel follow-up. */
export interface RequestCancelDeps extends RequestStatusDeps {
  queue: MessageQueue;
  clock: Clock;
}

/** What the resolve handler needs: exactly the cancel handler's (it may queue the part or its follow-up again). */
export type RequestResolveDeps = RequestCancelDeps;

/** What the operator console needs: what its pages show and the two things it does (redrive, cancel). */
export interface ConsoleDeps {
  store: RequestStore;
  ledger: SendLedger;
  secrets: SecretStore;
  log: Log;
  clock: Clock;
  /** Where a cancel's follow-up goes (the sender cancels batches at PassEntry). */
  queue: MessageQueue;
  queueStats: () => Promise<QueueStats>;
  deadLetters: DeadLetterQueue;
  promotions: readonly Promotion[];
  automations: readonly Automation[];
  /** The local sandbox, when this home runs one: its batches get a section of their own. */
  sandbox?:
    | {
        url: string;
        batches(): {
          id: string;
          name: string;
          status: string;
          scheduledAt: string;
          totalCount: number | null;
          createdAt: string;
        }[];
      }
    | undefined;
  /** Mark the session cookie Secure (behind HTTPS, i.e. on AWS). */
  secureCookies: boolean;
}

/** What the PassEntry webhook handler needs: the accept path, its secrets, and the declared automations. */
export interface PassEntryWebhookDeps {
  accept: AcceptDeps;
  secrets: SecretStore;
  log: Log;
  automations: readonly Automation[];
}

/** What the sender needs, less the per-invocation remaining time. */
export interface SenderDeps {
  send: Omit<SendDeps, "remainingMs">;
  /** Sets each handed-back message's next attempt (absent: the queue's visibility timeout decides). */
  retries?: RetryScheduler;
  log: Log;
}

/** What the promotion planner needs: the promotions of this deploy, and where to queue their sends. */
export interface PlannerDeps {
  plan: PlanDeps;
  promotions: readonly Promotion[];
  log: Log;
}
