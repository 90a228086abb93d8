/**
 * What `GET /api/v1/requests/{id}` answers: the request and its sends, with one overall state
 * derived from them (never stored twice, so it cannot disagree with the ledger).
 */
import { callerName } from "./callers.js";
import type { SendLedger } from "./ports.js";
import type { RequestRecord, RequestState, SendRecord } from "./schemas.js";
import { earlySendAt, splitIntoChunks } from "./batch-rules.js";

/** What became of one part (chunk) of a request, from its ledger entry and its batch's last known status. */
type ChunkOutcome = "sent" | "failed" | "cancelled" | "unknown" | "pending";

function outcomeOf(send: SendRecord): ChunkOutcome {
  if (send.state === "sent")
    return send.batchStatus === "failed" ? "failed" : send.batchStatus === "cancelled" ? "cancelled" : "sent";
  if (send.state === "claimed" || send.state === "open" || send.state === "shared") return "pending";
  return send.state;
}

/** How many parts of a request reached each outcome; parts without a ledger entry yet are pending. */
export function requestProgress(
  request: RequestRecord,
  sends: SendRecord[],
): Record<ChunkOutcome, number> & { chunks: number } {
  const chunks = Math.max(splitIntoChunks(request.batch).length, sends.length);
  const counts = { chunks, sent: 0, failed: 0, cancelled: 0, unknown: 0, pending: 0 };
  for (const send of sends) counts[outcomeOf(send)] += 1;
  counts.pending += chunks - sends.length;
  return counts;
}

/**
 * One state for the whole request: `unknown` or `failed` as soon as any part is; `cancelled` when
 * every part was cancelled; `deadLettered` while a message of it lies in the dead-letter queue
 * (nothing moves it until a redrive); `submitted` once every part is at PassEntry (or cancelled);
 * else `queued` (including a request that is part way through its parts: see `progress`).
 */
export function requestState(request: RequestRecord, sends: SendRecord[]): RequestState {
  const progress = requestProgress(request, sends);
  if (progress.unknown > 0) return "unknown";
  if (progress.failed > 0) return "failed";
  if (progress.pending === 0 && progress.cancelled === progress.chunks) return "cancelled";
  if (request.deadLetter !== undefined) return "deadLettered";
  if (progress.pending === 0) return "submitted";
  if (sends.length === 0 && request.failureReason !== undefined) return "failed";
  return "queued";
}

export function requestSelfLink(requestId: string): string {
  return `/api/v1/requests/${encodeURIComponent(requestId)}`;
}

/**
 * A request's parts as the caller should see them: a part riding in a shared batch shows that
 * batch's status, CSV links and notes (tracked on the group's own part), with its own recipient count.
 */
export async function readParts(ledger: Pick<SendLedger, "list" | "get">, requestId: string): Promise<SendRecord[]> {
  const sends = await ledger.list(requestId);
  return Promise.all(
    sends.map(async (send) => {
      if (send.groupId === undefined || send.state !== "sent") return send;
      const group = await ledger.get({ requestId: send.groupId, chunk: 0 });
      if (!group) return send;
      const shared = {
        batchStatus: group.batchStatus,
        errorsCsvUrl: group.errorsCsvUrl,
        deliveryCsvUrl: group.deliveryCsvUrl,
        scheduledAt: group.scheduledAt,
        statusCheckedAt: group.statusCheckedAt,
        sendNowAt: group.sendNowAt,
      };
      const defined = Object.fromEntries(Object.entries(shared).filter(([, v]) => v !== undefined));
      return {
        ...send,
        ...defined,
        ...(send.note === undefined && group.note !== undefined ? { note: group.note } : {}),
        sharedBy: group.members?.length ?? 0,
      } as SendRecord;
    }),
  );
}

