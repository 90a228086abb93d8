/**
 * The local twin of the DynamoDB request store: requests and their idempotency keys in SQLite.
 * A key is reserved per caller, in the same transaction that stores the request, as DynamoDB does
 * with a TransactWriteItems.
 *
 * Databases written by earlier versions kept one global `idempotency_key` column on `requests`.
 * Opening one moves those keys into `idempotency_keys` under the callers that could have made them
 * (see `legacyKeyOwners`), once, in one transaction, so a retry after the upgrade still finds its request.
 */
import { callerName, legacyKeyOwners } from "../core/callers.js";
import type { CreateRequestResult, RecentRequestsPage, RecentRequestsQuery, RequestStore } from "../core/ports.js";
import { RequestRecord, type CallerId } from "../core/schemas.js";
import type { SqliteDatabase } from "./sqlite-database.js";

/**
 * Who a row belongs to, as the owner index holds it: its caller, or for a record written before
 * callers had kinds, `legacy:<apiKeyName>` (such a record belongs to the key and the signer of
 * that name: see ownersOf in core/callers.ts).
 */
const OWNER = "coalesce(json_extract(record, '$.caller'), 'legacy:' || json_extract(record, '$.apiKeyName'))";

/** The owner-index values a caller's own list reads. */
function ownerValues(owner: CallerId): [string, string] {
  const kind = owner.slice(0, owner.indexOf(":"));
  return [owner, kind === "key" || kind === "signer" ? `legacy:${callerName(owner)}` : owner];
}

/** The scope of a key whose request names no caller (no door makes such requests today). */
const NO_CALLER = "";

export class SqliteRequestStore implements RequestStore {
  constructor(private readonly db: SqliteDatabase) {
    this.immediate(() => {
      const legacy = this.columns("requests").includes("idempotency_key");
      if (legacy) db.exec("ALTER TABLE requests RENAME TO requests_before_callers");
      db.exec(`
        CREATE TABLE IF NOT EXISTS requests (
          request_id TEXT PRIMARY KEY,
          record TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS idempotency_keys (
          caller TEXT NOT NULL,
          idempotency_key TEXT NOT NULL,
          request_id TEXT NOT NULL,
          PRIMARY KEY (caller, idempotency_key)
        );
      `);
      if (legacy) this.migrateLegacyKeys();
      // Pages the list newest first without a second copy of the creation time: an index on the record's own field.
      db.exec(
        "CREATE INDEX IF NOT EXISTS requests_by_created ON requests (json_extract(record, '$.createdAt'), request_id)",
      );
      // A caller's own list (listRecent with an owner) reads only its rows, newest first.
      db.exec(
        `CREATE INDEX IF NOT EXISTS requests_by_owner ON requests (${OWNER}, json_extract(record, '$.createdAt'), request_id)`,
      );
    });
  }

  async create(record: RequestRecord): Promise<CreateRequestResult> {
    return this.immediate(() => this.createNow(record));
  }

  /** `create`'s work, without its own transaction: the caller holds one (the local intake). */
  createNow(record: RequestRecord): CreateRequestResult {
    {
      const scope = record.caller ?? NO_CALLER;
      if (record.idempotencyKey !== undefined) {
        const row = this.db
          .prepare(
            "SELECT r.record FROM idempotency_keys k JOIN requests r ON r.request_id = k.request_id WHERE k.caller = ? AND k.idempotency_key = ?",
          )
          .get(scope, record.idempotencyKey) as { record: string } | undefined;
        if (row) return { created: false as const, existing: RequestRecord.parse(JSON.parse(row.record)) };
      }
      this.db
        .prepare("INSERT INTO requests (request_id, record) VALUES (?, ?)")
        .run(record.requestId, JSON.stringify(record));
      if (record.idempotencyKey !== undefined) {
        this.db
          .prepare("INSERT INTO idempotency_keys (caller, idempotency_key, request_id) VALUES (?, ?, ?)")
          .run(scope, record.idempotencyKey, record.requestId);
      }
      return { created: true as const };
    }
  }

  async ensure(record: RequestRecord): Promise<RequestRecord> {
    this.db
      .prepare("INSERT OR IGNORE INTO requests (request_id, record) VALUES (?, ?)")
      .run(record.requestId, JSON.stringify(record));
    return (await this.get(record.requestId)) ?? record;
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const row = this.db.prepare("SELECT record FROM requests WHERE request_id = ?").get(requestId) as
      | { record: string }
      | undefined;
    return row ? RequestRecord.parse(JSON.parse(row.record)) : undefined;
  }

