/**
 * `npm run cli -- send|status|cancel …`: the trigger API from a terminal, against the local stack
 * (`npm start`) or a deployed stage. They talk HTTP only, with the same API key a webhook would use:
 *
 *   npm run cli -- send --entity my-entity --message "Doors open!" --segment vip --now
 *   npm run cli -- send --entity my-entity --message "Hi %{name}" --recipients members.json --at 2030-03-31T13:16:26Z
 *   npm run cli -- list [--state deadLettered] [--entity <id>] [--pass <id>] …
 *   npm run cli -- status <request id>
 *   npm run cli -- watch <request id>
 *   npm run cli -- cancel <request id>
 *   npm run cli -- resolve <request id> [--part N] (--sent <batch id> | --release)
 *
 * `--url` (default WALLET_API_URL, else http://127.0.0.1:3000) and `--key` (default WALLET_API_KEY,
 * else the development key npm start keeps in DATA_DIR/dev-api-key). The key is never printed.
 * Exit codes: 0 done, 1 refused or failed (the API's errors are printed), 2 wrong usage.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { describeIssues } from "../../functions/core/describe-issues.js";
import { TriggerRequestBody } from "../../functions/core/schemas.js";
import type { CliCommand, CliContext } from "./command.js";
import { printable } from "../../functions/core/visible-text.js";
import { heldPartsInWords, heldUntil, partStateInWords, whenInWords } from "../../functions/core/request-view.js";

export const DEFAULT_API_URL = "http://127.0.0.1:3000";
const TIMEOUT_MS = 15_000;

const CONNECTION = `  --url <url>          the API (default: WALLET_API_URL, else ${DEFAULT_API_URL})
  --key <key>          an operator API key, to see and cancel every caller's requests (default:
                       WALLET_API_KEY, else the operator key npm start keeps in DATA_DIR/dev-api-key)
  --json               print the API's JSON answer instead of a summary`;

const SEND_USAGE = `usage: npm run cli -- send --entity <id> --message <text> (--segment <groupTag>... | --recipients <file.json>) [--at <ISO> | --now] [--idempotency-key <k>]
  --entity <id>        the PassEntry entity
  --message <text>     the message; %{variable} placeholders are filled per recipient by PassEntry
  --segment <tag>      a segment's groupTag; repeat for several
  --recipients <file>  a JSON file: an array of recipients (or {"recipients": [...]}), up to 10,000
  --at <ISO>           send at this time (ISO-8601 with a zone, e.g. 2030-03-31T13:16:26Z)
  --now                send at once (also what happens without --at)
  --idempotency-key <k> a retry with the same key and message sends nothing new
  --print-id           print only the request id (for ID=$(npm run -s cli -- send … --print-id))
${CONNECTION}`;

const STATUS_USAGE = `usage: npm run cli -- status <request id> [options]
${CONNECTION}`;

const CANCEL_USAGE = `usage: npm run cli -- cancel <request id> [options]
  parts not yet sent are cancelled at once; batches PassEntry still holds are cancelled shortly after
${CONNECTION}`;

const RESOLVE_USAGE = `usage: npm run cli -- resolve <request id> [--part <n>] (--sent <batch id> | --release) [options]
  decides a part left "unknown" (its POST's outcome was lost and PassEntry's list could not tell),
  after you have looked for its batch at PassEntry (its name starts with [wm:<request id>:<part>:…]):
  --part <n>           which part (default 0; see \`status\`)
  --sent <batch id>    PassEntry has it: record this batch and follow it up
  --release            PassEntry does not have it: send the part now
${CONNECTION}`;

const connectionOptions = {
  url: { type: "string" },
  key: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

class UsageError extends Error {}

interface Connection {
  url: string;
  key: string;
}

function connection(values: { url?: string | undefined; key?: string | undefined }, context: CliContext): Connection {
  const url = (values.url ?? context.env.WALLET_API_URL ?? DEFAULT_API_URL).replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s]+$/.test(url))
    throw new UsageError(`--url must be an http(s) URL (got ${JSON.stringify(url)}).`);
  // An empty WALLET_API_KEY (e.g. `WALLET_API_KEY= npm run cli …`) counts as unset.
  const key = values.key ?? (context.env.WALLET_API_KEY || undefined) ?? developmentKey(context);
  if (!key) {
    throw new UsageError(
      "No API key: pass --key, set WALLET_API_KEY, or run `npm start` here once so it writes DATA_DIR/dev-api-key.",
    );
  }
  return { url, key };
}

function developmentKey(context: CliContext): string | undefined {
  try {
    return (
      readFileSync(resolve(context.cwd, context.env.DATA_DIR ?? ".data", "dev-api-key"), "utf8").trim() || undefined
    );
  } catch {
    return undefined;
  }
}

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function request(
  conn: Connection,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(conn.url + path, {
      method,
      headers: {
        authorization: `Bearer ${conn.key}`,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new Error(`Could not reach ${conn.url} (${cause}). Is \`npm start\` running, or is --url right?`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** The API's own sentences for a refusal, and a hint for the usual causes. */
