/**
 * Use case: accept a wallet-message request (from HTTP, or any other door) and queue it.
 *
 * The request is stored before it is queued, so its status can be read at once and its
 * Idempotency-Key is reserved atomically with it. A retried call with the same key and body gets
 * the first request back (re-queued only if queueing had failed); another body under that key is
 * refused. Nothing reaches the queue unless the body is valid.
 */
import { createHash } from "node:crypto";
import type * as z from "./zod.js";
import { IdempotencyConflictError, ServiceUnavailableError, ValidationError } from "./errors.js";
import type { Clock, Log, MessageQueue, RequestStore } from "./ports.js";
import { SendRequestMessage, TriggerRequestBody, type RequestRecord, type RequestSource, type WalletMessageBatch } from "./schemas.js";
import { wantsSendNow } from "./batch-rules.js";

export interface AcceptDeps {
  store: RequestStore;
  queue: MessageQueue;
  clock: Clock;
  log: Log;
  newRequestId: () => string;
}

export interface AcceptInput {
  entityId: string;
  /** The parsed JSON body, not yet trusted. */
  body: unknown;
  source: RequestSource;
  idempotencyKey?: string | undefined;
  apiKeyName?: string | undefined;
}

export interface AcceptResult {
  request: RequestRecord;
  /** True when an earlier call with the same Idempotency-Key is being answered again. */
  replayed: boolean;
}

/** Turns zod issues into sentences that name the field, e.g. "batch.message must not be blank". */
export function describeIssues(error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.join(".");
    return path === "" || issue.message.startsWith(path) ? issue.message : `${path}: ${issue.message}`;
  });
}

/** Validates a trigger body against the schema and the clock; throws ValidationError (422) listing every problem. */
export function parseTriggerBody(body: unknown, now: number): TriggerRequestBody {
  const parsed = TriggerRequestBody.safeParse(body);
  if (!parsed.success) throw new ValidationError("The request body is not a valid wallet message batch.", describeIssues(parsed.error), 422);
  const scheduledAt = parsed.data.batch.scheduledAt;
  if (scheduledAt !== undefined && Date.parse(scheduledAt) <= now) {
    throw new ValidationError("The batch is scheduled in the past.", [`batch.scheduledAt must lie in the future (got ${scheduledAt})`], 422);
  }
  return parsed.data;
}

/** A stable digest of what was asked: key order in the JSON does not change it. */
export function fingerprint(entityId: string, batch: WalletMessageBatch): string {
  return createHash("sha256").update(entityId).update("\n").update(canonicalJson(batch)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The queue message for a stored request. */
export function toQueueMessage(request: RequestRecord): SendRequestMessage {
  return { requestId: request.requestId, entityId: request.entityId, batch: request.batch, source: request.source, acceptedAt: request.createdAt };
}

export async function acceptRequest(deps: AcceptDeps, input: AcceptInput): Promise<AcceptResult> {
  // The sender parses what we queue with SendRequestMessage: an entity id it refuses would be dropped
  // there as poison after we had answered 202, so refuse it here instead.
  if (!SendRequestMessage.shape.entityId.safeParse(input.entityId).success) {
    throw new ValidationError("The entity id is not valid.", ["The entity id must be 1 to 200 characters long."], 400);
  }
  const now = deps.clock.now();
  const { batch } = parseTriggerBody(input.body, now);
  const record: RequestRecord = {
    requestId: deps.newRequestId(),
    entityId: input.entityId,
    source: input.source,
    createdAt: new Date(now).toISOString(),
    batch,
    // Recorded so the status answer says so; the sender decides from the batch itself (same rule).
    ...(wantsSendNow(batch) ? { sendNow: true } : {}),
    ...(input.apiKeyName ? { apiKeyName: input.apiKeyName } : {}),
    ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey, fingerprint: fingerprint(input.entityId, batch) } : {}),
  };

  const created = await deps.store.create(record);
  if (!created.created) {
    const existing = created.existing;
    if (existing.fingerprint !== record.fingerprint) {
      throw new IdempotencyConflictError("This Idempotency-Key was already used with a different request body.");
    }
    deps.log.info("request replayed", { requestId: existing.requestId, idempotencyKey: input.idempotencyKey });
    // The first call may have failed to queue: only then queue it now. The ledger would stop a
    // second send anyway, but we keep the queue free of duplicates.
    if (existing.enqueuedAt === undefined) return { request: await enqueue(deps, existing), replayed: true };
    return { request: existing, replayed: true };
  }
  deps.log.info("request accepted", { requestId: record.requestId, entityId: record.entityId, source: record.source, apiKeyName: record.apiKeyName });
  return { request: await enqueue(deps, record), replayed: false };
}

async function enqueue(deps: AcceptDeps, record: RequestRecord): Promise<RequestRecord> {
  try {
    await deps.queue.send(toQueueMessage(record));
  } catch (error) {
    const reason = "The request could not be queued; nothing was sent.";
    deps.log.error("request not queued", { requestId: record.requestId, error: (error as Error).message });
    await deps.store.markFailed(record.requestId, reason).catch(() => undefined);
    throw new ServiceUnavailableError(reason, { cause: error });
  }
  const enqueuedAt = new Date(deps.clock.now()).toISOString();
  // The message is in the queue: from here the request will be sent, so the caller must get its 202.
  // Answering 5xx now would invite a retry without an Idempotency-Key, and a second request.
  await deps.store.markEnqueued(record.requestId, enqueuedAt).catch((error: Error) => {
    deps.log.warn("request queued but not marked so", { requestId: record.requestId, error: error.message });
  });
  deps.log.info("request queued", { requestId: record.requestId });
  const { failureReason: _cleared, ...rest } = record;
  return { ...rest, enqueuedAt };
}
