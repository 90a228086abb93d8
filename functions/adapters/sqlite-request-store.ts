/**
 * The local twin of the DynamoDB request store: requests and their idempotency keys in SQLite.
 * The key is reserved in the same transaction that stores the request, as DynamoDB does with a
 * TransactWriteItems.
 */
import type { CreateRequestResult, RequestStore } from "../core/ports.js";
import { RequestRecord } from "../core/schemas.js";
import type { SqliteDatabase } from "./sqlite-database.js";

export class SqliteRequestStore implements RequestStore {
  constructor(private readonly db: SqliteDatabase) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS requests (
        request_id TEXT PRIMARY KEY,
        idempotency_key TEXT UNIQUE,
        record TEXT NOT NULL
      );
    `);
  }

  async create(record: RequestRecord): Promise<CreateRequestResult> {
    return this.immediate(() => {
      if (record.idempotencyKey !== undefined) {
        const row = this.db.prepare("SELECT record FROM requests WHERE idempotency_key = ?").get(record.idempotencyKey) as { record: string } | undefined;
        if (row) return { created: false as const, existing: RequestRecord.parse(JSON.parse(row.record)) };
      }
      this.db.prepare("INSERT INTO requests (request_id, idempotency_key, record) VALUES (?, ?, ?)").run(record.requestId, record.idempotencyKey ?? null, JSON.stringify(record));
      return { created: true as const };
    });
  }

  async ensure(record: RequestRecord): Promise<RequestRecord> {
    this.db.prepare("INSERT OR IGNORE INTO requests (request_id, idempotency_key, record) VALUES (?, NULL, ?)").run(record.requestId, JSON.stringify(record));
    return (await this.get(record.requestId)) ?? record;
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const row = this.db.prepare("SELECT record FROM requests WHERE request_id = ?").get(requestId) as { record: string } | undefined;
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

  private updateRequest(requestId: string, change: (r: RequestRecord) => RequestRecord): void {
    this.immediate(() => {
      const row = this.db.prepare("SELECT record FROM requests WHERE request_id = ?").get(requestId) as { record: string } | undefined;
      if (!row) return;
      const next = change(RequestRecord.parse(JSON.parse(row.record)));
      this.db.prepare("UPDATE requests SET record = ? WHERE request_id = ?").run(JSON.stringify(next), requestId);
    });
  }

  private immediate<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }
}
