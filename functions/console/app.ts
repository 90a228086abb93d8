/**
 * The operator console, served by the same API (locally at http://127.0.0.1:3000/, on AWS at the
 * API's URL): recent requests with their state and progress, a request's batches and timeline, the
 * queue, dead letters with a redrive button, promotions, automations and, under the sandbox, its
 * batches. Server-rendered HTML (functions/console/pages.ts), readable without JavaScript.
 *
 * Safe by default: nothing but the sign-in form is shown without a session; a session is an
 * operator key exchanged for an HttpOnly, SameSite=Strict cookie (core/console-session.ts); every
 * form that acts carries the session's CSRF token and is refused from another origin; answers are
 * never cached.
 *
 * This module routes and answers; functions/handlers/console.ts turns API Gateway's event into a
 * ConsoleRequest. Routes (one function): GET /, GET /console/requests/{requestId}, POST /console/sign-in,
 * POST /console/sign-out, POST /console/redrive, POST /console/requests/{requestId}/cancel.
 */
import { authenticateCaller } from "../core/api-keys.js";
import { isOperator } from "../core/callers.js";
import { cancelRequest } from "../core/cancel-request.js";
import { csrfMatches, endSession, issueSession, readSession, type ConsoleSession } from "../core/console-session.js";
import { redriveDeadLetters } from "../core/dead-letters.js";
import { UnauthorizedError, ValidationError, WalletMessagingError } from "../core/errors.js";
import { listRequests, parseListQuery } from "../core/list-requests.js";
import { localIso, nextOccurrences, utcIso } from "../core/promotions.js";
import { renderRequest } from "../core/request-view.js";
import type { ConsoleDeps } from "../handler-deps.js";
import { esc, homePage, layout, requestPage, signInPage } from "./pages.js";

/** One HTTP request to the console, as the handler hands it over (no API Gateway shapes here). */
export interface ConsoleRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  /** A request header by name, any case. */
  header(name: string): string | undefined;
  /** The body as text (forms are URL-encoded). */
  body: string;
  /** `{requestId}` of /console/requests/{requestId}[/cancel]. */
  requestId?: string | undefined;
  /** The API's own host, for the same-origin check when no Host header came. */
  domainName: string;
}

export interface ConsoleAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body?: string;
}

const html = (statusCode: number, body: string, headers: Record<string, string> = {}): ConsoleAnswer => ({
  statusCode,
  headers: {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // No script, no frame, no form posting elsewhere: the pages need none of it.
    "content-security-policy":
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    // Not "no-referrer": with it browsers send `Origin: null` on the console's own form posts, which crossOrigin refuses.
    "referrer-policy": "same-origin",
    ...headers,
  },
  body,
});
const redirect = (location: string, headers: Record<string, string> = {}): ConsoleAnswer => ({
  statusCode: 303,
  headers: { location, "cache-control": "no-store", ...headers },
});

function form(request: ConsoleRequest): URLSearchParams {
  return new URLSearchParams(request.body.slice(0, 10_000));
}

/** A form posted from another origin is refused, whatever its cookie (SameSite=Strict already keeps it out of modern browsers). */
function crossOrigin(request: ConsoleRequest): boolean {
  const origin = request.header("origin");
  if (origin === undefined || origin === "null") return origin === "null";
  try {
    return new URL(origin).host !== (request.header("host") ?? request.domainName);
  } catch {
    return true;
  }
}

