/**
 * The embedded home's intake: the request store and the queue live in one SQLite file, so an
 * accepted request is stored and queued in one transaction. Requests that arrive together share
 * it (group commit): each waits for the commit that holds it before its 202, so every answered
 * request is durable, and a burst costs one commit per turn of the event loop, not per request.
 */
import type { CreateRequestResult, RequestIntake } from "../core/ports.js";
import type { RequestRecord } from "../core/schemas.js";
import type { SqliteDatabase } from "./sqlite-database.js";
import { SQS_MAX_MESSAGE_BYTES, type SqliteMessageQueue } from "./sqlite-message-queue.js";
import type { SqliteRequestStore } from "./sqlite-request-store.js";

interface Pending {
  record: RequestRecord;
  message: unknown;
  resolve: (result: CreateRequestResult) => void;
  reject: (error: unknown) => void;
}

export class SqliteRequestIntake implements RequestIntake {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly store: SqliteRequestStore,
    private readonly queue: SqliteMessageQueue,
    /** Called once a commit queued new messages (the embedded home wakes its workers). */
    private readonly onQueued: () => void = () => undefined,
  ) {}

  async admit(record: RequestRecord, message: unknown): Promise<CreateRequestResult> {
    // Refused before it joins a shared commit, so one oversized message cannot fail the others.
    if (Buffer.byteLength(JSON.stringify(message)) > SQS_MAX_MESSAGE_BYTES)
      throw new Error(`The message is larger than SQS allows (${SQS_MAX_MESSAGE_BYTES} bytes).`);
    return new Promise((resolve, reject) => {
      this.pending.push({ record, message, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.commit());
      }
    });
  }

  /** Writes everything that arrived since the last commit, in one transaction. */
  private commit(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    let results: CreateRequestResult[];
    try {
      results = this.db
        .transaction(() =>
          batch.map(({ record, message }) => {
            const created = this.store.createNow(record);
            if (created.created) this.queue.sendNow(message);
            return created;
          }),
        )
        .immediate();
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    for (const [i, p] of batch.entries()) p.resolve(results[i]!);
    if (results.some((r) => r.created)) this.onQueued();
  }
}
