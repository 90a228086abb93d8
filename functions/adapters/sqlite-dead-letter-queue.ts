/** Dead letters of the local SQLite queue. */
import { redriveNote, requestIdOf } from "../core/dead-letters.js";
import type { DeadLetterQueue, DeadLetterView } from "../core/ports.js";
import type { SqliteMessageQueue } from "./sqlite-message-queue.js";

export class SqliteDeadLetterQueue implements DeadLetterQueue {
  constructor(private readonly queue: SqliteMessageQueue) {}

  async list(limit: number): Promise<DeadLetterView[]> {
    return this.queue
      .deadLetters()
      .slice(0, limit)
      .map((d) => ({
        messageId: d.messageId,
        requestId: requestIdOf(d.body, d.messageId),
        body: d.body,
        receiveCount: d.receiveCount,
        lastError: d.lastError,
        sentAt: new Date(d.sentAt).toISOString(),
      }));
  }

  async redrive(messageIds?: string[]) {
    const dead = new Set(this.queue.deadLetters().map((d) => d.messageId));
    const notFound = [...new Set(messageIds ?? [])].filter((id) => !dead.has(id));
    const moved = this.queue.redrive(messageIds);
    return { moved, note: redriveNote(moved, notFound), notFound };
  }
}
