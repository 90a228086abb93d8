/**
 * The operator console's pages: plain server-rendered HTML, readable without JavaScript, one small
 * stylesheet inline. Every value that reaches a page goes through `esc` (text) or `attr`
 * (attributes): much of it comes from callers and PassEntry. No page ever renders a key, a token or
 * a secret: the only token in a page is the CSRF token of the session it is rendered for.
 */
import type { DeadLetterView, QueueStats } from "../core/ports.js";
import type { RequestRecord, SendRecord } from "../core/schemas.js";
import { heldPartsInWords, partStateInWords, whenInWords, type renderRequest } from "../core/request-view.js";
import { terminalSafe } from "../core/visible-text.js";

/**
 * Escapes text for HTML element content and quoted attribute values alike. Control and bidi
 * characters are first shown as `\u001b` (visible-text.ts): a browser would hide them or let a
 * U+202E reverse what the operator reads. Line breaks and tabs stay: a page shows them as spaces.
 */
export function esc(value: unknown): string {
  return terminalSafe(String(value ?? ""), { keepLineBreaks: true }).replace(
    /[&<>"'`]/g,
    (c) => `&#${c.charCodeAt(0)};`,
  );
}

/** A link only if it is http(s): a `javascript:` URL from PassEntry or a caller never becomes a link. */
function safeHref(url: unknown): string | undefined {
  return typeof url === "string" && /^https?:\/\//i.test(url) ? esc(url) : undefined;
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2327;background:#f6f7f7}
header{background:#1d2327;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#fff}header form{margin-left:auto}main{padding:1rem 1.2rem;max-width:80rem}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:1.2rem}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #dcdcde;vertical-align:top}
th{background:#f0f0f1;font-weight:600}code{font-size:.9em}.state{font-weight:600}.deadLettered,.failed,.unknown{color:#b32d2e}.submitted{color:#00713a}
.note{color:#50575e}.error{background:#fcf0f1;border:1px solid #b32d2e;padding:.5rem;margin-bottom:1rem}section{margin-bottom:1.5rem}
button{cursor:pointer}`;

export function layout(title: string, body: string, session?: { csrf: string; caller: string }): string {
  const nav = session
    ? `<a href="/">Requests</a><a href="/#queue">Queue</a><a href="/#dead-letters">Dead letters</a><a href="/#promotions">Promotions</a><a href="/#automations">Automations</a>
<form method="post" action="/console/sign-out"><input type="hidden" name="csrf" value="${esc(session.csrf)}"><span>${esc(session.caller)}</span> <button>Sign out</button></form>`
    : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · wallet-messaging</title><style>${STYLE}</style></head>
<body><header><strong>wallet-messaging</strong>${nav}</header><main>${body}</main></body></html>`;
}

export function signInPage(problem?: string): string {
  return layout(
    "Sign in",
    `<h1>Sign in</h1>${problem ? `<p class="error" role="alert">${esc(problem)}</p>` : ""}
<p>Paste an <strong>operator</strong> API key (<code>npm start</code> prints one and keeps it in <code>.data/dev-api-key</code>).
It is exchanged for a session cookie; the key itself is not kept by the browser.</p>
<form method="post" action="/console/sign-in"><label>Operator key <input type="password" name="key" autocomplete="off" required size="40"></label> <button>Sign in</button></form>`,
  );
}

export interface HomeView {
  requests: RequestRecord[];
  nextCursor?: string | undefined;
  filter: { state?: string | undefined; entity?: string | undefined };
  queue: QueueStats;
  deadLetters: DeadLetterView[];
  promotions: {
    id: string;
    name: string;
    enabled: boolean;
    timeZone: string;
    next: { local: string; utc: string; skipped: boolean }[];
  }[];
  automations: { id: string; on: string; entityId: string; enabled: boolean; message: string }[];
  sandbox?:
    | {
        url: string;
        batches: {
          id: string;
          name: string;
          status: string;
          scheduledAt: string;
          totalCount: number | null;
          createdAt: string;
        }[];
      }
    | undefined;
  notice?: string | undefined;
}

const stateCell = (state: string) => `<span class="state ${esc(state)}">${esc(state)}</span>`;
const requestLink = (id: string) => `<a href="/console/requests/${esc(encodeURIComponent(id))}">${esc(id)}</a>`;

export function homePage(view: HomeView, session: { csrf: string; caller: string }): string {
  const rows = view.requests
    .map((r) => {
      const p = r.summary?.progress;
      const when = r.sendNow ? "now" : (r.batch.scheduledAt ?? "PassEntry's default");
      return `<tr><td>${esc(r.createdAt)}</td><td>${requestLink(r.requestId)}</td><td>${stateCell(r.summary?.state ?? (r.deadLetter ? "deadLettered" : "queued"))}</td>
<td>${p ? `${esc(p.sent)}/${esc(p.chunks)} sent${p.pending ? `, ${esc(p.pending)} pending` : ""}` : "not started"}</td><td>${esc(r.entityId)}</td><td>${esc(r.caller ?? r.source)}</td><td>${esc(when)}</td><td>${esc(r.batch.message.slice(0, 80))}</td></tr>`;
    })
    .join("\n");
  const states = ["", "queued", "submitted", "failed", "unknown", "cancelled", "deadLettered"];
  const filter = `<form method="get" action="/">State <select name="state">${states.map((s) => `<option value="${esc(s)}"${s === (view.filter.state ?? "") ? " selected" : ""}>${esc(s || "any")}</option>`).join("")}</select>
Entity <input name="entity" value="${esc(view.filter.entity ?? "")}" size="16"> <button>Filter</button></form>`;
  const next = view.nextCursor
    ? `<p><a href="/?${esc(new URLSearchParams({ ...(view.filter.state ? { state: view.filter.state } : {}), ...(view.filter.entity ? { entity: view.filter.entity } : {}), cursor: view.nextCursor }).toString())}">Older requests →</a></p>`
    : "";
  const q = view.queue;
  const deadRows = view.deadLetters
    .map(
      (d) =>
        `<tr><td><code>${esc(d.messageId)}</code></td><td>${d.requestId ? requestLink(d.requestId) : "(unreadable body)"}</td><td>${esc(d.receiveCount)}</td><td>${esc(d.sentAt ?? "?")}</td><td>${esc(d.lastError ?? "not kept by SQS: see the request's dead-letter mark")}</td></tr>`,
    )
    .join("\n");
  const redrive = view.deadLetters.length
    ? `<form method="post" action="/console/redrive"><input type="hidden" name="csrf" value="${esc(session.csrf)}"><button>Redrive all dead letters</button>
<span class="note">Safe to press twice: the send ledger never sends a part twice.</span></form>`
    : "";
  const promotionRows = view.promotions
    .map(
      (p) =>
        `<tr><td>${esc(p.id)}</td><td>${esc(p.name)}</td><td>${p.enabled ? "enabled" : "disabled"}</td><td>${esc(p.timeZone)}</td><td>${p.next.map((n) => `${esc(n.local)} (${esc(n.utc)})${n.skipped ? " skipped" : ""}`).join("<br>")}</td></tr>`,
    )
    .join("\n");
  const automationRows = view.automations
    .map(
      (a) =>
        `<tr><td>${esc(a.id)}</td><td>${esc(a.on)}</td><td>${esc(a.entityId)}</td><td>${a.enabled ? "enabled" : "disabled"}</td><td>${esc(a.message)}</td></tr>`,
    )
    .join("\n");
  const sandbox = view.sandbox
    ? `<section id="sandbox"><h2>PassEntry sandbox batches</h2><p class="note">What the local simulator at ${esc(view.sandbox.url)} holds (newest first): not PassEntry.</p>
<table><tr><th>created</th><th>batch</th><th>status</th><th>scheduledAt</th><th>recipients</th><th>name</th></tr>
${view.sandbox.batches.map((b) => `<tr><td>${esc(b.createdAt)}</td><td><code>${esc(b.id)}</code></td><td>${esc(b.status)}</td><td>${esc(b.scheduledAt)}</td><td>${esc(b.totalCount ?? "–")}</td><td>${esc(b.name)}</td></tr>`).join("\n")}</table></section>`
    : "";
  return layout(
    "Requests",
    `${view.notice ? `<p class="error" role="status">${esc(view.notice)}</p>` : ""}
<section id="requests"><h1>Requests</h1>${filter}
<table><tr><th>created</th><th>request</th><th>state</th><th>progress</th><th>entity</th><th>caller</th><th>send</th><th>message</th></tr>
${rows || `<tr><td colspan="8">No requests match.</td></tr>`}</table>${next}
<p class="note">The state here is a copy kept on each request and refreshed after every move; a request's page derives it from the send ledger.</p></section>
<section id="queue"><h2>Queue</h2><table><tr><th>waiting</th><th>in flight</th><th>delayed</th><th>dead-lettered</th><th>oldest message</th></tr>
<tr><td>${esc(q.waiting)}</td><td>${esc(q.inFlight)}</td><td>${esc(q.delayed ?? "–")}</td><td>${esc(q.deadLettered)}</td><td>${q.oldestAgeSeconds === null ? "–" : `${esc(Math.round(q.oldestAgeSeconds))} s`}</td></tr></table>
<p class="note">${esc(q.source)}</p></section>
<section id="dead-letters"><h2>Dead letters</h2>
<table><tr><th>message</th><th>request</th><th>receives</th><th>sent</th><th>last error</th></tr>${deadRows || `<tr><td colspan="5">None.</td></tr>`}</table>${redrive}</section>
<section id="promotions"><h2>Promotions</h2><table><tr><th>id</th><th>name</th><th></th><th>zone</th><th>next occurrences (local, UTC)</th></tr>${promotionRows || `<tr><td colspan="5">None.</td></tr>`}</table></section>
<section id="automations"><h2>Automations</h2><table><tr><th>id</th><th>on</th><th>entity</th><th></th><th>message</th></tr>${automationRows || `<tr><td colspan="5">None.</td></tr>`}</table></section>
${sandbox}`,
    session,
  );
}

/** What happened to the request, in time order, from the times its record and ledger entries keep. */
export function timeline(request: RequestRecord, sends: SendRecord[]): { at: string; what: string }[] {
  const events: { at: string; what: string }[] = [
    { at: request.createdAt, what: `accepted from ${request.caller ?? request.source}` },
  ];
  if (request.enqueuedAt) events.push({ at: request.enqueuedAt, what: "queued for the sender" });
  for (const s of sends) {
    const part = `part ${s.chunk}`;
    if (s.claimedAt) events.push({ at: s.claimedAt, what: `${part}: claimed by a sender (attempt ${s.attempt})` });
    if (s.firstPostAt)
      events.push({
        at: new Date(s.firstPostAt).toISOString(),
        what: `${part}: posted to PassEntry${(s.posts ?? 1) > 1 ? ` (${s.posts} posts in all)` : ""}`,
      });
    if (s.sendAt)
      events.push({ at: s.sendAt, what: `${part}: the time set for this early send (send-now waits for it)` });
    if (s.sendNowAt) events.push({ at: s.sendNowAt, what: `${part}: sent now at PassEntry` });
    if (s.cancelRequestedAt) events.push({ at: s.cancelRequestedAt, what: `${part}: cancellation requested` });
    if (s.resolvedAt) events.push({ at: s.resolvedAt, what: `${part}: resolved by ${s.resolvedBy ?? "an operator"}` });
    if (s.statusCheckedAt)
      events.push({
        at: s.statusCheckedAt,
        what: `${part}: PassEntry said ${s.batchStatus ?? "nothing"}${s.note ? ` (${s.note})` : ""}`,
      });
    events.push({
      at: s.updatedAt,
      what: `${part}: last change, now ${s.state}${s.reason && s.state !== "sent" ? `: ${s.reason}` : ""}`,
    });
  }
  if (request.cancelledAt) events.push({ at: request.cancelledAt, what: `cancelled by ${request.cancelledBy ?? "?"}` });
  if (request.deadLetter)
    events.push({
      at: request.deadLetter.at,
      what: `dead-lettered after ${request.deadLetter.receiveCount} receives: ${request.deadLetter.lastError}`,
    });
  return events.sort((a, b) => a.at.localeCompare(b.at));
}

export function requestPage(
  document: ReturnType<typeof renderRequest>,
  request: RequestRecord,
  sends: SendRecord[],
  session: { csrf: string; caller: string },
  now: number,
): string {
  const a = document.data.attributes;
  const batches = a.batches
    .map((b) => {
      const delivery = safeHref(b.deliveryCsvUrl);
      const errors = safeHref(b.errorsCsvUrl);
      return `<tr><td>${esc(b.chunk)}</td><td>${esc(partStateInWords(b, a.earlySendAt))}</td><td><code>${esc(b.batchId ?? "–")}</code></td><td>${esc(b.status ?? "–")}</td><td>${esc(b.totalCount ?? "–")}</td>
<td>${delivery ? `<a href="${delivery}">delivery CSV</a>` : ""} ${errors ? `<a href="${errors}">errors CSV</a>` : ""}</td><td>${esc(b.note ?? b.reason ?? "")}</td></tr>`;
    })
    .join("\n");
  // Worth offering only while something can still be stopped: an unsent part, or a batch PassEntry has not started sending.
  const stoppable =
    a.batches.length < a.progress.chunks ||
    a.batches.some((b) => b.status === null || b.status === "validating" || b.status === "scheduled");
  const cancellable = ["queued", "submitted", "deadLettered"].includes(a.status) && a.cancelledBy === null && stoppable;
  const cancel = cancellable
    ? `<form method="post" action="/console/requests/${esc(encodeURIComponent(document.data.id))}/cancel"><input type="hidden" name="csrf" value="${esc(session.csrf)}"><button>Cancel this request</button></form>`
    : "";
  // The ledger counts an early send PassEntry holds as sent; a person would read that as gone out.
  const held = heldPartsInWords(a);
  const events = timeline(request, sends)
    .map((e) => `<tr><td>${esc(e.at)}</td><td>${esc(e.what)}</td></tr>`)
    .join("\n");
  return layout(
    `Request ${document.data.id}`,
    `<h1>Request <code>${esc(document.data.id)}</code></h1>
<p>${stateCell(a.status)} · entity ${esc(a.entityId)} · from ${esc(a.caller ?? a.source)} · ${esc(whenInWords(a, now))}</p>
${a.deadLetter ? `<p class="error">Dead-lettered at ${esc(a.deadLetter.at)} after ${esc(a.deadLetter.receiveCount)} receives. Last error: ${esc(a.deadLetter.lastError)}. Redrive it from <a href="/#dead-letters">Dead letters</a>.</p>` : ""}
${a.failureReason && !a.deadLetter ? `<p class="error">${esc(a.failureReason)}</p>` : ""}
<p>Message: ${esc(a.content)}</p>
<p>Progress: ${esc(a.progress.sent - (held?.count ?? 0))} of ${esc(a.progress.chunks)} parts sent, ${held ? `${esc(held.words)}, ` : ""}${esc(a.progress.pending)} pending, ${esc(a.progress.failed)} failed, ${esc(a.progress.cancelled)} cancelled, ${esc(a.progress.unknown)} unknown.</p>
${a.cancelledBy ? `<p>Cancelled by ${esc(a.cancelledBy)} at ${esc(a.cancelledAt)}.</p>` : ""}
<h2>PassEntry batches</h2><table><tr><th>part</th><th>state</th><th>batch</th><th>status</th><th>recipients</th><th>CSV</th><th>note</th></tr>${batches || `<tr><td colspan="7">Not sent yet.</td></tr>`}</table>
${cancel}
<h2>Timeline</h2><table><tr><th>when</th><th>what happened</th></tr>${events}</table>
<p><a href="/">← all requests</a></p>`,
    session,
  );
}
