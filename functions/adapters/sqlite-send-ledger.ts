/**
 * The local twin of the DynamoDB send ledger. Each write checks its condition inside one immediate
 * transaction: the same conditions the DynamoDB adapter expresses as ConditionExpressions.
 */
import { cancelledEntry, classifyCancel, classifyExisting, LedgerConflictError, newClaim, takeOver, withCancelRequested } from "../core/ledger-rules.js";
import type { BatchUpdate, CancelResult, ClaimResult, SendKey, SendLedger } from "../core/ports.js";
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

  async claim(key: SendKey, claim: { owner: string; leaseMs: number; now: number; marker: string }): Promise<ClaimResult> {
    return this.immediate(() => {
      const existing = this.readSend(key);
      if (existing) return classifyExisting(existing, claim.now);
      const record = newClaim(key, claim);
      this.writeSend(record);
      return { outcome: "claimed" as const, record };
    });
  }

  async reclaim(key: SendKey, claim: { owner: string; leaseMs: number; now: number; previousOwner: string; previousAttempt: number }): Promise<ClaimResult> {
    return this.immediate(() => {
      const existing = this.readSend(key);
      if (!existing) throw new LedgerConflictError(`No ledger entry ${key.requestId}#${key.chunk} to reclaim.`);
      if (existing.state !== "claimed" || existing.owner !== claim.previousOwner || existing.attempt !== claim.previousAttempt || existing.leaseUntil > claim.now) {
        return classifyExisting(existing, claim.now);
      }
      const record = takeOver(existing, claim);
      this.writeSend(record);
      return { outcome: "claimed" as const, record };
    });
  }

  async markSent(key: SendKey, owner: string, outcome: { batchId: string; batchStatus?: string; totalCount?: number | null }) {
    this.updateOwned(key, owner, (r) => ({ ...r, state: "sent", batchId: outcome.batchId, ...(outcome.batchStatus ? { batchStatus: outcome.batchStatus } : {}), ...(outcome.totalCount !== undefined ? { totalCount: outcome.totalCount } : {}) }));
  }

  async markFailed(key: SendKey, owner: string, reason: string) {
    this.updateOwned(key, owner, (r) => ({ ...r, state: "failed", reason }));
  }

  async markUnknown(key: SendKey, owner: string, reason: string) {
    this.updateOwned(key, owner, (r) => ({ ...r, state: "unknown", reason }));
  }

  async release(key: SendKey, owner: string) {
    this.immediate(() => {
      this.db.prepare("DELETE FROM sends WHERE request_id = ? AND chunk = ? AND json_extract(record, '$.owner') = ? AND json_extract(record, '$.state') = 'claimed'").run(key.requestId, key.chunk, owner);
    });
  }

  async expire(key: SendKey, owner: string, reason: string) {
    this.updateOwned(key, owner, (r) => ({ ...r, leaseUntil: 0, reason }));
  }

  async updateBatch(key: SendKey, update: BatchUpdate) {
    this.immediate(() => {
      const existing = this.readSend(key);
      if (!existing) return;
      const defined = Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined));
      this.writeSend({ ...existing, ...defined, updatedAt: new Date().toISOString() });
    });
  }

  async cancel(key: SendKey, cancel: { now: number; marker: string }): Promise<CancelResult> {
    return this.immediate(() => {
      const existing = this.readSend(key);
      if (!existing) {
        const record = cancelledEntry(key, cancel);
        this.writeSend(record);
        return { outcome: "cancelled" as const, record };
      }
      const stamped = withCancelRequested(existing, cancel.now);
      if (stamped !== existing) this.writeSend(stamped);
      return classifyCancel(stamped);
    });
  }

  async list(requestId: string): Promise<SendRecord[]> {
    const rows = this.db.prepare("SELECT record FROM sends WHERE request_id = ? ORDER BY chunk").all(requestId) as { record: string }[];
    return rows.map((row) => SendRecord.parse(JSON.parse(row.record)));
  }

  private readSend(key: SendKey): SendRecord | undefined {
    const row = this.db.prepare("SELECT record FROM sends WHERE request_id = ? AND chunk = ?").get(key.requestId, key.chunk) as { record: string } | undefined;
    return row ? SendRecord.parse(JSON.parse(row.record)) : undefined;
  }

  private writeSend(record: SendRecord): void {
    this.db.prepare("INSERT OR REPLACE INTO sends (request_id, chunk, record) VALUES (?, ?, ?)").run(record.requestId, record.chunk, JSON.stringify(record));
  }

  /** Applies `change` only while `owner` still holds the claim; otherwise the write is refused. */
  private updateOwned(key: SendKey, owner: string, change: (r: SendRecord) => SendRecord): void {
    this.immediate(() => {
      const existing = this.readSend(key);
      if (!existing || existing.state !== "claimed" || existing.owner !== owner) {
        throw new LedgerConflictError(`The claim on ${key.requestId}#${key.chunk} is no longer held by this worker.`);
      }
      this.writeSend({ ...change(existing), updatedAt: new Date().toISOString() });
    });
  }

  private immediate<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }
}
