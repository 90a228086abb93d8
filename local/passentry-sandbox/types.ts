/**
 * Public types of the PassEntry sandbox. Other code (the local stack, tests) depends on these
 * shapes exactly; re-exported from `./sandbox.js`.
 */

/** Batch lifecycle as PassEntry documents it. Terminal: failed, successful, completedWithErrors, cancelled. */
export type BatchStatus =
  | "validating"
  | "scheduled"
  | "sending"
  | "successful"
  | "completedWithErrors"
  | "failed"
  | "cancelled";

export interface SandboxFaults {
  /** 0..1 share of requests answered 500/502/503 with {"errors":["Internal Server Error"]}. */
  errorRate?: number;
  /** Milliseconds added before answering every request. */
  latencyMs?: number;
  /** 0..1 share of requests whose socket is destroyed without an answer (before any effect). */
  dropRate?: number;
}

export type ScriptedFault =
  /** Answer this instead; the request has no effect. A string body is sent as raw text. */
  | { kind: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  /** Destroy the socket before doing anything. */
  | { kind: "drop" }
  /** Perform the request's effect (e.g. create the batch), then destroy the socket without answering. */
  | { kind: "drop-after-create" }
  /** Perform the request's effect, then answer this status instead (a gateway failing after PassEntry did the work). */
  | { kind: "status-after-create"; status: number; body?: unknown }
  /** Wait `ms`, then behave normally (for client timeouts). */
  | { kind: "delay"; ms: number };

export interface SandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Accepted bearer tokens, default ["sandbox-token"]. */
  tokens?: string[];
  /** Default 10, per endpoint template + method, sliding 1 s window. */
  rateLimitPerSecond?: number;
  /** Default 300: validating -> scheduled (or failed) after this long. */
  validatingMs?: number;
  /**
   * Default 1500. Time compression: scheduled -> sending this long after reaching scheduled, whatever
   * scheduledAt says. Infinity keeps batches scheduled until send-now or cancel.
   */
  scheduledMs?: number;
  /** Default 500: sending -> successful (or completedWithErrors). */
  sendingMs?: number;
  /**
   * `fast` (default): scheduled batches start sending `scheduledMs` after they are scheduled,
   * whatever their scheduledAt (tests, demos). `real`: a scheduled batch starts sending at its
   * scheduledAt, as PassEntry does, so a scheduled request can still be cancelled (`npm start`).
   */
  clock?: SandboxClock;
  faults?: SandboxFaults;
  /** Clock for the batch lifecycle and scheduledAt checks, default Date.now. */
  now?: () => number;
  /** Source of randomness for random faults, default Math.random (pass a seeded one for repeatable runs). */
  random?: () => number;
}

export type SandboxClock = "fast" | "real";

export interface SandboxBatch {
  id: string;
  entityId: string;
  /** The parsed request body as received (the whole document, `batch` wrapper included). */
  body: any;
  name: string;
  tag: string | null;
  message: string;
  scheduledAt: string;
  createdAt: string;
  /** Current computed status. */
  status: BatchStatus;
  /** Null while validating; recipients.length, or 100 per segment. */
  totalCount: number | null;
  sentNowAt: string | null;
  cancelledAt: string | null;
}

export interface SandboxRequestLog {
  method: string;
  /** Path without the query string. */
  path: string;
  status: number | "dropped";
  /** Wall-clock ms (Date.now) when the request arrived. */
  at: number;
  /** Whether the request carried an accepted bearer token (whatever the answer was). */
  authorized: boolean;
  /** e.g. "POST /api/v1/entities/:id/messaging/wallet"; null for paths that match no endpoint. */
  routeKey: string | null;
}

export interface SandboxNotification {
  passId: string;
  message: string;
  /** ms on the sandbox clock (`now`). */
  at: number;
}

export interface Sandbox {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** Closes the server and all open sockets; no timers left running. */
  close(): Promise<void>;
  /** Every batch created, in creation order. */
  batches(): SandboxBatch[];
  /** Every request received, in order. */
  requests(): SandboxRequestLog[];
  /** Single-pass notifications received, in order. */
  notifications(): SandboxNotification[];
  /** Number of 429 answers sent (rate limited or scripted). */
  count429(): number;
  /** Rotate accepted tokens at run time. */
  setTokens(tokens: string[]): void;
  setFaults(faults: SandboxFaults): void;
  /**
   * Queue faults consumed one per matching request. routeKey like
   * "POST /api/v1/entities/:id/messaging/wallet", "GET /api/v1/batches/:id", or "*" for any request.
   */
  injectNext(routeKey: string, faults: ScriptedFault[]): void;
  /** Forget batches, notifications, logs, rate windows and scripted faults (tokens and faults stay). */
  reset(): void;
}
