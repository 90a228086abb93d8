/**
 * The local twin of the DynamoDB send ledger: one row per part, the entry as JSON. Each write checks
 * the entry's version inside one immediate transaction, the same compare-and-set the DynamoDB
 * adapter expresses as a ConditionExpression; the state machine (core/send-state-machine.ts)
 * decides what is written.
 */
import type { SendKey, SendLedger } from "../core/ports.js";
import { SendRecord } from "../core/schemas.js";
import type { SqliteDatabase } from "./sqlite-database.js";

export class SqliteSendLedger implements SendLedger {
  constructor(private readonly db: SqliteDatabase) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS sends (
        request_id TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (request_id, chunk)
      );
    `);
  }

  async get(key: SendKey): Promise<SendRecord | undefined> {
    return this.read(key);
  }

  async create(entry: SendRecord): Promise<boolean> {
    const stored = SendRecord.parse(entry);
    return this.db.prepare("INSERT OR IGNORE INTO sends (request_id, chunk, record) VALUES (?, ?, ?)").run(stored.requestId, stored.chunk, JSON.stringify(stored)).changes === 1;
  }

  async update(key: SendKey, expectedVersion: number, changes: Partial<SendRecord>): Promise<boolean> {
    return this.db
      .transaction(() => {
        const existing = this.read(key);
        if (!existing || existing.version !== expectedVersion) return false;
        const merged: Record<string, unknown> = { ...existing, ...changes };
        for (const [field, value] of Object.entries(merged)) if (value === undefined) delete merged[field];
        const stored = SendRecord.parse(merged);
        this.db.prepare("UPDATE sends SET record = ? WHERE request_id = ? AND chunk = ?").run(JSON.stringify(stored), key.requestId, key.chunk);
        return true;
      })
      .immediate();
  }

  async list(requestId: string): Promise<SendRecord[]> {
    const rows = this.db.prepare("SELECT record FROM sends WHERE request_id = ? ORDER BY chunk").all(requestId) as { record: string }[];
    return rows.map((row) => SendRecord.parse(JSON.parse(row.record)));
  }

  private read(key: SendKey): SendRecord | undefined {
    const row = this.db.prepare("SELECT record FROM sends WHERE request_id = ? AND chunk = ?").get(key.requestId, key.chunk) as { record: string } | undefined;
    return row ? SendRecord.parse(JSON.parse(row.record)) : undefined;
  }
}
