/**
 * The AWS home's send ledger: one item per business key, `REQ#<request id>`/`SEND#<chunk>`, beside
 * its request so one Query reads a request's sends. State, owner, attempt and lease are top-level
 * attributes so that every write can be conditional on them (a claim on absence; every later write
 * on the writer still holding the claim), exactly the rules of core/ledger-rules.ts.
 */
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, DeleteItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { cancelledEntry, classifyCancel, classifyExisting, LedgerConflictError, newClaim, takeOver, withCancelRequested } from "../core/ledger-rules.js";
import type { BatchUpdate, CancelResult, ClaimResult, SendKey, SendLedger } from "../core/ports.js";
import { SendRecord } from "../core/schemas.js";
import { expiresAt, type DynamoDbTableOptions } from "./dynamodb-request-store.js";

const sendKey = (key: SendKey) => ({ pk: { S: `REQ#${key.requestId}` }, sk: { S: `SEND#${String(key.chunk).padStart(5, "0")}` } });

export class DynamoDbSendLedger implements SendLedger {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly retentionDays: number;

  constructor(options: DynamoDbTableOptions) {
    this.client = options.client ?? new DynamoDBClient({});
    this.table = options.tableName;
    this.retentionDays = options.retentionDays ?? 30;
  }

  async claim(key: SendKey, claim: { owner: string; leaseMs: number; now: number; marker: string }): Promise<ClaimResult> {
    const record = newClaim(key, claim);
    if (await this.put(record, "attribute_not_exists(pk)", {})) return { outcome: "claimed", record };
    return this.classify(key, claim.now);
  }

  async reclaim(key: SendKey, claim: { owner: string; leaseMs: number; now: number; previousOwner: string; previousAttempt: number }): Promise<ClaimResult> {
    const existing = await this.read(key);
    if (!existing) throw new LedgerConflictError(`No ledger entry ${key.requestId}#${key.chunk} to reclaim.`);
    const record = takeOver(existing, claim);
    const taken = await this.put(record, "#state = :claimed AND #owner = :owner AND attempt = :attempt AND leaseUntil <= :now", {
      ":claimed": { S: "claimed" },
      ":owner": { S: claim.previousOwner },
      ":attempt": { N: String(claim.previousAttempt) },
      ":now": { N: String(claim.now) },
    });
    return taken ? { outcome: "claimed", record } : this.classify(key, claim.now);
  }

  async markSent(key: SendKey, owner: string, outcome: { batchId: string; batchStatus?: string; totalCount?: number | null }) {
    await this.updateOwned(key, owner, (r) => ({ ...r, state: "sent", batchId: outcome.batchId, ...(outcome.batchStatus ? { batchStatus: outcome.batchStatus } : {}), ...(outcome.totalCount !== undefined ? { totalCount: outcome.totalCount } : {}) }));
  }

  async markFailed(key: SendKey, owner: string, reason: string) {
    await this.updateOwned(key, owner, (r) => ({ ...r, state: "failed", reason }));
  }

  async markUnknown(key: SendKey, owner: string, reason: string) {
    await this.updateOwned(key, owner, (r) => ({ ...r, state: "unknown", reason }));
  }

