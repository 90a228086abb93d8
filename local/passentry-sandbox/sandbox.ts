/**
 * A PassEntry API simulator built from PassEntry's public documentation (see ./README.md and
 * /work/shared/passentry-api.md). It is NOT PassEntry: it exists so the local stack and the tests
 * can run without PassEntry, and so tests can count exactly what "PassEntry" received.
 *
 * Each request goes through one pipeline:
 *   log it -> take a scripted fault -> read the body (capped) -> latency/delay -> drop?
 *   -> scripted status / random 5xx? -> rate limit -> 413 / 404 / 401 -> endpoint handler
 *   -> send, or drop after the effect.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ROUTES, type RouteMatch, type RouteServices, matchRoute } from "./api-routes.js";
import { BatchStore } from "./batch-store.js";
import {
  type ApiResponse,
  MAX_BODY_BYTES,
  type RequestBody,
  arbitraryResponse,
  errorResponse,
  readBody,
  writeResponse,
} from "./http-io.js";
import { SlidingWindowRateLimiter } from "./rate-limiter.js";
import type {
  Sandbox,
  SandboxBatch,
  SandboxFaults,
  SandboxNotification,
  SandboxOptions,
  SandboxRequestLog,
  ScriptedFault,
} from "./types.js";

export type {
  BatchStatus,
  Sandbox,
  SandboxBatch,
  SandboxFaults,
  SandboxNotification,
  SandboxOptions,
  SandboxRequestLog,
  ScriptedFault,
} from "./types.js";
export { COMPLETE_WITH_ERRORS_MARKER, FAIL_VALIDATION_MARKER } from "./batch-store.js";
export { REFUSED_RECIPIENT_MARKER } from "./validation.js";

export const DEFAULT_SANDBOX_TOKEN = "sandbox-token";
/** injectNext key that matches any request. */
export const ANY_ROUTE = "*";

const DEFAULTS = {
  host: "127.0.0.1",
  port: 0,
  rateLimitPerSecond: 10,
  validatingMs: 300,
  scheduledMs: 1500,
  sendingMs: 500,
} as const;

const SERVER_ERROR_STATUSES = [500, 502, 503] as const;
/** Every path that matches no endpoint shares one rate-limit bucket, so junk paths cannot grow memory. */
const UNMATCHED_BUCKET = "(no endpoint)";

/** Every route key injectNext accepts besides "*". */
const KNOWN_ROUTE_KEYS = new Set(ROUTES.map((route) => `${route.method} ${route.template}`));

interface RequestTarget {
  pathname: string;
  query: URLSearchParams;
}

interface RateTarget {
  bucket: string;
  url: string;
}

interface Answer {
  response: ApiResponse;
  rateHeaders: Record<string, string>;
}

/** Splits the raw request target by hand: `new URL` would read "//host/x" as a host. */
function parseTarget(rawUrl: string | undefined): RequestTarget {
  const raw = rawUrl ?? "/";
  const queryStart = raw.indexOf("?");
  if (queryStart === -1) return { pathname: raw, query: new URLSearchParams() };
  return { pathname: raw.slice(0, queryStart), query: new URLSearchParams(raw.slice(queryStart + 1)) };
}

function rateTargetFor(method: string, pathname: string, match: RouteMatch | null): RateTarget {
  if (match) return { bucket: `${method} ${match.template}`, url: match.template };
  const printable = /^[\x21-\x7e]{1,512}$/.test(pathname);
  return { bucket: `${method} ${UNMATCHED_BUCKET}`, url: printable ? pathname : "/" };
}

function bearerToken(req: IncomingMessage): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1] ?? null;
}

/** The host to put in links: a wildcard bind address is not somewhere a client can connect to. */
function advertisedHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

