/**
 * Recurring promotions as data: the schema of `promotions.json`, the rules that refuse a bad file
 * with sentences naming the promotion and the field, and the occurrences of a promotion in its own
 * time zone (croner, DST included).
 *
 * Marketing thinks in local time ("every Friday at 5pm London time"); PassEntry takes a
 * `scheduledAt` instant at least an hour ahead. A promotion is therefore a 5-field cron expression
 * read in an IANA time zone, and each occurrence becomes one send request planned ahead of time
 * (see plan-promotions.ts).
 */
import { Cron } from "croner";
import { InvalidPromotionsError } from "./errors.js";
import * as z from "./zod.js";
import { describeIssues } from "./describe-issues.js";
import { MAX_RECIPIENTS_PER_BATCH, MIN_LEAD_MINUTES } from "./passentry-limits.js";
import {
  IsoDateTimeWithZone,
  recipientsField,
  segmentsField,
  SendRequestMessage,
  WalletMessageBatch,
} from "./schemas.js";

/** The lead time must leave a few minutes for a trigger that fires late, on top of PassEntry's hour. */
export const MIN_LEAD_TIME_MINUTES = MIN_LEAD_MINUTES;
export const DEFAULT_LEAD_TIME_MINUTES = 120;
/** Planning more than a day ahead buys nothing and leaves more batches to cancel when plans change. */
export const MAX_LEAD_TIME_MINUTES = 24 * 60;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Used in request ids (`promo-<id>-20301231T170000Z`, at most 100 characters), batch names and SST
 * component names, hence lowercase words and digits joined by hyphens, and short.
 */
export const PromotionId = z
  .string({ error: "id must be a string" })
  .check(
    z.regex(
      /^[a-z0-9]+(?:-[a-z0-9]+)*$/,
      "id must be a slug: lowercase letters and digits joined by single hyphens, e.g. friday-happy-hour",
    ),
    z.maxLength(60, "id must be at most 60 characters"),
  );

const CRON_FIELDS = "minute hour day-of-month month day-of-week";

/** Why a cron expression is not one we accept, or undefined. Read in UTC: the zone cannot make it invalid. */
function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 || fields[0] === "") {
    return `cron ${JSON.stringify(expression)} is not a valid cron expression: it must have exactly 5 fields (${CRON_FIELDS})`;
  }
  try {
    new Cron(expression, { mode: "5-part" });
    return undefined;
  } catch (error) {
    const detail = (error as Error).message.replace(/^CronPattern:\s*/, "");
    return `cron ${JSON.stringify(expression)} is not a valid cron expression (${detail})`;
  }
}

