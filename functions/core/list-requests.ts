/**
 * Use case: list requests (GET /api/v1/requests, `npm run cli -- list`, the console), newest
 * first, filtered and paged by an opaque cursor. Scoped like GET and DELETE: a caller sees its own
 * requests, an operator every request.
 *
 * The state shown and filtered on is the request's summary (request-summary.ts): a copy of what
 * its ledger entries gave at its last move. Filters are applied here, in one place, to the records
 * the store pages through; each page looks at a bounded number of records (`MAX_EXAMINED`), so a
 * narrow filter may answer a short page with a `next` cursor rather than read the whole table.
 */
import { mayAccess } from "./callers.js";
import { ValidationError } from "./errors.js";
import type { ListPosition, RequestStore } from "./ports.js";
import { describeIssues } from "./describe-issues.js";
import { IsoDateTimeWithZone, RequestSource, RequestState, type CallerId, type RequestRecord } from "./schemas.js";
import * as z from "./zod.js";

export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;
/** Records one page may look at: bounds the read (and its cost on DynamoDB) whatever the filter. */
export const MAX_EXAMINED = 1_000;

/** The query string of GET /api/v1/requests. */
export const ListRequestsQuery = z.strictObject({
  state: z.optional(RequestState),
  source: z.optional(RequestSource),
  entity: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  /** A pass id or external id one of the request's recipients names. */
  pass: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  since: z.optional(IsoDateTimeWithZone),
  limit: z.optional(z.coerce.number().check(z.int(), z.gte(1), z.lte(MAX_PAGE_SIZE))),
  cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(500))),
});
export type ListRequestsQuery = z.infer<typeof ListRequestsQuery>;

const QUERY_HELP = `Filters: state (${RequestState.options.join(", ")}), source (${RequestSource.options.join(", ")}), entity, pass, since (ISO-8601 with a zone), limit (1 to ${MAX_PAGE_SIZE}), cursor (from links.next).`;

/**
 * Reads the query string, refusing unknown names and bad values with sentences that say what is allowed.
 *
 * @example parseListQuery({ state: "queued", limit: "10" }) // { state: "queued", limit: 10 }
 */
export function parseListQuery(raw: Record<string, string | undefined> | undefined): ListRequestsQuery {
  const parsed = ListRequestsQuery.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = describeIssues(parsed.error).map((p) => (p.startsWith("Unrecognized key") ? `${p}. ${QUERY_HELP}` : p));
    throw new ValidationError("The list query is not valid.", problems, 400);
  }
  return parsed.data;
}

/** An opaque place in the list: base64url of the last request shown. */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.requestId])).toString("base64url");
}

export function decodeCursor(cursor: string): ListPosition {
  try {
    const [createdAt, requestId] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (typeof createdAt === "string" && typeof requestId === "string") return { createdAt, requestId };
  } catch {
    // answered below
  }
  throw new ValidationError("The cursor is not valid.", ["cursor must be the value of links.next from an earlier page, unchanged."], 400);
}

/** Whether any recipient of the request names `pass` (in any field but its variables). */
function namesPass(record: RequestRecord, pass: string): boolean {
  return (record.batch.recipients ?? []).some((recipient) => Object.entries(recipient).some(([key, value]) => key !== "variables" && String(value) === pass));
}

/** The state the list shows: the summary's, or `queued` for a request no sender has touched yet. */
export function listedState(record: RequestRecord): RequestState {
  if (record.summary) return record.summary.state;
  return record.deadLetter ? "deadLettered" : record.failureReason ? "failed" : "queued";
}

/** Whether the record passes every filter given. */
export function matchesFilter(record: RequestRecord, query: ListRequestsQuery): boolean {
  // A shared batch is not anyone's request: listed only when asked for (source=group).
  if (record.source === "group" && query.source !== "group") return false;
  if (query.state !== undefined && listedState(record) !== query.state) return false;
  if (query.source !== undefined && record.source !== query.source) return false;
  if (query.entity !== undefined && record.entityId !== query.entity) return false;
  if (query.pass !== undefined && !namesPass(record, query.pass)) return false;
  return true;
}

export interface RequestListPage {
  records: RequestRecord[];
  next?: string;
}

/**
 * One page of the requests `caller` may see that match `query`.
 *
 * @example const { records, next } = await listRequests({ store }, parseListQuery({ state: "deadLettered" }), "operator:ops");
 */
export async function listRequests(deps: { store: RequestStore }, query: ListRequestsQuery, caller: CallerId): Promise<RequestListPage> {
  const since = query.since === undefined ? undefined : new Date(Date.parse(query.since)).toISOString();
  const page = await deps.store.listRecent({
    after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
    since,
    limit: query.limit ?? DEFAULT_PAGE_SIZE,
    maxExamined: MAX_EXAMINED,
    accept: (record) => mayAccess(caller, record) && matchesFilter(record, query),
  });
  return { records: page.records, ...(page.next ? { next: encodeCursor(page.next) } : {}) };
}

/** One list entry, shaped like the detail document's attributes (fewer of them). */
export function renderListEntry(record: RequestRecord) {
  return {
    id: record.requestId,
    type: "walletMessageRequest",
    attributes: {
      status: listedState(record),
      progress: record.summary?.progress ?? null,
      entityId: record.entityId,
      source: record.source,
      caller: record.caller ?? null,
      createdAt: record.createdAt,
      scheduledAt: record.batch.scheduledAt ?? null,
      sendNow: record.sendNow ?? false,
      content: record.batch.message,
      recipients: record.batch.recipients?.length ?? null,
      segments: record.batch.segments?.map((s) => s.groupTag ?? null) ?? null,
      cancelledBy: record.cancelledBy ?? null,
      deadLetter: record.deadLetter ?? null,
      updatedAt: record.summary?.at ?? record.enqueuedAt ?? record.createdAt,
    },
    links: { self: `/api/v1/requests/${encodeURIComponent(record.requestId)}` },
  };
}
