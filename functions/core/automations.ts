/**
 * Automations: wallet messages that PassEntry's own events trigger, declared as data in
 * `automations.json` ("when a pass is installed, send it a welcome"; "two hours after a scan, say
 * thanks for visiting"). Each automation that matches an event becomes one ordinary send request
 * through the accept path, with the id `auto-<automation id>-<event id>`: PassEntry's retries of
 * an event, and two deliveries racing each other, meet that id and queue nothing new.
 *
 * @example automations.json
 *   {"automations":[{"id":"welcome","on":"passInstalled","entityId":"my-entity",
 *                    "message":"Welcome aboard, %{fullName}!","variableDefaults":{"fullName":"friend"}}]}
 */
import { createHash } from "node:crypto";
import * as z from "./zod.js";
import { acceptRequest, type AcceptDeps } from "./accept-request.js";
import { describeIssues } from "./describe-issues.js";
import { callerId } from "./callers.js";
import { IdempotencyConflictError, InvalidAutomationsError, ValidationError } from "./errors.js";
import { eventPass, PassEntryEventType, type EventPass, type PassEntryWebhookEvent } from "./passentry-webhook.js";
import { MIN_LEAD_MS } from "./passentry-limits.js";
import { EntityId, type WalletMessageBatch } from "./schemas.js";

/** PassEntry's dashboard schedules at most 365 days ahead. */
const MAX_DELAY_MINUTES = 365 * 24 * 60;
/**
 * Events older than this are acknowledged and ignored. PassEntry signs no timestamp, so a captured
 * delivery stays validly signed for ever; request records (our memory of handled events) are kept
 * 30 days on AWS by default, so refusing anything older than 7 days keeps every event we would act
 * on inside the window where a replay is recognised.
 */
export const MAX_EVENT_AGE_DAYS = 7;

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/**
 * How far ahead of our clock a stated event time may lie and still count as "now": clocks drift,
 * and a time written without its zone can read hours off. A day ahead is no event that happened.
 */
export const MAX_EVENT_TIME_AHEAD_MS = DAY_MS;

/** Unix time below this is seconds, above it milliseconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const UNIX_SECONDS_BELOW = 1e11;

/**
 * When an event happened, read from its signed `timeStamp`, or undefined when that cannot be told.
 *
 * PassEntry's guide says each webhook payload "includes a timestamp, serving as a safeguard against
 * replay attacks", without naming its format; its examples are ISO-8601. So an ISO-8601 date-time
 * is read as such, and a number (or a string of digits) as a Unix time in seconds or milliseconds.
 * Anything else (missing, null, unparsable, another type, or more than a day ahead of our clock)
 * is no time at all: the event's age cannot be checked, so it must not be acted on, which is the
 * one rule for all of them (see `runAutomations`). A time slightly ahead counts as now.
 *
 * @example readEventTime("2025-06-02T09:00:00Z", now) // Date.parse("2025-06-02T09:00:00Z")
 * @example readEventTime(1748854800, now)              // 1748854800000
 * @example readEventTime("yesterday", now)             // undefined
 */
export function readEventTime(timeStamp: unknown, now: number): number | undefined {
  let at: number | undefined;
  const digits =
    typeof timeStamp === "string" && /^\s*\d{1,16}(\.\d+)?\s*$/.test(timeStamp) ? Number(timeStamp) : undefined;
  const unix = typeof timeStamp === "number" ? timeStamp : digits;
  if (unix !== undefined && Number.isFinite(unix)) at = unix < UNIX_SECONDS_BELOW ? unix * 1000 : unix;
  else if (typeof timeStamp === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(timeStamp.trim()))
    at = Date.parse(timeStamp.trim());
  if (at === undefined || Number.isNaN(at) || at - now > MAX_EVENT_TIME_AHEAD_MS) return undefined;
  return Math.min(at, now);
}

/** `%{fullName}`: PassEntry fills these per recipient from the recipient's variables. */
const VARIABLE = /%\{([^{}\s]+)\}/g;

export const Automation = z.strictObject({
  /** Part of every request id it makes, so it must stay short and id-safe; never reuse one for another purpose. */
  id: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,40}$/, "id must be 1 to 40 letters, digits, _ or -")),
  description: z.optional(z.string()),
  /** `false` keeps an automation declared but inactive (the shipped examples are). */
  enabled: z._default(z.boolean(), true),
  on: PassEntryEventType,
  /** The PassEntry entity the message is sent through. */
  entityId: z.pipe(z.string().check(z.trim()), EntityId),
  message: z.string().check(z.refine((s) => s.trim().length > 0, "message must not be blank")),
  /** Only passes of this template; absent: every pass. */
  passTemplateUuid: z.optional(z.string().check(z.minLength(1))),
  /** Send this long after the event, as a PassEntry-scheduled batch; at least 65 minutes from now. Absent: at once. */
  delayMinutes: z.optional(z.number().check(z.int(), z.gte(1), z.lte(MAX_DELAY_MINUTES))),
  /**
   * With `delayMinutes`: round the send time up to the next multiple of this many minutes, so that
   * events close in time get the same `scheduledAt` and share PassEntry batches (functions/core/
   * coalesce.ts). E.g. 15: scans between 14:00 and 14:15 are thanked together at 16:15. Absent: the
   * exact time (events share only when their times agree to the second).
   */
  roundToMinutes: z.optional(z.number().check(z.int(), z.gte(1), z.lte(24 * 60))),
  /** Values for message variables the pass's content lacks. */
  variableDefaults: z.optional(z.record(z.string(), z.string())),
  /** The batch name shown in PassEntry; default `Automation <id>`. */
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(100))),
  tag: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
});
export type Automation = z.infer<typeof Automation>;

