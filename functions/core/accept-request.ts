/**
 * Use case: accept a wallet-message request (from HTTP, or any other door) and queue it.
 *
 * The request is stored before it is queued, so its status can be read at once and its
 * Idempotency-Key is reserved atomically with it. Keys are the caller's own: a retried call from
 * the same caller with the same key and body gets the first request back (re-queued only if
 * queueing had failed); another body under that key is refused; another caller's use of the same
 * key is another request. Nothing reaches the queue unless the body is valid.
 */
import { createHash } from "node:crypto";
import { describeIssues } from "./describe-issues.js";
import { IdempotencyConflictError, ServiceUnavailableError, ValidationError } from "./errors.js";
import type { Clock, Log, MessageQueue, RequestIntake, RequestStore } from "./ports.js";
import {
  EntityId,
  TriggerRequestBody,
  unknownBatchKeys,
  type CallerId,
  type RequestRecord,
  type RequestSource,
  type SendRequestMessage,
  type WalletMessageBatch,
} from "./schemas.js";
import { wantsSendNow } from "./batch-rules.js";

export interface AcceptDeps {
  store: RequestStore;
  queue: MessageQueue;
  clock: Clock;
  log: Log;
  newRequestId: () => string;
  /**
   * Top-level batch keys beyond our contract that the operator allows by name (ALLOWED_BATCH_KEYS);
   * PassEntry receives them as given. Default none.
   */
  allowedBatchKeys?: readonly string[];
  /** Where the home can store and queue in one step (the embedded home); absent, three steps. */
  intake?: RequestIntake;
}

export interface AcceptInput {
  entityId: string;
  /** The parsed JSON body, not yet trusted. */
  body: unknown;
  source: RequestSource;
  /** Scoped to `caller`: the same key from another caller is another request. */
  idempotencyKey?: string | undefined;
  /** Who asks; every door names one (a key, a signer, a schedule, an automation). */
  caller?: CallerId | undefined;
}

export interface AcceptResult {
  request: RequestRecord;
  /** True when an earlier call with the same Idempotency-Key is being answered again. */
  replayed: boolean;
}

/**
 * Validates a trigger body against the schema, our contract's top-level keys (plus those the
 * operator allows) and the clock; throws ValidationError (422) listing every problem.
 */
export function parseTriggerBody(
  body: unknown,
  now: number,
  allowedBatchKeys: readonly string[] = [],
): TriggerRequestBody {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    // zod would say "expected object, received null": true, but it does not say what to send.
    throw new ValidationError(
      "The request body is not a JSON object.",
      [
        `The body must be a JSON object with a "batch" (got ${body === null ? "null" : Array.isArray(body) ? "an array" : `a ${typeof body}`}): send {"batch": {"message": "…", "segments": [{"groupTag": "…"}]}}, as PassEntry's endpoint takes it.`,
      ],
      422,
    );
  }
  if (isUnwrappedBatch(body)) {
    throw new ValidationError(
      "The request body is not a valid wallet message batch.",
      [
        'The fields must be inside "batch", as PassEntry\'s endpoint takes them: {"batch": {"message": "…", "segments": [{"groupTag": "…"}]}}',
      ],
      422,
    );
  }
  const parsed = TriggerRequestBody.safeParse(body);
  const unknown = parsed.success ? unknownBatchKeys(parsed.data.batch, allowedBatchKeys) : [];
  if (!parsed.success || unknown.length > 0) {
    const problems = [
      ...(parsed.success ? [] : describeIssues(parsed.error)),
      ...unknown
        .slice(0, 20)
        .map(
          (key) =>
            `batch.${key.slice(0, 100)} is not a field we forward to PassEntry; remove it (or, if PassEntry documents it, ask the operator to allow it by name in ALLOWED_BATCH_KEYS)`,
        ),
    ];
    throw new ValidationError("The request body is not a valid wallet message batch.", problems, 422);
  }
  const missing = missingVariables(parsed.data.batch);
  if (missing.length > 0) throw new ValidationError("Some recipients lack variables the message uses.", missing, 422);
  const scheduledAt = parsed.data.batch.scheduledAt;
  if (scheduledAt !== undefined && Date.parse(scheduledAt) <= now) {
    throw new ValidationError(
      "The batch is scheduled in the past.",
      [`batch.scheduledAt must lie in the future (got ${scheduledAt})`],
      422,
    );
  }
  return parsed.data;
}

/** A body that holds the batch's own fields at the top level: the `batch` wrapper was left out. */
function isUnwrappedBatch(body: unknown): boolean {
  if (body === null || typeof body !== "object" || Array.isArray(body) || "batch" in body) return false;
  return ["message", "segments", "recipients", "scheduledAt"].some((key) => key in body);
}

/** The `%{name}` placeholders of a message, each once. */
export function placeholdersOf(message: string): string[] {
  return [...new Set([...message.matchAll(/%\{([^}\s]+)\}/g)].map((m) => m[1]!))];
}

/**
 * Recipients whose `variables` lack a placeholder the message uses: PassEntry would fill nothing
 * (or refuse the batch after our 202), so they are named now. Segments are not checked: their
 * members' variables live at PassEntry. At most 10 recipients are named.
 */
function missingVariables(batch: WalletMessageBatch): string[] {
  const used = placeholdersOf(batch.message);
  if (used.length === 0 || batch.recipients === undefined) return [];
  const problems: string[] = [];
  let lacking = 0;
  batch.recipients.forEach((recipient, index) => {
    const variables = (recipient as { variables?: unknown }).variables;
    const given = variables !== null && typeof variables === "object" ? (variables as Record<string, unknown>) : {};
    const absent = used.filter((name) => given[name] === undefined || given[name] === null);
    if (absent.length === 0) return;
    lacking++;
    if (problems.length < 10)
      problems.push(
        `batch.recipients.${index}.variables lacks ${absent.map((n) => `"${n}"`).join(", ")}, which batch.message uses (%{${absent[0]}}): give every recipient a value for each placeholder`,
      );
  });
  if (lacking > problems.length)
    problems.push(`… and ${lacking - problems.length} more recipients lack variables the message uses.`);
  return problems;
}