/** JSON:API document for a request, shaped like PassEntry's own batch documents. */
export function renderRequest(request: RequestRecord, sends: SendRecord[]) {
  const status = requestState(request, sends);
  const ordered = [...sends].sort((a, b) => a.chunk - b.chunk);
  const failedBatch = ordered.find((s) => s.state === "sent" && s.batchStatus === "failed");
  const reason =
    request.failureReason ??
    ordered.find((s) => s.reason && (s.state === "failed" || s.state === "unknown"))?.reason ??
    (failedBatch ? `PassEntry's validation of batch ${failedBatch.batchId} failed; see its errorsCsvUrl.` : undefined);
  const cancelRequestedAt =
    ordered
      .map((s) => s.cancelRequestedAt)
      .filter((at): at is string => at !== undefined)
      .sort()[0] ?? null;
  return {
    data: {
      id: request.requestId,
      type: "walletMessageRequest",
      attributes: {
        status,
        entityId: request.entityId,
        source: request.source,
        createdAt: request.createdAt,
        enqueuedAt: request.enqueuedAt ?? null,
        /** Who made it: `key:crm`, `signer:shop`, `operator:ops`, `schedule:<promotion>`, `automation:<id>`; null when sent straight to the queue or bus. */
        caller: request.caller ?? null,
        /** The key's or signer's name alone, as earlier versions answered it. */
        apiKeyName: request.caller?.match(/^(key|signer|operator):/)
          ? callerName(request.caller)
          : (request.apiKeyName ?? null),
        content: request.batch.message,
        scheduledAt: request.batch.scheduledAt ?? null,
        sendNow: request.sendNow ?? false,
        /**
         * Set when `scheduledAt` was under PassEntry's hour of notice when accepted: the batch is
         * created ahead and sent now at this time (docs/api.md, "Sending now").
         */
        earlySendAt: earlySendAt(request.batch, Date.parse(request.createdAt)) ?? null,
        cancelRequestedAt,
        cancelledBy: request.cancelledBy ?? null,
        cancelledAt: request.cancelledAt ?? null,
        progress: requestProgress(request, sends),
        batchId: ordered[0]?.batchId ?? null,
        batchStatus: ordered[0]?.batchStatus ?? null,
        failureReason:
          status === "failed" || status === "unknown"
            ? (reason ?? null)
            : status === "deadLettered"
              ? request.deadLetter!.lastError
              : null,
        /** Set while a message of the request lies in the dead-letter queue: which one, when, and its last error. */
        deadLetter: request.deadLetter ?? null,
        batches: ordered.map((s) => ({
          chunk: s.chunk,
          state: s.state,
          batchId: s.batchId ?? null,
          status: s.batchStatus ?? null,
          totalCount: s.totalCount ?? null,
          errorsCsvUrl: s.errorsCsvUrl ?? null,
          deliveryCsvUrl: s.deliveryCsvUrl ?? null,
          scheduledAt: s.scheduledAt ?? null,
          statusCheckedAt: s.statusCheckedAt ?? null,
          sendNowAt: s.sendNowAt ?? null,
          /** An early send (scheduledAt under PassEntry's hour of notice): created ahead, sent now at this time. */
          sendAt: s.sendAt ?? null,
          note: s.note ?? null,
          attempt: s.attempt,
          reason: s.state === "sent" ? null : (s.reason ?? null),
          /** An operator's decision on a part that was `unknown`. */
          resolvedBy: s.resolvedBy ?? null,
          resolvedAt: s.resolvedAt ?? null,
          /** A shared batch: the group that carries this part and how many requests it carries (totalCount is this request's own recipients). */
          sharedBatch:
            s.groupId !== undefined
              ? { groupId: s.groupId, requests: (s as { sharedBy?: number }).sharedBy ?? null }
              : null,
        })),
      },
    },
    links: { self: requestSelfLink(request.requestId) },
  };
}

/** What the views read of one rendered part (`batches[i]` of the API's JSON). */
export interface PartAttributes {
  state?: string | null;
  status?: string | null;
  sendNowAt?: string | null;
  sendAt?: string | null;
}