function reportRefusal(answer: Answer, context: CliContext): number {
  const errors: unknown[] = Array.isArray(answer.body?.errors) ? answer.body.errors : [];
  context.io.err(`The API answered ${answer.status}:`);
  for (const error of errors.length > 0 ? errors : ["(no explanation given)"])
    context.io.err(`  - ${printable(error)}`);
  if (answer.status === 401)
    context.io.err("Check the key (--key, WALLET_API_KEY, or DATA_DIR/dev-api-key) and that it belongs to this --url.");
  return 1;
}

/**
 * A readable summary of GET/DELETE /api/v1/requests/{id}'s document. Every value in it comes from
 * the API (and partly from PassEntry), so each is escaped to stay on its line (see functions/core/visible-text.ts).
 */
export function describeRequest(document: any, now: number): string[] {
  const a = document?.data?.attributes ?? {};
  const p = printable;
  const lines = [`request ${p(document?.data?.id)}: ${p(a.status)}`];
  const when = p(whenInWords(a, now));
  lines.push(`  entity ${p(a.entityId)}, ${when}, accepted ${p(a.createdAt)}${a.caller ? `, by ${p(a.caller)}` : ""}`);
  if (a.progress) {
    const g = a.progress;
    // The ledger counts an early send PassEntry holds as sent; a person would read that as gone out.
    const held = heldPartsInWords(a);
    const sent = held ? `${p(g.sent - held.count)} sent, ${p(held.words)}` : `${p(g.sent)} sent`;
    lines.push(
      `  parts: ${p(g.chunks)} (${sent}, ${p(g.pending)} pending, ${p(g.failed)} failed, ${p(g.cancelled)} cancelled, ${p(g.unknown)} unknown)`,
    );
  }
  if (a.cancelRequestedAt)
    lines.push(
      `  cancellation requested at ${p(a.cancelRequestedAt)}${a.cancelledBy ? ` by ${p(a.cancelledBy)}` : ""}`,
    );
  if (a.deadLetter) {
    lines.push(
      `  dead-lettered at ${p(a.deadLetter.at)} after ${p(a.deadLetter.receiveCount)} receives (${p(a.deadLetter.kind)} message ${p(a.deadLetter.messageId)})`,
    );
    lines.push(`  last error: ${p(a.deadLetter.lastError)}`);
    lines.push("  redrive it (it cannot be sent twice): npm run dlq -- redrive, or the console's Dead letters page");
  } else if (a.failureReason) lines.push(`  reason: ${p(a.failureReason)}`);
  for (const b of a.batches ?? []) {
    const heldTill = heldUntil(b, a.earlySendAt);
    // Held by PassEntry: when it goes out, and whether PassEntry is still validating it.
    const held = partStateInWords(b, a.earlySendAt);
    const state =
      heldTill === undefined ? (b.status ?? b.state) : b.status === "validating" ? `validating, ${held}` : held;
    const facts = [b.batchId ? `batch ${p(b.batchId)}` : "no batch", p(state)];
    if (b.totalCount != null) facts.push(`${p(b.totalCount)} recipients`);
    lines.push(`  part ${p(b.chunk)}: ${facts.join(", ")}`);
    if (heldTill !== undefined && !a.cancelRequestedAt)
      lines.push("    an early send: PassEntry holds the batch and sends it then; cancel before then to stop it");
    if (b.deliveryCsvUrl) lines.push(`    delivery CSV: ${p(b.deliveryCsvUrl)}`);
    if (b.errorsCsvUrl) lines.push(`    errors CSV:   ${p(b.errorsCsvUrl)}`);
    if (b.note) lines.push(`    note: ${p(b.note)}`);
    else if (b.reason) lines.push(`    reason: ${p(b.reason)}`);
    if (b.state === "unknown")
      lines.push(
        `    decide it: npm run cli -- resolve ${p(document?.data?.id)} --part ${p(b.chunk)} (--sent <batch id> | --release)`,
      );
    if (b.resolvedBy) lines.push(`    resolved by ${p(b.resolvedBy)} at ${p(b.resolvedAt)}`);
  }
  return lines;
}