/** True for a zone this runtime's ICU knows (the same data croner converts with). */
export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const nonBlank = (field: string) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a string`) })
    .check(z.refine((s) => s.trim().length > 0, `${field} must not be blank`));

/** Who receives the promotion: the same targeting as PassEntry's batch, segments or recipients. */
export const PromotionAudience = z
  .strictObject(
    {
      segments: segmentsField("audience"),
      // One PassEntry batch per occurrence: a promotion never splits.
      recipients: recipientsField("audience", MAX_RECIPIENTS_PER_BATCH),
    },
    {
      error: (issue) =>
        issue.code === "unrecognized_keys"
          ? `audience may hold only segments or recipients, not ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`
          : undefined,
    },
  )
  .check(
    z.refine((a) => (a.segments === undefined) !== (a.recipients === undefined), {
      message: "audience must name segments or recipients, not both and not neither",
    }),
  );

/** A local calendar date, YYYY-MM-DD, read in the promotion's time zone. */
const LocalDate = (field: string) => z.iso.date({ error: `${field} must be a date written YYYY-MM-DD` });

const PromotionFields = z.strictObject(
  {
    id: PromotionId,
    /** The batch name PassEntry shows (our marker is appended to it when sending). */
    name: nonBlank("name").check(z.refine((s) => s.length <= 200, "name must be at most 200 characters")),
    /** Whether the promotion is planned at all; a disabled one is kept but sends nothing. */
    enabled: z.boolean({ error: "enabled must be true or false" }),
    cron: z.string({ error: "cron must be a string" }).check(
      z.superRefine((expression, ctx) => {
        const problem = cronProblem(expression);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
    ),
    timeZone: z.string({ error: "timeZone must be a string" }).check(
      z.refine(isKnownTimeZone, {
        error: (issue) =>
          `timeZone ${JSON.stringify(issue.input)} is not a known IANA time zone (e.g. Europe/London, America/New_York)`,
      }),
    ),
    /** How long before each occurrence its send request is planned (and so reaches PassEntry). */
    leadTimeMinutes: z._default(
      z
        .number({ error: "leadTimeMinutes must be a number of minutes" })
        .check(
          z.int("leadTimeMinutes must be a whole number of minutes"),
          z.gte(
            MIN_LEAD_TIME_MINUTES,
            `leadTimeMinutes must be at least ${MIN_LEAD_TIME_MINUTES}: PassEntry needs scheduledAt an hour ahead, plus a few minutes for a late trigger`,
          ),
          z.lte(MAX_LEAD_TIME_MINUTES, `leadTimeMinutes must be at most ${MAX_LEAD_TIME_MINUTES} (one day)`),
        ),
      DEFAULT_LEAD_TIME_MINUTES,
    ),
    entityId: SendRequestMessage.shape.entityId,
    message: nonBlank("message"),
    audience: PromotionAudience,
    tag: z.optional(nonBlank("tag").check(z.refine((s) => s.length <= 200, "tag must be at most 200 characters"))),
    /** First local day with occurrences (inclusive). */
    startDate: z.optional(LocalDate("startDate")),
    /** Last local day with occurrences (inclusive). */
    endDate: z.optional(LocalDate("endDate")),
    /** Occurrences not to send ("skip the next one"), as instants with a zone, e.g. 2026-12-25T17:00:00Z. */
    skip: z.optional(z.array(IsoDateTimeWithZone, { error: "skip must be a list of date-times" })),
  },
  {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`
        : issue.code === "invalid_type"
          ? "a promotion must be a JSON object"
          : undefined,
  },
);

/**
 * One recurring promotion. The checks that need several fields (the cron read in the zone, the
 * skip list, the date range) run once every field is valid on its own.
 */
export const Promotion = PromotionFields.check(
  z.superRefine(crossFieldProblems, {
    // Field refinements (cron, timeZone, message) do not abort parsing; these checks need them all valid.
    when: (payload) => payload.issues.length === 0,
  }),
);
export type Promotion = z.infer<typeof Promotion>;
/** What a promotion looks like before defaults (leadTimeMinutes) are filled in, as written in the file. */
export type PromotionInput = z.input<typeof Promotion>;

function crossFieldProblems(
  p: z.output<typeof PromotionFields>,
  ctx: z.core.$RefinementCtx<z.output<typeof PromotionFields>>,
): void {
  if (p.startDate && p.endDate && p.startDate > p.endDate) {
    ctx.addIssue({
      code: "custom",
      path: ["endDate"],
      message: `endDate ${p.endDate} is before startDate ${p.startDate}`,
    });
    return;
  }
  const cron = cronFor(p);
  const first = cron.nextRun(new Date(REFERENCE_START));
  if (first === null) {
    ctx.addIssue({
      code: "custom",
      path: ["cron"],
      message: `cron ${JSON.stringify(p.cron)} never occurs${p.startDate || p.endDate ? " between startDate and endDate" : ""}`,
    });
    return;
  }
  // An hourly trigger plans each occurrence once; several within an hour would also flood the same
  // passes (PassEntry advises at most 3 messages a day per pass), which is almost always a typo
  // such as "* 17 * * 5" for "0 17 * * 5".
  const runs = cron.nextRuns(200, first);
  let previous = first.getTime();
  for (const run of runs) {
    if (run.getTime() - previous < HOUR_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["cron"],
        message: `cron ${JSON.stringify(p.cron)} occurs more than once an hour (at ${localTime(previous, p.timeZone)} and ${localTime(run.getTime(), p.timeZone)}); a promotion may occur at most once an hour`,
      });
      break;
    }
    previous = run.getTime();
  }
  for (const entry of p.skip ?? []) {
    const at = Date.parse(entry);
    const nearest = cronFor({ ...p, startDate: undefined, endDate: undefined }).nextRun(new Date(at - 1000));
    if (nearest === null || nearest.getTime() !== Math.floor(at / 1000) * 1000) {
      ctx.addIssue({
        code: "custom",
        path: ["skip"],
        message: `skip ${JSON.stringify(entry)} is not an occurrence of cron ${JSON.stringify(p.cron)} in ${p.timeZone}${nearest ? ` (the next one is ${localIso(nearest.getTime(), p.timeZone)})` : ""}`,
      });
    }
  }
  const batch = WalletMessageBatch.safeParse(batchFor(p, first.getTime()));
  if (!batch.success) {
    for (const problem of describeIssues(batch.error))
      ctx.addIssue({ code: "custom", message: `it would not make a valid PassEntry batch: ${problem}` });
  }
}