/** The parts of a rendered request that say when it goes out (the API's JSON, as the CLI reads it too). */
export interface WhenAttributes {
  status?: string | null;
  sendNow?: boolean | null;
  scheduledAt?: string | null;
  earlySendAt?: string | null;
  cancelRequestedAt?: string | null;
  batches?: readonly PartAttributes[] | null;
}

/** Batch statuses that mean PassEntry has started sending (or finished). */
const SENDING_OR_DONE = ["sending", "successful", "completedWithErrors"];

/**
 * When an early send's part goes out, while PassEntry holds its batch (created, neither sent now nor
 * sending nor finished); undefined for any other part. The ledger calls such a part `sent` (our POST
 * is done and can never be repeated), which a person reads as "the message went out": the views say
 * "scheduled for T" instead, and the API's values stay as they are.
 */
export function heldUntil(part: PartAttributes, earlySendAt?: string | null): string | undefined {
  // The part's own plan first; the request's until the sender has written it on the part.
  const at = part.sendAt ?? earlySendAt ?? undefined;
  if (part.state !== "sent" || at === undefined || part.sendNowAt) return undefined;
  const held = part.status == null || part.status === "validating" || part.status === "scheduled";
  return held ? at : undefined;
}

/** A part's state for a person: "scheduled for T" while PassEntry holds an early send, else the ledger's state. */
export function partStateInWords(part: PartAttributes, earlySendAt?: string | null): string {
  const at = heldUntil(part, earlySendAt);
  return at === undefined ? String(part.state ?? "") : `scheduled for ${at}`;
}

/**
 * The early-send parts PassEntry holds, for the progress line: how many (to take from the `sent`
 * count) and the words "N created at PassEntry, goes out at T"; undefined when there are none.
 */
export function heldPartsInWords(a: WhenAttributes): { count: number; words: string } | undefined {
  const times = (a.batches ?? [])
    .map((b) => heldUntil(b, a.earlySendAt))
    .filter((t): t is string => t !== undefined)
    .sort();
  if (times.length === 0) return undefined;
  return { count: times.length, words: `${times.length} created at PassEntry, goes out at ${times[0]}` };
}

/**
 * When the request goes (or went) out, in words, for the CLI and the console alike. An early send
 * reads "will be sent at T" until T has passed and PassEntry is sending it; only then "sent". Once
 * it failed or was cancelled it never reads as going out: "was to be sent at T".
 * Values are not escaped here: each reader escapes the sentence for where it shows it.
 *
 * @example whenInWords({ earlySendAt: "2030-01-01T00:10:00.000Z", batches: [] }, Date.parse("2030-01-01T00:00:00Z"))
 *   // "will be sent at 2030-01-01T00:10:00.000Z (an early send: created ahead at PassEntry; cancel before then to stop it)"
 */
export function whenInWords(a: WhenAttributes, now: number): string {
  if (a.sendNow) return "send now";
  if (a.scheduledAt && !a.earlySendAt) return `scheduled for ${a.scheduledAt}`;
  if (!a.earlySendAt) return "PassEntry's default schedule";
  const at = a.earlySendAt;
  const batches = a.batches ?? [];
  const sentNowAt = batches.map((b) => b.sendNowAt).find((t): t is string => typeof t === "string");
  if (batches.some((b) => SENDING_OR_DONE.includes(b.status ?? "")) || sentNowAt)
    return `sent at ${sentNowAt ?? at} (an early send for ${at})`;
  if (a.status === "cancelled") return `was to be sent at ${at} (an early send, cancelled)`;
  // A failed part of a request whose other part PassEntry still holds: that part does go out at T.
  if ((a.status === "failed" || batches.some((b) => b.status === "failed")) && !heldPartsInWords(a))
    return `was to be sent at ${at} (an early send, failed: see the reason below)`;
  if (a.cancelRequestedAt) return `was to be sent at ${at} (an early send, being cancelled)`;
  if (Date.parse(at) <= now) return `due at ${at}, being sent now (an early send)`;
  return `will be sent at ${at} (an early send: created ahead at PassEntry; cancel before then to stop it)`;
}