/** Parses, runs, and maps every failure to its exit code. */
async function runCommand(usage: string, context: CliContext, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      context.io.err(`${(error as Error).message}\n${usage}`);
      return 2;
    }
    context.io.err((error as Error).message);
    return 1;
  }
}

function loadRecipients(file: string, context: CliContext): unknown[] {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(resolve(context.cwd, file), "utf8"));
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? "not valid JSON";
    throw new UsageError(`--recipients ${file} could not be read (${why}).`);
  }
  const list = Array.isArray(document) ? document : (document as { recipients?: unknown } | null)?.recipients;
  if (!Array.isArray(list))
    throw new UsageError(`--recipients ${file} must hold a JSON array of recipients, or {"recipients": [...]}.`);
  return list;
}

export const sendCommand: CliCommand = {
  name: "send",
  summary: "send a wallet message to segments or recipients, now or at a time",
  run: (args, context) =>
    runCommand(SEND_USAGE, context, async () => {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          ...connectionOptions,
          entity: { type: "string" },
          message: { type: "string" },
          segment: { type: "string", multiple: true },
          recipients: { type: "string" },
          at: { type: "string" },
          now: { type: "boolean" },
          "idempotency-key": { type: "string" },
          "print-id": { type: "boolean" },
        },
      });
      if (values.help) {
        context.io.out(SEND_USAGE);
        return 0;
      }
      if (positionals.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[0])}.`);
      if (!values.entity) throw new UsageError("--entity is required.");
      if (values.message === undefined) throw new UsageError("--message is required.");
      if ((values.segment === undefined) === (values.recipients === undefined))
        throw new UsageError("Give either --segment (one or more) or --recipients, not both and not neither.");
      if (values.at !== undefined && values.now) throw new UsageError("Give --at or --now, not both.");

      const batch: Record<string, unknown> = {
        message: values.message,
        ...(values.segment
          ? { segments: values.segment.map((groupTag) => ({ groupTag })) }
          : { recipients: loadRecipients(values.recipients!, context) }),
        ...(values.at !== undefined ? { scheduledAt: values.at } : {}),
        ...(values.now ? { sendNow: true } : {}),
      };
      // The API's own schema, so mistakes are named before anything is sent.
      const checked = TriggerRequestBody.safeParse({ batch });
      if (!checked.success) throw new UsageError(describeIssues(checked.error).join("\n"));
      const conn = connection(values, context);

      const idempotencyKey = values["idempotency-key"];
      const answer = await request(
        conn,
        "POST",
        `/api/v1/entities/${encodeURIComponent(values.entity)}/messaging/wallet`,
        { batch },
        idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
      );
      if (answer.status !== 202) return reportRefusal(answer, context);
      if (values.json) {
        context.io.out(JSON.stringify(answer.body, null, 2));
        return 0;
      }
      const id = answer.body?.data?.id;
      if (values["print-id"]) {
        context.io.out(printable(id));
        return 0;
      }
      const replayed =
        answer.headers.get("idempotent-replayed") === "true"
          ? " (the same request as before with this Idempotency-Key; nothing new was queued)"
          : "";
      context.io.out(`Accepted: request ${printable(id)}${replayed}`);
      for (const line of describeRequest(answer.body, context.now()).slice(1)) context.io.out(line);
      context.io.out(`Follow it: npm run cli -- status ${printable(id)}`);
      return 0;
    }),
};

function requestIdCommand(
  name: "status" | "cancel",
  usage: string,
  summary: string,
  method: "GET" | "DELETE",
  expected: number,
): CliCommand {
  return {
    name,
    summary,
    run: (args, context) =>
      runCommand(usage, context, async () => {
        const { values, positionals } = parseArgs({ args, allowPositionals: true, options: connectionOptions });
        if (values.help) {
          context.io.out(usage);
          return 0;
        }
        const [requestId, ...extra] = positionals;
        if (!requestId) throw new UsageError("Name the request id.");
        if (extra.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(extra[0])}.`);
        const answer = await request(
          connection(values, context),
          method,
          `/api/v1/requests/${encodeURIComponent(requestId)}`,
        );
        if (answer.status !== expected) return reportRefusal(answer, context);
        if (values.json) context.io.out(JSON.stringify(answer.body, null, 2));
        else {
          if (name === "cancel") context.io.out("Cancellation recorded.");
          for (const line of describeRequest(answer.body, context.now())) context.io.out(line);
        }
        return 0;
      }),
  };
}

