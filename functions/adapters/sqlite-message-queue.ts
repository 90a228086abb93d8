/**
 * A durable queue in SQLite with SQS's semantics, for the embedded home: a received message is
 * hidden for a visibility timeout and comes back unless deleted (or when `retryAfter` says); every
 * receive counts; a message received `maxReceives` times goes to the dead-letter side on its next
 * receive, with its last error.
 */
import { randomUUID } from "node:crypto";
import type { MessageQueue, QueueStats, RetryScheduler } from "../core/ports.js";
import { MAX_RECEIVES } from "../core/retry-policy.js";
import type { SqliteDatabase } from "./sqlite-database.js";

/** SQS's maximum message size, 256 KiB. */
export const SQS_MAX_MESSAGE_BYTES = 262_144;

export interface ReceivedMessage {
  messageId: string;
  body: string;
  receiptHandle: string;
  receiveCount: number;
  sentAt: number;
}

export interface DeadLetter {
  messageId: string;
  body: string;
  receiveCount: number;
  lastError: string | null;
  sentAt: number;
  deadAt: number;
}

export interface SqliteQueueOptions {
  /** Receives before a message is dead-lettered (SQS maxReceiveCount). Default MAX_RECEIVES (core/retry-policy.ts). */
  maxReceives?: number;
  now?: () => number;
}

/**
 * The message a receipt handle was given for: receipts are `<message id>:<receipt uuid>`, so a
 * message is found by its primary key (and the receipt checked), with no index on receipts.
 */
function messageIdOf(receiptHandle: string): string {
  return receiptHandle.slice(0, receiptHandle.lastIndexOf(":"));
}

export class SqliteMessageQueue implements MessageQueue, RetryScheduler {
  private readonly maxReceives: number;
  private readonly now: () => number;

  constructor(
    private readonly db: SqliteDatabase,
    options: SqliteQueueOptions = {},
  ) {
    this.maxReceives = options.maxReceives ?? MAX_RECEIVES;
    this.now = options.now ?? Date.now;
    db.exec(`
      CREATE TABLE IF NOT EXISTS queue_messages (
        message_id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        visible_at INTEGER NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        receipt_handle TEXT,
        last_error TEXT,
        dead_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (dead_at, visible_at);
    `);
  }

  async send(body: unknown, options: { delaySeconds?: number } = {}): Promise<string> {
    return this.sendNow(body, options);
  }

  /** `send`, synchronously, so that it can take part in a caller's transaction (the local intake). */
  sendNow(body: unknown, options: { delaySeconds?: number } = {}): string {
    const messageId = randomUUID();
    const now = this.now();
    const delayMs = Math.min(900, Math.max(0, options.delaySeconds ?? 0)) * 1000;
    const json = JSON.stringify(body);
    // SQS refuses larger messages; refusing them here too keeps the local home from hiding that.
    if (Buffer.byteLength(json) > SQS_MAX_MESSAGE_BYTES)
      throw new Error(`The message is larger than SQS allows (${SQS_MAX_MESSAGE_BYTES} bytes).`);
    this.db
      .prepare("INSERT INTO queue_messages (message_id, body, sent_at, visible_at) VALUES (?, ?, ?, ?)")
      .run(messageId, json, now, now + delayMs);
    return messageId;
  }

  /** Takes up to `max` visible messages and hides them for `visibilityTimeoutMs`. */
  receive(max: number, visibilityTimeoutMs: number): ReceivedMessage[] {
    return this.db
      .transaction(() => {
        const now = this.now();
        const candidates = this.db
          .prepare(
            "SELECT message_id, body, receive_count, sent_at FROM queue_messages WHERE dead_at IS NULL AND visible_at <= ? ORDER BY visible_at, sent_at LIMIT ?",
          )
          .all(now, max * 2) as { message_id: string; body: string; receive_count: number; sent_at: number }[];
        const received: ReceivedMessage[] = [];
        for (const row of candidates) {
          if (row.receive_count >= this.maxReceives) {
            this.db
              .prepare("UPDATE queue_messages SET dead_at = ?, receipt_handle = NULL WHERE message_id = ?")
              .run(now, row.message_id);
            continue;
          }
          if (received.length >= max) break;
          const receiptHandle = `${row.message_id}:${randomUUID()}`;
          this.db
            .prepare(
              "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = ?, receipt_handle = ? WHERE message_id = ?",
            )
            .run(now + visibilityTimeoutMs, receiptHandle, row.message_id);
          received.push({
            messageId: row.message_id,
            body: row.body,
            receiptHandle,
            receiveCount: row.receive_count + 1,
            sentAt: row.sent_at,
          });
        }
        return received;
      })
      .immediate();
  }

  /** Deletes messages in one transaction (DeleteMessageBatch's twin); stale receipts do nothing. */
  deleteMany(receiptHandles: readonly string[]): void {
    const remove = this.db.prepare("DELETE FROM queue_messages WHERE message_id = ? AND receipt_handle = ?");
    this.db.transaction(() => {
      for (const handle of receiptHandles) remove.run(messageIdOf(handle), handle);
    })();
  }

  /** Deletes a message; a stale receipt (the message was received again since) does nothing, as in SQS. */
  delete(receiptHandle: string): void {
    this.db
      .prepare("DELETE FROM queue_messages WHERE message_id = ? AND receipt_handle = ?")
      .run(messageIdOf(receiptHandle), receiptHandle);
  }