/** Where the search for a promotion's first occurrence starts when it has no startDate: any fixed past day will do. */
const REFERENCE_START = Date.UTC(2000, 0, 1);

/**
 * `promotions.json`: `{ "promotions": [ … ] }`. A `$schema` key may point an editor at a schema.
 * Entries are checked one by one (parsePromotionsFile) so each message can name its promotion.
 */
export const PromotionsFile = z.strictObject(
  {
    $schema: z.optional(z.string()),
    promotions: z.array(z.unknown(), { error: 'the file must hold a "promotions" list' }),
  },
  {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown top-level field ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`
        : issue.code === "invalid_type"
          ? 'the file must be a JSON object with a "promotions" list'
          : undefined,
  },
);

/**
 * What each promotion's trigger hands the planner: exactly the `event` of its `sst.aws.CronV2`,
 * where EventBridge Scheduler fills in `<aws.scheduler.scheduled-time>` (e.g. 2026-07-03T14:00:00Z).
 * The local scheduler sends the same shape.
 */
export const PlannerEvent = z.object({
  promotionId: z
    .string({ error: "promotionId must be a string" })
    .check(z.minLength(1, "promotionId must not be empty")),
  scheduledTime: IsoDateTimeWithZone,
});
export type PlannerEvent = z.infer<typeof PlannerEvent>;

export type PromotionsCheck = { ok: true; promotions: Promotion[] } | { ok: false; problems: string[] };

/**
 * Checks a parsed promotions file and names each problem by promotion and field.
 *
 * @example
 *   checkPromotionsFile({ promotions: [{ id: "friday-happy-hour", cron: "0 25 * * 5", … }] })
 *   // { ok: false, problems: ['promotion "friday-happy-hour": cron "0 25 * * 5" is not a valid cron expression (Invalid value for hour: 25)'] }
 */
export function checkPromotionsFile(json: unknown): PromotionsCheck {
  const file = PromotionsFile.safeParse(json);
  if (!file.success) return { ok: false, problems: describeIssues(file.error) };
  const problems: string[] = [];
  const promotions: Promotion[] = [];
  const positions = new Map<string, number[]>();
  for (const [index, entry] of file.data.promotions.entries()) {
    const rawId = typeof entry === "object" && entry !== null ? (entry as { id?: unknown }).id : undefined;
    const label =
      typeof rawId === "string" && rawId.trim() !== ""
        ? `promotion ${JSON.stringify(rawId)}`
        : `promotion #${index + 1}`;
    if (typeof rawId === "string") positions.set(rawId, [...(positions.get(rawId) ?? []), index + 1]);
    const parsed = Promotion.safeParse(entry);
    if (parsed.success) promotions.push(parsed.data);
    else problems.push(...describeIssues(parsed.error).map((problem) => `${label}: ${problem}`));
  }
  for (const [id, at] of positions) {
    if (at.length > 1)
      problems.push(
        `promotion ${JSON.stringify(id)}: id is used by more than one promotion (entries ${at.join(" and ")})`,
      );
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, promotions };
}

/** Like checkPromotionsFile, but throws InvalidPromotionsError: for start-up and deploys, which must stop. */
export function parsePromotionsFile(json: unknown): Promotion[] {
  const checked = checkPromotionsFile(json);
  if (!checked.ok) throw new InvalidPromotionsError(checked.problems);
  return checked.promotions;
}

// ---------------------------------------------------------------------------------------------
// Occurrences

type Schedule = Pick<Promotion, "cron" | "timeZone" | "startDate" | "endDate">;

/**
 * The promotion's cron read in its zone, limited to its local dates. croner treats a pattern with
 * one minute and one hour (e.g. `30 1 * * *`) as fixed-time: a time that does not exist on the
 * spring-forward day runs at the first valid time after the gap (01:30 in London → 02:00 BST), and
 * a time that occurs twice on the fall-back day runs once, at its first occurrence (01:30 BST).
 */
