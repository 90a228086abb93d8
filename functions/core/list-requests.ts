/**
 * Use case: list requests (GET /api/v1/requests, `npm run cli -- list`, the console), newest
 * first, filtered and paged by a sealed cursor. Scoped like GET and DELETE: a caller sees its own
 * requests, an operator every request.
 *
 * The state shown and filtered on is the request's summary (request-summary.ts): a copy of what
 * its ledger entries gave at its last move. Filters are applied here, in one place, to the records
 * the store pages through; each page looks at a bounded number of records (`MAX_EXAMINED`), so a
 * narrow filter may answer a short page with a `next` cursor rather than read the whole table.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { isOperator, mayAccess } from "./callers.js";
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
const LIMIT_RULE = `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`;
/** "state must be one of queued, … (got bogus)": the allowed values, and what was sent (cut short). */
const oneOf =
  (field: string, allowed: readonly string[]) =>
  (issue: { input?: unknown }): string =>
    `${field} must be one of ${allowed.join(", ")} (got ${String(issue.input).slice(0, 100)})`;

export const ListRequestsQuery = z.strictObject({
  state: z.optional(z.enum(RequestState.options, { error: oneOf("state", RequestState.options) })),
  source: z.optional(z.enum(RequestSource.options, { error: oneOf("source", RequestSource.options) })),
  entity: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  /** A pass id or external id one of the request's recipients names. */
  pass: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  since: z.optional(IsoDateTimeWithZone),
  limit: z.optional(
    z.coerce
      .number({ error: LIMIT_RULE })
      .check(z.int(LIMIT_RULE), z.gte(1, LIMIT_RULE), z.lte(MAX_PAGE_SIZE, LIMIT_RULE)),
  ),
  cursor: z.optional(
    z
      .string()
      .check(
        z.minLength(1, "cursor is empty: leave it out for the first page, or pass links.next of the page before"),
        z.maxLength(500, "cursor is too long: pass links.next of the page before, unchanged"),
      ),
  ),
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
    const problems = describeIssues(parsed.error).map((p) =>
      p.startsWith("Unrecognized key") ? `${p}. ${QUERY_HELP}` : p,
    );
    throw new ValidationError("The list query is not valid.", problems, 400);
  }
  return parsed.data;
}

/**
 * Where the next page starts, sealed for the caller it was given to. A page may stop at a request
 * the caller cannot see (it looked at `MAX_EXAMINED` records and found too few of the caller's), so
 * a readable cursor would tell one caller another's request id and when it was made. The position
 * is encrypted and authenticated (AES-256-GCM) with the caller's id as associated data: the cursor
 * says nothing, cannot be forged or edited, and is refused to anyone else. The key is derived from
 * the API keys secret, as the console's session key is, so no secret has to be provisioned;
 * rotating the keys ends every cursor (the caller starts again from the first page).
 */
const CURSOR_VERSION = 1;
const cursorKey = (apiKeysSecret: string) =>
  createHmac("sha256", "wallet-messaging list cursor v1").update(apiKeysSecret).digest();

/** The cursor that resumes the list after `position`, for `caller` alone. */
export function sealCursor(position: ListPosition, caller: CallerId, apiKeysSecret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", cursorKey(apiKeysSecret), iv);
  cipher.setAAD(Buffer.from(caller));
  const sealed = Buffer.concat([
    cipher.update(JSON.stringify([position.createdAt, position.requestId]), "utf8"),
    cipher.final(),
  ]);
  return Buffer.concat([Buffer.of(CURSOR_VERSION), iv, sealed, cipher.getAuthTag()]).toString("base64url");
}

/** The position a cursor sealed for `caller` names; a 400 for any other text. */
export function openCursor(cursor: string, caller: CallerId, apiKeysSecret: string): ListPosition {
  try {
    const bytes = Buffer.from(cursor, "base64url");
    if (bytes.length > 1 + 12 + 16 && bytes[0] === CURSOR_VERSION) {
      const decipher = createDecipheriv("aes-256-gcm", cursorKey(apiKeysSecret), bytes.subarray(1, 13));
      decipher.setAAD(Buffer.from(caller));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      const text = Buffer.concat([decipher.update(bytes.subarray(13, bytes.length - 16)), decipher.final()]).toString(
        "utf8",
      );
      const [createdAt, requestId] = JSON.parse(text) as unknown[];
      if (typeof createdAt === "string" && typeof requestId === "string") return { createdAt, requestId };
    }
  } catch {
    // answered below: a cursor that was edited, given to another caller, or made before the keys changed
  }
  throw new ValidationError(
    "The cursor is not valid.",
    [
      "cursor must be the value of links.next from an earlier page, unchanged, used with the same key; start again without a cursor if the API keys changed since.",
    ],
    400,
  );
}

/** Whether any recipient of the request names `pass` (in any field but its variables). */
function namesPass(record: RequestRecord, pass: string): boolean {
  return (record.batch.recipients ?? []).some((recipient) =>
    Object.entries(recipient).some(([key, value]) => key !== "variables" && String(value) === pass),
  );
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
 * @example const { records, next } = await listRequests({ store, apiKeysSecret }, parseListQuery({ state: "deadLettered" }), "operator:ops");
 */
export async function listRequests(
  deps: { store: RequestStore; apiKeysSecret: string },
  query: ListRequestsQuery,
  caller: CallerId,
): Promise<RequestListPage> {
  const since = query.since === undefined ? undefined : new Date(Date.parse(query.since)).toISOString();
  const page = await deps.store.listRecent({
    // A caller reads its own requests only (its own index); an operator reads everyone's.
    owner: isOperator(caller) ? undefined : caller,
    after: query.cursor === undefined ? undefined : openCursor(query.cursor, caller, deps.apiKeysSecret),
    since,
    limit: query.limit ?? DEFAULT_PAGE_SIZE,
    maxExamined: MAX_EXAMINED,
    accept: (record) => mayAccess(caller, record) && matchesFilter(record, query),
  });
  return { records: page.records, ...(page.next ? { next: sealCursor(page.next, caller, deps.apiKeysSecret) } : {}) };
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