export const AutomationsDocument = z
  .strictObject({
    /** JSON has no comments; this field is one. */
    $comment: z.optional(z.string()),
    automations: z.array(Automation),
  })
  .check(
    z.superRefine((document, context) => {
      const seen = new Set<string>();
      document.automations.forEach((automation, index) => {
        if (seen.has(automation.id))
          context.addIssue({
            code: "custom",
            path: ["automations", index, "id"],
            message: `id ${automation.id} is used twice`,
          });
        seen.add(automation.id);
      });
    }),
  );

/**
 * Validates the automations document (automations.json); throws one sentence listing every problem.
 *
 * @example parseAutomations({ automations: [] }) // []
 */
export function parseAutomations(document: unknown): Automation[] {
  const parsed = AutomationsDocument.safeParse(document);
  if (!parsed.success)
    throw new InvalidAutomationsError(`The automations are not valid: ${describeIssues(parsed.error).join("; ")}.`);
  return parsed.data.automations;
}

/** An event id usable inside a request id; an unusual one is replaced by a digest, still stable across retries. */
export function eventKey(eventId: string): string {
  return /^[A-Za-z0-9_.:-]{1,54}$/.test(eventId)
    ? eventId
    : `h${createHash("sha256").update(eventId).digest("hex").slice(0, 32)}`;
}

/** `auto-<automation id>-<event id>`: the same event and automation always make the same request. */
export function automationRequestId(automationId: string, eventId: string): string {
  return `auto-${automationId}-${eventKey(eventId)}`;
}

/** The automations an event of this type, about this pass, triggers. */
export function matchingAutomations(
  automations: readonly Automation[],
  type: string,
  pass: EventPass | undefined,
): Automation[] {
  return automations.filter(
    (a) =>
      a.enabled && a.on === type && (a.passTemplateUuid === undefined || a.passTemplateUuid === pass?.passTemplateUuid),
  );
}

/**
 * The batch one automation sends for one event: to that one pass, with the variables its message
 * uses (only those: the rest of the pass's content has no business in our queue and records).
 */
export function automationBatch(
  automation: Automation,
  pass: EventPass,
  eventTime: number,
  now: number,
): { batch: WalletMessageBatch; missingVariables: string[] } {
  const variables: Record<string, string> = {};
  const missingVariables: string[] = [];
  for (const [, name] of automation.message.matchAll(VARIABLE)) {
    const value = pass.passContent[name!];
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
      variables[name!] = String(value);
    else if (automation.variableDefaults?.[name!] !== undefined) variables[name!] = automation.variableDefaults[name!]!;
    else if (!missingVariables.includes(name!)) missingVariables.push(name!);
  }
  const recipient = { passId: pass.passId, ...(Object.keys(variables).length > 0 ? { variables } : {}) };
  const scheduledAt = scheduledAtFor(automation, eventTime, now);
  const batch: WalletMessageBatch = {
    message: automation.message,
    recipients: [recipient],
    name: automation.name ?? `Automation ${automation.id}`,
    ...(automation.tag ? { tag: automation.tag } : {}),
    ...(scheduledAt ? { scheduledAt } : {}),
  };
  return { batch, missingVariables };
}

/**
 * Event time + delay, but never sooner than PassEntry accepts (65 minutes from now); whole seconds,
 * or rounded up to the automation's `roundToMinutes` so that neighbouring events share a batch.
 *
 * @example scheduledAtFor({ delayMinutes: 120, roundToMinutes: 15, … }, Date.parse("2030-01-01T14:07:00Z"), now) // "2030-01-01T16:15:00Z"
 */
export function scheduledAtFor(automation: Automation, eventTime: number, now: number): string | undefined {
  if (automation.delayMinutes === undefined) return undefined;
  const at = Math.max(eventTime + automation.delayMinutes * MINUTE_MS, now + MIN_LEAD_MS);
  const step = (automation.roundToMinutes ?? 0) * MINUTE_MS || 1000;
  return new Date(Math.ceil(at / step) * step).toISOString().replace(".000Z", "Z");
}

export interface AutomationDeps {
  accept: AcceptDeps;
  automations: readonly Automation[];
}