/** A stable digest of what was asked: key order in the JSON does not change it. */
export function fingerprint(entityId: string, batch: WalletMessageBatch): string {
  return createHash("sha256").update(entityId).update("\n").update(canonicalJson(batch)).digest("hex");
}

/** JSON with object keys sorted at every depth (and undefined values dropped): equal values, equal text. */
export function canonicalJson(value: unknown): string {
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
  return {
    requestId: request.requestId,
    entityId: request.entityId,
    batch: request.batch,
    source: request.source,
    acceptedAt: request.createdAt,
  };
}

export async function acceptRequest(deps: AcceptDeps, input: AcceptInput): Promise<AcceptResult> {
  // The sender parses what we queue with SendRequestMessage (whose entity id is an EntityId): an id it
  // refused would be dropped there as poison after we had answered 202, so refuse it here instead.
  const entityId = EntityId.safeParse(input.entityId);
  if (!entityId.success)
    throw new ValidationError(
      "The entity id is not valid.",
      entityId.error.issues.map((issue) => issue.message),
      400,
    );
  const now = deps.clock.now();
  const { batch } = parseTriggerBody(input.body, now, deps.allowedBatchKeys);
  const record: RequestRecord = {
    requestId: deps.newRequestId(),
    entityId: input.entityId,
    source: input.source,
    createdAt: new Date(now).toISOString(),
    batch,
    // Recorded so the status answer says so; the sender decides from the batch itself (same rule).
    ...(wantsSendNow(batch) ? { sendNow: true } : {}),
    ...(input.caller ? { caller: input.caller } : {}),
    ...(input.idempotencyKey
      ? { idempotencyKey: input.idempotencyKey, fingerprint: fingerprint(input.entityId, batch) }
      : {}),
  };

  if (deps.intake) return admitAtOnce(deps, deps.intake, record, input);
  const created = await deps.store.create(record);
  if (!created.created) {
    const existing = created.existing;
    if (existing.fingerprint !== record.fingerprint) throw idempotencyConflict(existing, record);
    deps.log.info("request replayed", {
      requestId: existing.requestId,
      idempotencyKey: input.idempotencyKey,
      caller: input.caller,
    });
    // The first call may have failed to queue: only then queue it now. The ledger would stop a
    // second send anyway, but we keep the queue free of duplicates.
    if (existing.enqueuedAt === undefined) return { request: await enqueue(deps, existing), replayed: true };
    return { request: existing, replayed: true };
  }
  deps.log.info("request accepted", {
    requestId: record.requestId,
    entityId: record.entityId,
    source: record.source,
    caller: record.caller,
  });
  return { request: await enqueue(deps, record), replayed: false };
}

/** One durable write: the request, its key and its queue message together, or none of them. */
async function admitAtOnce(
  deps: AcceptDeps,
  intake: RequestIntake,
  record: RequestRecord,
  input: AcceptInput,
): Promise<AcceptResult> {
  const enqueued: RequestRecord = { ...record, enqueuedAt: record.createdAt };
  let admitted;
  try {
    admitted = await intake.admit(enqueued, toQueueMessage(enqueued));
  } catch (error) {
    deps.log.error("request not queued", { requestId: record.requestId, error: (error as Error).message });
    throw new ServiceUnavailableError("The request could not be queued; nothing was sent.", { cause: error });
  }
  if (!admitted.created) {
    if (admitted.existing.fingerprint !== record.fingerprint) throw idempotencyConflict(admitted.existing, record);
    deps.log.info("request replayed", {
      requestId: admitted.existing.requestId,
      idempotencyKey: input.idempotencyKey,
      caller: input.caller,
    });
    return { request: admitted.existing, replayed: true };
  }
  deps.log.info("request accepted", {
    requestId: record.requestId,
    entityId: record.entityId,
    source: record.source,
    caller: record.caller,
  });
  deps.log.info("request queued", { requestId: record.requestId });
  return { request: enqueued, replayed: false };
}

/**
 * Says what clashed with the earlier request under the same key, and how to fix it: the key names
 * another entity, or another body; a signer's key is its `webhook-id`, which the signer chose, so
 * the sentence names that header rather than an Idempotency-Key the caller never sent. The earlier
 * request is the same caller's own (keys are per caller), so naming its entity reveals nothing.
 */
function idempotencyConflict(existing: RequestRecord, attempted: RequestRecord): IdempotencyConflictError {
  const signed = attempted.caller?.startsWith("signer:") === true;
  const key = signed ? "webhook-id" : "Idempotency-Key";
  const fix = signed ? "send a new webhook-id for each new request" : "use a new Idempotency-Key for each new request";
  const by = signed ? ` by signer ${attempted.caller!.slice("signer:".length)}` : "";
  if (existing.entityId !== attempted.entityId) {
    return new IdempotencyConflictError(
      `This ${key} was already used${by} for a request to entity ${existing.entityId}, not ${attempted.entityId}: ${fix} (the same key is kept for a retry of the same request).`,
    );
  }
  if (signed)
    return new IdempotencyConflictError(
      `This webhook-id was already used${by} with a different request body: ${fix} (only a retry of the same body may reuse it).`,
    );
  return new IdempotencyConflictError(
    "This Idempotency-Key was already used with a different request body: use a new Idempotency-Key for each new request (only a retry of the same body may reuse it).",
  );
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