  /** Keeps received messages hidden for another `visibilityTimeoutMs` (a consumer still working on them). */
  extend(receiptHandles: readonly string[], visibilityTimeoutMs: number): void {
    const visibleAt = this.now() + visibilityTimeoutMs;
    const update = this.db.prepare(
      "UPDATE queue_messages SET visible_at = ? WHERE message_id = ? AND receipt_handle = ? AND dead_at IS NULL",
    );
    this.db.transaction(() => {
      for (const handle of receiptHandles) update.run(visibleAt, messageIdOf(handle), handle);
    })();
  }

  /** ChangeMessageVisibility's twin, keeping the reason as the message's last error. */
  async retryAfter(receiptHandle: string, seconds: number, reason: string): Promise<void> {
    this.release(receiptHandle, seconds, reason);
  }

  /** Makes a received message visible again after `seconds`, keeping the error for the dead-letter view. */
  release(receiptHandle: string, seconds: number, lastError?: string): void {
    this.db
      .prepare(
        "UPDATE queue_messages SET visible_at = ?, last_error = COALESCE(?, last_error) WHERE message_id = ? AND receipt_handle = ?",
      )
      .run(this.now() + Math.max(0, seconds) * 1000, lastError ?? null, messageIdOf(receiptHandle), receiptHandle);
  }

  /** Messages waiting or in flight (not dead-lettered). */
  depth(): { visible: number; inFlight: number; dead: number } {
    const now = this.now();
    const row = this.db
      .prepare(
        "SELECT SUM(CASE WHEN dead_at IS NULL AND visible_at <= ? THEN 1 ELSE 0 END) AS visible, SUM(CASE WHEN dead_at IS NULL AND visible_at > ? THEN 1 ELSE 0 END) AS in_flight, SUM(CASE WHEN dead_at IS NOT NULL THEN 1 ELSE 0 END) AS dead FROM queue_messages",
      )
      .get(now, now) as { visible: number | null; in_flight: number | null; dead: number | null };
    return { visible: row.visible ?? 0, inFlight: row.in_flight ?? 0, dead: row.dead ?? 0 };
  }

  /** The console's figures: every count, and the age of the oldest message waiting or in flight (delayed follow-ups aside). */
  stats(): QueueStats {
    const depth = this.depth();
    const now = this.now();
    const row = this.db
      .prepare(
        "SELECT MIN(sent_at) AS oldest FROM queue_messages WHERE dead_at IS NULL AND (receive_count > 0 OR visible_at <= ?)",
      )
      .get(now) as { oldest: number | null };
    const delayed = (
      this.db
        .prepare(
          "SELECT COUNT(*) AS n FROM queue_messages WHERE dead_at IS NULL AND receive_count = 0 AND visible_at > ?",
        )
        .get(now) as { n: number }
    ).n;
    return {
      waiting: depth.visible,
      inFlight: depth.inFlight - delayed,
      delayed,
      deadLettered: depth.dead,
      oldestAgeSeconds: row.oldest === null ? null : (now - row.oldest) / 1000,
      source:
        "The local SQLite queue under DATA_DIR: exact counts; the oldest message's age counts messages waiting or in flight (follow-ups delayed until a batch's time aside). Dead letters keep their last error.",
    };
  }

  /**
   * Messages that are work in hand: visible, received (in flight or waiting to be retried), or due
   * within `withinMs`. A message sent with a longer delay and never received yet (the sender's
   * follow-up waiting for a batch's scheduled time) is not counted.
   */
  pending(withinMs: number): number {
    const row = this.db
      .prepare(
        "SELECT COUNT(*) AS n FROM queue_messages WHERE dead_at IS NULL AND (receive_count > 0 OR visible_at <= ?)",
      )
      .get(this.now() + withinMs) as { n: number };
    return row.n;
  }

  /** Bodies of every live message, oldest first (tests and the status CLI). */
  peek(): { messageId: string; body: string; receiveCount: number }[] {
    const rows = this.db
      .prepare("SELECT message_id, body, receive_count FROM queue_messages WHERE dead_at IS NULL ORDER BY sent_at")
      .all() as { message_id: string; body: string; receive_count: number }[];
    return rows.map((r) => ({ messageId: r.message_id, body: r.body, receiveCount: r.receive_count }));
  }

  deadLetters(): DeadLetter[] {
    const rows = this.db
      .prepare(
        "SELECT message_id, body, receive_count, last_error, sent_at, dead_at FROM queue_messages WHERE dead_at IS NOT NULL ORDER BY dead_at",
      )
      .all() as {
      message_id: string;
      body: string;
      receive_count: number;
      last_error: string | null;
      sent_at: number;
      dead_at: number;
    }[];
    return rows.map((r) => ({
      messageId: r.message_id,
      body: r.body,
      receiveCount: r.receive_count,
      lastError: r.last_error,
      sentAt: r.sent_at,
      deadAt: r.dead_at,
    }));
  }

  /** Moves dead letters (all, or the ids given) back to the queue with a fresh receive count. */
  redrive(messageIds?: string[]): number {
    const now = this.now();
    if (messageIds === undefined) {
      return this.db
        .prepare(
          "UPDATE queue_messages SET dead_at = NULL, receive_count = 0, visible_at = ? WHERE dead_at IS NOT NULL",
        )
        .run(now).changes;
    }
    let moved = 0;
    for (const id of messageIds) {
      moved += this.db
        .prepare(
          "UPDATE queue_messages SET dead_at = NULL, receive_count = 0, visible_at = ? WHERE dead_at IS NOT NULL AND message_id = ?",
        )
        .run(now, id).changes;
    }
    return moved;
  }
}