  async markEnqueued(requestId: string, at: string): Promise<void> {
    this.updateRequest(requestId, (r) => {
      const { failureReason: _cleared, ...rest } = r;
      return { ...rest, enqueuedAt: at };
    });
  }

  async markFailed(requestId: string, reason: string): Promise<void> {
    this.updateRequest(requestId, (r) => ({ ...r, failureReason: reason }));
  }

  async markCancelled(requestId: string, by: CallerId, at: string): Promise<RequestRecord | undefined> {
    return this.updateRequest(requestId, (r) =>
      r.cancelledBy === undefined ? { ...r, cancelledBy: by, cancelledAt: at } : r,
    );
  }

  async update(
    requestId: string,
    change: (record: RequestRecord) => RequestRecord,
  ): Promise<RequestRecord | undefined> {
    return this.updateRequest(requestId, change);
  }

  async listRecent(query: RecentRequestsQuery): Promise<RecentRequestsPage> {
    const records: RequestRecord[] = [];
    const statement = this.db.prepare(
      `SELECT request_id, record, json_extract(record, '$.createdAt') AS created_at FROM requests
       WHERE (? IS NULL OR json_extract(record, '$.createdAt') >= ?)
         AND (? IS NULL OR json_extract(record, '$.createdAt') < ? OR (json_extract(record, '$.createdAt') = ? AND request_id < ?))
         ${query.owner === undefined ? "" : `AND ${OWNER} IN (?, ?)`}
       ORDER BY json_extract(record, '$.createdAt') DESC, request_id DESC LIMIT ?`,
    );
    const since = query.since ?? null;
    const after = query.after;
    const rows = statement.all(
      since,
      since,
      after?.createdAt ?? null,
      after?.createdAt ?? null,
      after?.createdAt ?? null,
      after?.requestId ?? null,
      ...(query.owner === undefined ? [] : ownerValues(query.owner)),
      query.maxExamined + 1,
    ) as {
      request_id: string;
      record: string;
      created_at: string;
    }[];
    let examined = 0;
    for (const row of rows) {
      if (examined === query.maxExamined)
        return {
          records,
          next: { createdAt: rows[examined - 1]!.created_at, requestId: rows[examined - 1]!.request_id },
        };
      examined++;
      const parsed = RequestRecord.safeParse(JSON.parse(row.record));
      if (parsed.success && query.accept(parsed.data)) records.push(parsed.data);
      if (records.length === query.limit) {
        const more = rows.length > examined;
        return more ? { records, next: { createdAt: row.created_at, requestId: row.request_id } } : { records };
      }
    }
    return { records };
  }

  private updateRequest(requestId: string, change: (r: RequestRecord) => RequestRecord): RequestRecord | undefined {
    return this.immediate(() => {
      const row = this.db.prepare("SELECT record FROM requests WHERE request_id = ?").get(requestId) as
        | { record: string }
        | undefined;
      if (!row) return undefined;
      const before = RequestRecord.parse(JSON.parse(row.record));
      const next = change(before);
      if (next !== before)
        this.db.prepare("UPDATE requests SET record = ? WHERE request_id = ?").run(JSON.stringify(next), requestId);
      return next;
    });
  }

  /** Copies every request of the old table, and files each old key under every caller that could have made it. */
  private migrateLegacyKeys(): void {
    const rows = this.db.prepare("SELECT request_id, idempotency_key, record FROM requests_before_callers").all() as {
      request_id: string;
      idempotency_key: string | null;
      record: string;
    }[];
    const insertRequest = this.db.prepare("INSERT OR IGNORE INTO requests (request_id, record) VALUES (?, ?)");
    const insertKey = this.db.prepare(
      "INSERT OR IGNORE INTO idempotency_keys (caller, idempotency_key, request_id) VALUES (?, ?, ?)",
    );
    for (const row of rows) {
      insertRequest.run(row.request_id, row.record);
      if (row.idempotency_key === null) continue;
      // A record too damaged to parse keeps its request row; its key simply stops matching.
      const parsed = RequestRecord.safeParse(JSON.parse(row.record));
      for (const owner of parsed.success ? legacyKeyOwners(parsed.data) : [])
        insertKey.run(owner, row.idempotency_key, row.request_id);
    }
    this.db.exec("DROP TABLE requests_before_callers");
  }

  private columns(table: string): string[] {
    return (this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
  }

  private immediate<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }
}