/** Answers one console request: a page, a redirect after an action, or a refusal (never throws). */
export async function serveConsole(deps: ConsoleDeps, request: ConsoleRequest): Promise<ConsoleAnswer> {
  try {
    const keysSecret = await deps.secrets.get("api-keys");
    const now = deps.clock.now();
    const method = request.method;
    const path = request.path;
    const session = readSession(request.header("cookie"), keysSecret, now);

    if (method === "POST" && path === "/console/sign-in") {
      if (crossOrigin(request)) return html(403, layout("Refused", "<p>Sign in from the console's own page.</p>"));
      let caller;
      try {
        caller = await authenticateCaller(deps.secrets, `Bearer ${form(request).get("key") ?? ""}`);
      } catch (error) {
        if (!(error instanceof UnauthorizedError)) throw error;
        return html(401, signInPage("That key is not valid. Paste an operator key, e.g. the one npm start printed."));
      }
      if (!isOperator(caller))
        return html(
          403,
          signInPage(
            "That key is valid but not an operator's: the console needs an operator key (operator:<name>:<key> in API_KEYS).",
          ),
        );
      deps.log.info("console session started", { caller });
      return redirect("/", { "set-cookie": issueSession(caller, keysSecret, now, deps.secureCookies) });
    }

    if (!session) {
      if (method === "GET" && path === "/") return html(200, signInPage());
      return method === "GET" ? redirect("/") : html(401, signInPage("Your session ended: sign in again."));
    }
    const view = { csrf: session.csrf, caller: session.caller };

    if (method === "POST") {
      const fields = form(request);
      if (crossOrigin(request) || !csrfMatches(session, fields.get("csrf") ?? undefined)) {
        return html(
          403,
          layout(
            "Refused",
            "<p>This form is out of date or did not come from the console. Go back, reload the page and try again.</p>",
            view,
          ),
        );
      }
      return act(deps, request, session, path);
    }

    const requestId = request.requestId;
    if (path.startsWith("/console/requests/") && requestId) return showRequest(deps, requestId, view);
    if (path === "/") return html(200, await home(deps, request, session, keysSecret, view));
    return html(
      404,
      layout("Not found", `<p>No console page at ${esc(path)}. <a href="/">Go to the requests.</a></p>`, view),
    );
  } catch (error) {
    if (error instanceof WalletMessagingError && error.httpStatus < 500) {
      // The sentences that say how to fix it (e.g. the allowed states), as the API answers them.
      const details = error instanceof ValidationError ? error.details : [];
      const list = details.length > 0 ? `<ul>${details.map((d) => `<li>${esc(d)}</li>`).join("")}</ul>` : "";
      return html(
        error.httpStatus,
        layout("Refused", `<p>${esc(error.message)}</p>${list}<p><a href="/">Back</a></p>`),
      );
    }
    deps.log.error("console page failed", { error: (error as Error).message });
    return html(500, layout("Error", "<p>The page could not be built; the log says why.</p>"));
  }
}

async function act(
  deps: ConsoleDeps,
  request: ConsoleRequest,
  session: ConsoleSession,
  path: string,
): Promise<ConsoleAnswer> {
  if (path === "/console/sign-out") return redirect("/", { "set-cookie": endSession(deps.secureCookies) });
  if (path === "/console/redrive") {
    const result = await redriveDeadLetters({
      dlq: deps.deadLetters,
      store: deps.store,
      ledger: deps.ledger,
      log: deps.log,
      clock: deps.clock,
    });
    deps.log.info("console redrive", { by: session.caller, moved: result.moved });
    return redirect(`/?notice=${encodeURIComponent(result.note)}#dead-letters`);
  }
  const requestId = request.requestId;
  if (requestId && path.endsWith("/cancel")) {
    await cancelRequest(
      { store: deps.store, ledger: deps.ledger, queue: deps.queue, clock: deps.clock, log: deps.log },
      requestId,
      session.caller,
    );
    return redirect(`/console/requests/${encodeURIComponent(requestId)}`);
  }
  return html(404, layout("Not found", "<p>No such action.</p>"));
}

async function showRequest(
  deps: ConsoleDeps,
  requestId: string,
  view: { csrf: string; caller: string },
): Promise<ConsoleAnswer> {
  const request = await deps.store.get(requestId);
  if (!request)
    return html(404, layout("Not found", `<p>No request has the id ${esc(requestId)}. <a href="/">Back</a></p>`, view));
  const sends = await deps.ledger.list(requestId);
  return html(200, requestPage(renderRequest(request, sends), request, sends, view, deps.clock.now()));
}

async function home(
  deps: ConsoleDeps,
  request: ConsoleRequest,
  session: ConsoleSession,
  apiKeysSecret: string,
  view: { csrf: string; caller: string },
): Promise<string> {
  const raw = request.query;
  const filter = {
    ...(raw.state ? { state: raw.state } : {}),
    ...(raw.entity ? { entity: raw.entity } : {}),
    ...(raw.cursor ? { cursor: raw.cursor } : {}),
  };
  const query = parseListQuery(filter);
  const now = deps.clock.now();
  const [page, queue, deadLetters] = await Promise.all([
    listRequests({ store: deps.store, apiKeysSecret }, query, session.caller),
    deps.queueStats(),
    deps.deadLetters.list(50),
  ]);
  return homePage(
    {
      requests: page.records,
      nextCursor: page.next,
      filter: { state: query.state, entity: query.entity },
      queue,
      deadLetters,
      promotions: deps.promotions.map((p) => ({
        id: p.id,
        name: p.name,
        enabled: p.enabled,
        timeZone: p.timeZone,
        next: nextOccurrences(p, now, 3).map((o) => ({
          local: localIso(o.at, p.timeZone),
          utc: utcIso(o.at),
          skipped: o.skipped,
        })),
      })),
      automations: deps.automations.map((a) => ({
        id: a.id,
        on: a.on,
        entityId: a.entityId,
        enabled: a.enabled !== false,
        message: a.message,
      })),
      sandbox: deps.sandbox
        ? { url: deps.sandbox.url, batches: deps.sandbox.batches().slice(-50).reverse() }
        : undefined,
      notice: raw.notice?.slice(0, 300),
    },
    view,
  );
}