export const statusCommand = requestIdCommand(
  "status",
  STATUS_USAGE,
  "show what became of a request: its state and each PassEntry batch",
  "GET",
  200,
);
export const cancelCommand = requestIdCommand(
  "cancel",
  CANCEL_USAGE,
  "cancel a request: unsent parts at once, scheduled batches at PassEntry",
  "DELETE",
  202,
);

export const resolveCommand: CliCommand = {
  name: "resolve",
  summary: "decide a part left unknown: the batch found at PassEntry, or send it again",
  run: (args, context) =>
    runCommand(RESOLVE_USAGE, context, async () => {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          ...connectionOptions,
          part: { type: "string" },
          sent: { type: "string" },
          release: { type: "boolean" },
        },
      });
      if (values.help) {
        context.io.out(RESOLVE_USAGE);
        return 0;
      }
      const [requestId, ...extra] = positionals;
      if (!requestId) throw new UsageError("Name the request id.");
      if (extra.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(extra[0])}.`);
      if ((values.sent === undefined) === (values.release !== true))
        throw new UsageError("Give either --sent <batch id> or --release.");
      const chunk = values.part === undefined ? 0 : Number(values.part);
      if (!Number.isInteger(chunk) || chunk < 0)
        throw new UsageError(`--part must be a part number such as 0 (got ${JSON.stringify(values.part)}).`);
      const body =
        values.sent !== undefined
          ? { chunk, resolution: "sent", batchId: values.sent }
          : { chunk, resolution: "release" };
      const answer = await request(
        connection(values, context),
        "POST",
        `/api/v1/requests/${encodeURIComponent(requestId)}/resolve`,
        body,
      );
      if (answer.status !== 200) return reportRefusal(answer, context);
      if (values.json) context.io.out(JSON.stringify(answer.body, null, 2));
      else {
        context.io.out(
          values.sent !== undefined
            ? `Part ${chunk} recorded as sent in batch ${values.sent}.`
            : `Part ${chunk} released: it will be sent again.`,
        );
        for (const line of describeRequest(answer.body, context.now())) context.io.out(line);
      }
      return 0;
    }),
};

const LIST_USAGE = `usage: npm run cli -- list [--state <s>] [--source <s>] [--entity <id>] [--pass <id>] [--since <ISO>] [--limit <n>] [--cursor <c>] [options]
  requests newest first (yours; every caller's with an operator key), one per line
  --state <s>          queued, submitted, failed, unknown, cancelled or deadLettered
  --source <s>         http, eventbridge, sqs, schedule or webhook
  --entity <id>        one PassEntry entity
  --pass <id>          requests to this pass (a recipient's pass id or external id)
  --since <ISO>        created at or after this time
  --limit <n>          at most n (default 25, at most 100)
  --cursor <c>         the next page (printed under the list when there is one)
${CONNECTION}`;

const WATCH_USAGE = `usage: npm run cli -- watch <request id> [--interval <s>] [--timeout <s>] [options]
  prints the request's progress as it changes, until it settles: every batch finished, cancelled,
  failed, unknown or dead-lettered, or waiting for its scheduled time (exit 0), or --timeout (exit 1)
  --interval <s>       seconds between looks (default 1)
  --timeout <s>        give up after this many seconds (default 300)
${CONNECTION}`;

const LIST_FILTERS = ["state", "source", "entity", "pass", "since", "limit", "cursor"] as const;

export const listCommand: CliCommand = {
  name: "list",
  summary: "list requests newest first, with their state and progress (filters: state, entity, pass …)",
  run: (args, context) =>
    runCommand(LIST_USAGE, context, async () => {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
          ...connectionOptions,
          ...Object.fromEntries(LIST_FILTERS.map((name) => [name, { type: "string" as const }])),
        },
      });
      if (values.help) {
        context.io.out(LIST_USAGE);
        return 0;
      }
      if (positionals.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[0])}.`);
      const filters = new URLSearchParams();
      for (const name of LIST_FILTERS) {
        const value = (values as Record<string, unknown>)[name];
        if (typeof value === "string") filters.set(name, value);
      }
      const answer = await request(
        connection(values, context),
        "GET",
        `/api/v1/requests${filters.size > 0 ? `?${filters}` : ""}`,
      );
      if (answer.status !== 200) return reportRefusal(answer, context);
      if (values.json) {
        context.io.out(JSON.stringify(answer.body, null, 2));
        return 0;
      }
      for (const line of describeList(answer.body)) context.io.out(line);
      return 0;
    }),
};

