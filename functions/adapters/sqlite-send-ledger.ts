/**
 * The local twin of the DynamoDB send ledger: one row per part, the entry as JSON. A move is
 * written only over the version it was decided on (a condition in the UPDATE itself), the same
 * compare-and-set the DynamoDB adapter expresses as a ConditionExpression; the state machine
 * (core/send-state-machine.ts) decides what is written.
 */
import type { LedgerWrite, SendKey, SendLedger } from "../core/ports.js";
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
    const row = this.db
      .prepare("SELECT record FROM sends WHERE request_id = ? AND chunk = ?")
      .get(key.requestId, key.chunk) as { record: string } | undefined;
    return row ? SendRecord.parse(JSON.parse(row.record)) : undefined;
  }

  async getMany(keys: readonly SendKey[]): Promise<(SendRecord | undefined)[]> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async write(move: LedgerWrite): Promise<boolean> {
    return this.writeNow(move);
  }

  async writeMany(moves: readonly LedgerWrite[]): Promise<boolean[]> {
    return this.db.transaction(() => moves.map((move) => this.writeNow(move))).immediate();
  }

  async list(requestId: string): Promise<SendRecord[]> {
    const rows = this.db.prepare("SELECT record FROM sends WHERE request_id = ? ORDER BY chunk").all(requestId) as {
      record: string;
    }[];
    return rows.map((row) => SendRecord.parse(JSON.parse(row.record)));
  }

  private writeNow({ key, expectedVersion, next }: LedgerWrite): boolean {
    const json = JSON.stringify(SendRecord.parse(next));
    if (expectedVersion === undefined) {
      return (
        this.db
          .prepare("INSERT OR IGNORE INTO sends (request_id, chunk, record) VALUES (?, ?, ?)")
          .run(key.requestId, key.chunk, json).changes === 1
      );
    }
    // Entries written before versions existed count as version 1 (as SendRecord reads them).
    return (
      this.db
        .prepare(
          "UPDATE sends SET record = ? WHERE request_id = ? AND chunk = ? AND coalesce(json_extract(record, '$.version'), 1) = ?",
        )
        .run(json, key.requestId, key.chunk, expectedVersion).changes === 1
    );
  }
}