function cronFor(schedule: Schedule): Cron {
  return new Cron(schedule.cron, {
    mode: "5-part",
    timezone: schedule.timeZone,
    // croner reads these local date-times in the job's zone; stopAt is exclusive, endDate inclusive.
    ...(schedule.startDate ? { startAt: `${schedule.startDate}T00:00:00` } : {}),
    ...(schedule.endDate ? { stopAt: `${nextDay(schedule.endDate)}T00:00:00` } : {}),
  });
}

function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
}

export interface Occurrence {
  /** The instant, ms since the epoch. */
  at: number;
  /** Listed in the promotion's `skip`: not sent. */
  skipped: boolean;
}

/**
 * The promotion's occurrences in [fromMs, toMs), oldest first, each at its exact local time
 * converted to an instant.
 *
 * @example
 *   occurrencesBetween(fridayHappyHour, Date.parse("2026-07-03T00:00Z"), Date.parse("2026-07-04T00:00Z"))
 *   // [{ at: Date.parse("2026-07-03T16:00:00Z"), skipped: false }]   (17:00 BST)
 */
export function occurrencesBetween(
  promotion: Schedule & Pick<Promotion, "skip">,
  fromMs: number,
  toMs: number,
): Occurrence[] {
  const cron = cronFor(promotion);
  const skipped = new Set((promotion.skip ?? []).map((s) => Date.parse(s)));
  const found: Occurrence[] = [];
  // croner works in whole seconds and answers the first run strictly after its argument.
  let cursor = new Date(Math.ceil(fromMs / 1000) * 1000 - 1000);
  for (;;) {
    const next = cron.nextRun(cursor);
    if (next === null || next.getTime() >= toMs) return found;
    if (next.getTime() >= fromMs) found.push({ at: next.getTime(), skipped: skipped.has(next.getTime()) });
    cursor = next;
  }
}

/** The next `count` occurrences strictly after `afterMs` (skipped ones included and marked). */
export function nextOccurrences(
  promotion: Schedule & Pick<Promotion, "skip">,
  afterMs: number,
  count: number,
): Occurrence[] {
  const skipped = new Set((promotion.skip ?? []).map((s) => Date.parse(s)));
  return cronFor(promotion)
    .nextRuns(count, new Date(afterMs))
    .map((d) => ({ at: d.getTime(), skipped: skipped.has(d.getTime()) }));
}

/** The PassEntry batch a promotion sends for one occurrence. */
export function batchFor(
  promotion: Pick<Promotion, "message" | "audience" | "name" | "tag">,
  occurrenceMs: number,
): WalletMessageBatch {
  return {
    message: promotion.message,
    ...(promotion.audience.segments ? { segments: promotion.audience.segments } : {}),
    ...(promotion.audience.recipients ? { recipients: promotion.audience.recipients } : {}),
    scheduledAt: utcIso(occurrenceMs),
    name: promotion.name,
    ...(promotion.tag !== undefined ? { tag: promotion.tag } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Time formatting

/** `2030-12-31T17:00:00Z`: UTC, whole seconds. */
export function utcIso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `20301231T170000Z`: the compact UTC form used in request ids. */
export function compactUtc(ms: number): string {
  return utcIso(ms).replace(/[-:]/g, "");
}

/**
 * The instant as local time in `zone` with its offset, e.g. `2026-07-03T17:00:00+01:00`: what a
 * marketer recognises, and exactly what `skip` accepts.
 */
export function localIso(ms: number, zone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZoneName: "longOffset",
    })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  // "GMT" alone for a zero offset, "GMT+01:00" otherwise.
  const offset = parts.timeZoneName === "GMT" ? "+00:00" : String(parts.timeZoneName).replace(/^GMT/, "");
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}

/** `17:00`: the local wall-clock time in `zone`. */
function localTime(ms: number, zone: string): string {
  return localIso(ms, zone).slice(11, 16);
}

/** The zone's short name at that instant where ICU has one (BST, EDT), else its offset (GMT+5:30). */
export function zoneAbbreviation(ms: number, zone: string): string {
  const locale = zone.startsWith("America/") ? "en-US" : "en-GB";
  const part = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: "short" })
    .formatToParts(new Date(ms))
    .find((p) => p.type === "timeZoneName");
  return part?.value ?? zone;
}