/** One line per request of GET /api/v1/requests's answer, then how to see the next page. */
export function describeList(document: any): string[] {
  const p = printable;
  const entries: any[] = Array.isArray(document?.data) ? document.data : [];
  if (entries.length === 0) return ["No requests match."];
  const lines = entries.map((entry) => {
    const a = entry.attributes ?? {};
    const g = a.progress;
    const progress = g ? `${p(g.sent)}/${p(g.chunks)} sent` : "not started";
    const when = a.sendNow ? "now" : a.scheduledAt ? `at ${p(a.scheduledAt)}` : "default";
    const content = String(a.content ?? "");
    return `${p(a.createdAt)}  ${p(entry.id)}  ${p(a.status).padEnd(12)} ${progress.padEnd(12)} ${p(a.entityId)}  ${when}  ${p(content.length > 40 ? `${content.slice(0, 39)}…` : content)}`;
  });
  const next = document?.links?.next
    ? new URLSearchParams(String(document.links.next).split("?")[1] ?? "").get("cursor")
    : null;
  if (next) lines.push(`More: add --cursor ${p(next)}`);
  return lines;
}

/** Whether a request will not change any more without someone acting, and why (undefined: it still moves). */
export function settledBecause(document: any): string | undefined {
  const a = document?.data?.attributes ?? {};
  if (["failed", "cancelled", "unknown", "deadLettered"].includes(a.status)) return `it is ${a.status}`;
  if (a.status !== "submitted") return undefined;
  const batches: any[] = a.batches ?? [];
  const terminal = ["successful", "completedWithErrors", "failed", "cancelled"];
  if (batches.every((b) => terminal.includes(b.status))) return "every batch finished";
  if (batches.every((b) => terminal.includes(b.status) || (b.status === "scheduled" && !a.sendNow))) {
    return `it waits for its scheduled time (${a.scheduledAt}); cancel it before then with: npm run cli -- cancel ${a.id ?? document?.data?.id}`;
  }
  return undefined;
}

export const watchCommand: CliCommand = {
  name: "watch",
  summary: "follow a request live until it settles (every batch finished, or waiting for its time)",
  run: (args, context) =>
    runCommand(WATCH_USAGE, context, async () => {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { ...connectionOptions, interval: { type: "string" }, timeout: { type: "string" } },
      });
      if (values.help) {
        context.io.out(WATCH_USAGE);
        return 0;
      }
      const [requestId, ...extra] = positionals;
      if (!requestId) throw new UsageError("Name the request id.");
      if (extra.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(extra[0])}.`);
      const interval = Number(values.interval ?? 1);
      const timeout = Number(values.timeout ?? 300);
      if (!(interval > 0) || !(timeout > 0))
        throw new UsageError("--interval and --timeout must be positive numbers of seconds.");
      const conn = connection(values, context);
      const deadline = context.now() + timeout * 1000;
      let shown: string[] = [];
      for (;;) {
        const answer = await request(conn, "GET", `/api/v1/requests/${encodeURIComponent(requestId)}`);
        if (answer.status !== 200) return reportRefusal(answer, context);
        const lines = describeRequest(answer.body, context.now());
        // Only what changed since the last look, so a terminal or a log shows the progress, not a wall of repeats.
        if (lines.join("\n") !== shown.join("\n")) {
          context.io.out(`[${new Date(context.now()).toISOString()}]`);
          for (const line of values.json ? [JSON.stringify(answer.body)] : lines) context.io.out(line);
          shown = lines;
        }
        const settled = settledBecause(answer.body);
        if (settled) {
          context.io.out(`Settled: ${printable(settled)}.`);
          return 0;
        }
        if (context.now() > deadline) {
          context.io.err(`Still moving after ${timeout} s; run watch again to go on following it.`);
          return 1;
        }
        await new Promise((resolve) => setTimeout(resolve, interval * 1000));
      }
    }),
};

/** The commands of this module, in the order the help lists them. */
export const requestCommands: readonly CliCommand[] = [
  sendCommand,
  listCommand,
  statusCommand,
  watchCommand,
  cancelCommand,
  resolveCommand,
];