  async release(key: SendKey, owner: string) {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: sendKey(key),
          ConditionExpression: "#state = :claimed AND #owner = :owner",
          ExpressionAttributeNames: { "#state": "state", "#owner": "owner" },
          ExpressionAttributeValues: { ":claimed": { S: "claimed" }, ":owner": { S: owner } },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async expire(key: SendKey, owner: string, reason: string) {
    await this.updateOwned(key, owner, (r) => ({ ...r, leaseUntil: 0, reason }));
  }

  async updateBatch(key: SendKey, update: BatchUpdate) {
    const defined = Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined));
    for (let tries = 0; tries < 5; tries++) {
      const existing = await this.read(key);
      if (!existing) return;
      // Written only if the entry is still the one read: a markSent/expire landing in between must not be undone.
      const written = await this.put({ ...existing, ...defined, updatedAt: new Date().toISOString() }, "#state = :state AND #owner = :owner AND attempt = :attempt AND leaseUntil = :lease", {
        ":state": { S: existing.state },
        ":owner": { S: existing.owner },
        ":attempt": { N: String(existing.attempt) },
        ":lease": { N: String(existing.leaseUntil) },
      });
      if (written) return;
    }
    throw new LedgerConflictError(`The ledger entry ${key.requestId}#${key.chunk} kept changing while its batch status was updated.`);
  }

  async cancel(key: SendKey, cancel: { now: number; marker: string }): Promise<CancelResult> {
    for (let tries = 0; tries < 5; tries++) {
      const existing = await this.read(key);
      if (!existing) {
        const record = cancelledEntry(key, cancel);
        if (await this.put(record, "attribute_not_exists(pk)", {})) return { outcome: "cancelled", record };
        continue; // a claim landed first: cancel what it wrote instead
      }
      const stamped = withCancelRequested(existing, cancel.now);
      if (stamped === existing) return classifyCancel(existing);
      // Only over the entry as read: a claim's outcome landing in between must not be undone.
      const written = await this.put(stamped, "#state = :state AND #owner = :owner AND attempt = :attempt AND leaseUntil = :lease", {
        ":state": { S: existing.state },
        ":owner": { S: existing.owner },
        ":attempt": { N: String(existing.attempt) },
        ":lease": { N: String(existing.leaseUntil) },
      });
      if (written) return classifyCancel(stamped);
    }
    throw new LedgerConflictError(`The ledger entry ${key.requestId}#${key.chunk} kept changing while it was being cancelled.`);
  }

  async list(requestId: string): Promise<SendRecord[]> {
    const answer = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :send)",
        ExpressionAttributeValues: { ":pk": { S: `REQ#${requestId}` }, ":send": { S: "SEND#" } },
        ConsistentRead: true,
      }),
    );
    return (answer.Items ?? []).map((item) => SendRecord.parse(JSON.parse(item.record?.S ?? "{}")));
  }

  private async read(key: SendKey): Promise<SendRecord | undefined> {
    const answer = await this.client.send(new GetItemCommand({ TableName: this.table, Key: sendKey(key), ConsistentRead: true }));
    const json = answer.Item?.record?.S;
    return json ? SendRecord.parse(JSON.parse(json)) : undefined;
  }

  private async classify(key: SendKey, now: number): Promise<ClaimResult> {
    const existing = await this.read(key);
    if (!existing) throw new LedgerConflictError(`The ledger entry ${key.requestId}#${key.chunk} vanished while being claimed.`);
    return classifyExisting(existing, now);
  }

  private async updateOwned(key: SendKey, owner: string, change: (r: SendRecord) => SendRecord): Promise<void> {
    const existing = await this.read(key);
    if (!existing || existing.state !== "claimed" || existing.owner !== owner) {
      throw new LedgerConflictError(`The claim on ${key.requestId}#${key.chunk} is no longer held by this worker.`);
    }
    const written = await this.put({ ...change(existing), updatedAt: new Date().toISOString() }, "#state = :claimed AND #owner = :owner AND attempt = :attempt", {
      ":claimed": { S: "claimed" },
      ":owner": { S: owner },
      ":attempt": { N: String(existing.attempt) },
    });
    if (!written) throw new LedgerConflictError(`The claim on ${key.requestId}#${key.chunk} changed hands during the write.`);
  }

  /** Writes the whole entry on a condition; false when the condition failed. */
  private async put(record: SendRecord, condition: string, values: Record<string, AttributeValue>): Promise<boolean> {
    const usesNames = condition.includes("#state");
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...sendKey(record),
            record: { S: JSON.stringify(record) },
            state: { S: record.state },
            owner: { S: record.owner },
            attempt: { N: String(record.attempt) },
            leaseUntil: { N: String(record.leaseUntil) },
            expiresAt: expiresAt(record.claimedAt, this.retentionDays),
          },
          ConditionExpression: condition,
          ...(usesNames ? { ExpressionAttributeNames: { "#state": "state", "#owner": "owner" } } : {}),
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
