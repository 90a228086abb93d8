/**
 * What `GET /api/v1/requests/{id}` answers: the request and its sends, with one overall state
 * derived from them (never stored twice, so it cannot disagree with the ledger).
 */
import type { RequestRecord, RequestState, SendRecord } from "./schemas.js";
import { splitIntoChunks } from "./send-request.js";

export function requestState(request: RequestRecord, sends: SendRecord[]): RequestState {
  if (sends.some((s) => s.state === "unknown")) return "unknown";
  if (sends.some((s) => s.state === "failed")) return "failed";
  const expected = splitIntoChunks(request.batch).length;
  if (sends.length >= expected && sends.every((s) => s.state === "sent")) return "submitted";
  if (sends.length === 0 && request.failureReason !== undefined) return "failed";
  return "queued";
}

export function requestSelfLink(requestId: string): string {
  return `/api/v1/requests/${encodeURIComponent(requestId)}`;
}

/** JSON:API document for a request, shaped like PassEntry's own batch documents. */
export function renderRequest(request: RequestRecord, sends: SendRecord[]) {
  const status = requestState(request, sends);
  const ordered = [...sends].sort((a, b) => a.chunk - b.chunk);
  const reason = request.failureReason ?? ordered.find((s) => s.reason && s.state !== "sent" && s.state !== "claimed")?.reason;
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
        apiKeyName: request.apiKeyName ?? null,
        content: request.batch.message,
        scheduledAt: request.batch.scheduledAt ?? null,
        batchId: ordered[0]?.batchId ?? null,
        batchStatus: ordered[0]?.batchStatus ?? null,
        failureReason: status === "failed" || status === "unknown" ? (reason ?? null) : null,
        batches: ordered.map((s) => ({
          chunk: s.chunk,
          state: s.state,
          batchId: s.batchId ?? null,
          status: s.batchStatus ?? null,
          totalCount: s.totalCount ?? null,
          errorsCsvUrl: s.errorsCsvUrl ?? null,
          deliveryCsvUrl: s.deliveryCsvUrl ?? null,
          attempt: s.attempt,
          reason: s.state === "sent" ? null : (s.reason ?? null),
        })),
      },
    },
    links: { self: requestSelfLink(request.requestId) },
  };
}