class PassEntrySandbox implements Sandbox {
  url = "";
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  /** Aborted by close() so pending latency/delay waits end at once instead of holding timers. */
  private readonly closing = new AbortController();
  private closed: Promise<void> | null = null;
  private tokens: Set<string>;
  private faults: SandboxFaults;
  private readonly scripted = new Map<string, ScriptedFault[]>();
  private readonly log: SandboxRequestLog[] = [];
  private readonly notificationLog: SandboxNotification[] = [];
  private readonly store: BatchStore;
  private readonly limiter: SlidingWindowRateLimiter;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(options: SandboxOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.tokens = new Set(options.tokens ?? [DEFAULT_SANDBOX_TOKEN]);
    this.faults = { ...options.faults };
    this.store = new BatchStore(
      {
        validatingMs: options.validatingMs ?? DEFAULTS.validatingMs,
        scheduledMs: options.scheduledMs ?? DEFAULTS.scheduledMs,
        sendingMs: options.sendingMs ?? DEFAULTS.sendingMs,
        honourScheduledAt: options.clock === "real",
      },
      this.now,
    );
    // The rate limit runs on the wall clock even under a fake `now`: clients back off in real time.
    this.limiter = new SlidingWindowRateLimiter(options.rateLimitPerSecond ?? DEFAULTS.rateLimitPerSecond);
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    // An 'error' event without a listener would crash the process (e.g. EMFILE on accept).
    this.server.on("error", (error) => console.error("passentry-sandbox: server error", error));
    const address = this.server.address() as AddressInfo;
    this.url = `http://${advertisedHost(host)}:${address.port}`;
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.closing.abort();
      // 'close' fires before libuv has released the listening handle; two turns of the loop later
      // it has, so callers that check for open handles right after close() find none.
      this.server.close(() => setImmediate(() => setImmediate(resolve)));
      // Keep-alive and in-flight sockets would otherwise hold close() open.
      this.server.closeAllConnections();
    });
    return this.closed;
  }

  batches(): SandboxBatch[] {
    return this.store.snapshots();
  }

  requests(): SandboxRequestLog[] {
    return this.log.map((entry) => ({ ...entry }));
  }

  notifications(): SandboxNotification[] {
    return this.notificationLog.map((notification) => ({ ...notification }));
  }

  count429(): number {
    return this.log.filter((entry) => entry.status === 429).length;
  }

  setTokens(tokens: string[]): void {
    this.tokens = new Set(tokens);
  }

  setFaults(faults: SandboxFaults): void {
    this.faults = { ...faults };
  }

  injectNext(routeKey: string, faults: ScriptedFault[]): void {
    if (routeKey !== ANY_ROUTE && !KNOWN_ROUTE_KEYS.has(routeKey)) {
      // A typo would otherwise leave the faults queued forever and the test silently meaningless.
      throw new Error(
        `Unknown sandbox route key "${routeKey}"; use "*" or one of: ${[...KNOWN_ROUTE_KEYS].join(", ")}`,
      );
    }
    const queue = this.scripted.get(routeKey) ?? [];
    queue.push(...faults);
    this.scripted.set(routeKey, queue);
  }

  reset(): void {
    this.store.clear();
    this.log.length = 0;
    this.notificationLog.length = 0;
    this.limiter.reset();
    this.scripted.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.respond(req, res);
    } catch {
      // Only a dying socket gets here (client gone, or the sandbox closing): never crash over it.
      req.socket.destroy();
    }
  }

  private async respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const target = parseTarget(req.url);
    const match = matchRoute(method, target.pathname);
    const token = bearerToken(req);
    const entry: SandboxRequestLog = {
      method,
      path: target.pathname,
      status: "dropped",
      at: Date.now(),
      authorized: token !== null && this.tokens.has(token),
      routeKey: match ? `${method} ${match.template}` : null,
    };
    this.log.push(entry);

    const scripted = this.takeScriptedFault(entry.routeKey);
    const body = await readBody(req);
    await this.pause((this.faults.latencyMs ?? 0) + (scripted?.kind === "delay" ? scripted.ms : 0));
    if (scripted?.kind === "drop" || this.chance(this.faults.dropRate)) return this.drop(req, entry);

    const rateTarget = rateTargetFor(method, target.pathname, match);
    const answer =
      this.faultAnswer(scripted, rateTarget) ??
      this.rateLimitedAnswer(rateTarget, () => this.route(match, target, req, body, entry));
    // The effect has happened by now; this fault models "PassEntry did it but the answer was lost".
    if (scripted?.kind === "drop-after-create") return this.drop(req, entry);
    if (scripted?.kind === "status-after-create") {
      entry.status = scripted.status;
      return writeResponse(
        res,
        arbitraryResponse(scripted.status, scripted.body ?? { errors: ["Internal Server Error"] }),
        answer.rateHeaders,
      );
    }

    entry.status = answer.response.status;
    writeResponse(res, answer.response, answer.rateHeaders);
  }

  /** Answers that replace the real one and have no effect: a scripted status or a random 5xx. */
  private faultAnswer(scripted: ScriptedFault | undefined, rateTarget: RateTarget): Answer | null {
    if (scripted?.kind === "status") {
      const response = arbitraryResponse(scripted.status, scripted.body, scripted.headers);
      return { response, rateHeaders: this.limiter.peek(rateTarget.bucket, rateTarget.url) };
    }
    if (this.chance(this.faults.errorRate)) {
      const status = SERVER_ERROR_STATUSES[Math.floor(this.random() * SERVER_ERROR_STATUSES.length)] ?? 500;
      const response = errorResponse(status, ["Internal Server Error"]);
      return { response, rateHeaders: this.limiter.peek(rateTarget.bucket, rateTarget.url) };
    }
    return null;
  }

  /** Rate limiting comes before everything else, auth included, as the headers on a 401 show. */
  private rateLimitedAnswer(rateTarget: RateTarget, answer: () => ApiResponse): Answer {
    const decision = this.limiter.take(rateTarget.bucket, rateTarget.url);
    if (!decision.allowed)
      return { response: errorResponse(429, ["Too Many Requests"]), rateHeaders: decision.headers };
    return { response: answer(), rateHeaders: decision.headers };
  }

  private route(
    match: RouteMatch | null,
    target: RequestTarget,
    req: IncomingMessage,
    body: RequestBody,
    entry: SandboxRequestLog,
  ): ApiResponse {
    if (body.tooLarge) return errorResponse(413, [`Request body is larger than ${MAX_BODY_BYTES} bytes`]);
    if (!match?.route) return errorResponse(404, ["Not Found"]);
    if (match.route.authenticated && !entry.authorized) return errorResponse(401, ["Unauthorized"]);
    try {
      return match.route.handle(
        { params: match.params, query: target.query, rawBody: body.bytes, contentType: req.headers["content-type"] },
        this.services(),
      );
    } catch {
      // A handler bug must still look like a server error to the client, not a hang.
      return errorResponse(500, ["Internal Server Error"]);
    }
  }

  private services(): RouteServices {
    return { store: this.store, notifications: this.notificationLog, baseUrl: this.url, now: this.now };
  }

  /** Scripted faults for the exact route come first, then those queued for any route. */
  private takeScriptedFault(routeKey: string | null): ScriptedFault | undefined {
    const keys = routeKey ? [routeKey, ANY_ROUTE] : [ANY_ROUTE];
    for (const key of keys) {
      const fault = this.scripted.get(key)?.shift();
      if (fault) return fault;
    }
    return undefined;
  }

  private chance(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate;
  }

  /** Rejects (AbortError) when the sandbox closes, which ends the request by destroying its socket. */
  private async pause(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms, undefined, { signal: this.closing.signal });
  }

  private drop(req: IncomingMessage, entry: SandboxRequestLog): void {
    entry.status = "dropped";
    req.socket.destroy();
  }
}

/** Starts a PassEntry sandbox; resolves once it listens. Always close() it. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = new PassEntrySandbox(options);
  await sandbox.listen(options.host ?? DEFAULTS.host, options.port ?? DEFAULTS.port);
  return sandbox;
}