export interface AutomationRun {
  automationId: string;
  requestId: string;
  /** `queued`: sent on its way now. `duplicate`: an earlier delivery of this event already did. `refused`: the request was invalid (logged). */
  outcome: "queued" | "duplicate" | "refused";
}

export interface EventHandled {
  eventId: string;
  webhookType: string;
  /** Why nothing was done, when nothing was. */
  ignored?: "unknown event type" | "no event time" | "too old" | "no automation" | "no pass";
  runs: AutomationRun[];
}

/**
 * Use case: act on one verified PassEntry event. Unknown types, stale events and events no
 * automation wants are acknowledged and ignored. Throws only what PassEntry should retry for
 * (ServiceUnavailableError when the queue is down).
 */
export async function runAutomations(deps: AutomationDeps, event: PassEntryWebhookEvent): Promise<EventHandled> {
  const { log, clock } = deps.accept;
  const now = clock.now();
  const eventId = event.data.id;
  const webhookType = event.data.attributes.webhookType;
  const handled = (ignored: EventHandled["ignored"]): EventHandled => ({ eventId, webhookType, ignored, runs: [] });

  if (!PassEntryEventType.safeParse(webhookType).success) {
    log.info("passentry event ignored: unknown type", { eventId, webhookType: webhookType.slice(0, 100) });
    return handled("unknown event type");
  }
  const stated = event.data.attributes.timeStamp;
  const happenedAt = readEventTime(stated, now);
  // Acknowledged (202) either way: PassEntry would retry a refusal without end, and a retry of the
  // same event cannot carry a better time.
  if (happenedAt === undefined) {
    log.warn("passentry event ignored: its timeStamp is missing or not a time, so its age cannot be checked", {
      eventId,
      webhookType,
      timeStamp: describeValue(stated),
    });
    return handled("no event time");
  }
  if (now - happenedAt > MAX_EVENT_AGE_DAYS * DAY_MS) {
    log.warn("passentry event ignored: too old to act on", { eventId, webhookType, timeStamp: describeValue(stated) });
    return handled("too old");
  }
  const pass = eventPass(event);
  const automations = matchingAutomations(deps.automations, webhookType, pass);
  if (automations.length === 0) return handled("no automation");
  if (!pass) {
    log.warn("passentry event names no pass; its automations cannot target anyone", { eventId, webhookType });
    return handled("no pass");
  }

  const runs: AutomationRun[] = [];
  for (const automation of automations) runs.push(await runOne(deps, automation, event, pass, happenedAt, now));
  return { eventId, webhookType, runs };
}

async function runOne(
  deps: AutomationDeps,
  automation: Automation,
  event: PassEntryWebhookEvent,
  pass: EventPass,
  eventTime: number,
  now: number,
): Promise<AutomationRun> {
  const { log, store } = deps.accept;
  const requestId = automationRequestId(automation.id, event.data.id);
  const run = (outcome: AutomationRun["outcome"]): AutomationRun => ({
    automationId: automation.id,
    requestId,
    outcome,
  });

  const existing = await store.get(requestId);
  if (existing?.enqueuedAt !== undefined) {
    log.info("automation already ran for this event", {
      automationId: automation.id,
      requestId,
      eventId: event.data.id,
    });
    return run("duplicate");
  }
  // A first delivery that could not be queued left its request behind: retry exactly that request
  // (its scheduledAt was computed then), so the idempotency fingerprint matches and it is re-queued.
  let batch = existing?.batch;
  if (!batch) {
    const built = automationBatch(automation, pass, eventTime, now);
    if (built.missingVariables.length > 0) {
      log.warn("automation message uses variables the pass does not have", {
        automationId: automation.id,
        requestId,
        missing: built.missingVariables,
      });
    }
    batch = built.batch;
  }
  try {
    const { replayed } = await acceptRequest(
      { ...deps.accept, newRequestId: () => requestId },
      // Its own caller: its key cannot meet one another caller took ahead of time, and only operators
      // may read or cancel its request, whose id is predictable.
      {
        entityId: existing?.entityId ?? automation.entityId,
        body: { batch },
        source: "webhook",
        idempotencyKey: requestId,
        caller: callerId("automation", automation.id),
      },
    );
    log.info("automation triggered", {
      automationId: automation.id,
      requestId,
      eventId: event.data.id,
      passId: pass.passId,
    });
    return run(replayed && !existing ? "duplicate" : "queued");
  } catch (error) {
    // Two deliveries of one event racing: the other one stored its request first (a scheduledAt a
    // moment apart makes the fingerprints differ). Theirs stands.
    if (error instanceof IdempotencyConflictError) return run("duplicate");
    if (error instanceof ValidationError) {
      log.error("automation request refused", {
        automationId: automation.id,
        requestId,
        problems: error.details.slice(0, 10),
      });
      return run("refused");
    }
    throw error;
  }
}

/** A short, log-safe rendering of a value from the body. */
function describeValue(value: unknown): string {
  return (JSON.stringify(value) ?? "undefined").slice(0, 100);
}
