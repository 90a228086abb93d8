/** Rules every SendLedger adapter applies the same way, so the homes cannot disagree. */
import { WalletMessagingError } from "./errors.js";
import type { CancelResult, ClaimResult } from "./ports.js";
import type { SendRecord } from "./schemas.js";

/** A ledger write whose condition no longer holds (the claim changed hands). Retrying later is safe. */
export class LedgerConflictError extends WalletMessagingError {
  readonly httpStatus = 409;
  readonly retryable = true;
}

/** What a claim meets when the key already has an entry: decided, held by a live lease, or lapsed. */
export function classifyExisting(existing: SendRecord, now: number): ClaimResult {
  if (existing.state !== "claimed") return { outcome: "done", record: existing };
  return existing.leaseUntil > now ? { outcome: "busy", record: existing } : { outcome: "lapsed", record: existing };
}

/** The entry a first claim writes. */
export function newClaim(key: { requestId: string; chunk: number }, claim: { owner: string; leaseMs: number; now: number; marker: string }): SendRecord {
  const at = new Date(claim.now).toISOString();
  return { requestId: key.requestId, chunk: key.chunk, state: "claimed", owner: claim.owner, attempt: 1, claimedAt: at, leaseUntil: claim.now + claim.leaseMs, marker: claim.marker, updatedAt: at };
}

/** The entry after taking over a lapsed claim. */
export function takeOver(existing: SendRecord, claim: { owner: string; leaseMs: number; now: number }): SendRecord {
  const at = new Date(claim.now).toISOString();
  return { ...existing, owner: claim.owner, attempt: existing.attempt + 1, claimedAt: at, leaseUntil: claim.now + claim.leaseMs, updatedAt: at };
}

/** The entry a cancellation writes for a send that never started: decided, so no claim can take it. */
export function cancelledEntry(key: { requestId: string; chunk: number }, cancel: { now: number; marker: string }): SendRecord {
  const at = new Date(cancel.now).toISOString();
  return { requestId: key.requestId, chunk: key.chunk, state: "cancelled", owner: "cancellation", attempt: 1, claimedAt: at, leaseUntil: 0, marker: cancel.marker, cancelRequestedAt: at, reason: "The request was cancelled before this part was sent.", updatedAt: at };
}

/** The entry with `cancelRequestedAt` stamped, or the same object when it already has one (or is cancelled). */
export function withCancelRequested(existing: SendRecord, now: number): SendRecord {
  if (existing.state === "cancelled" || existing.cancelRequestedAt !== undefined) return existing;
  const at = new Date(now).toISOString();
  return { ...existing, cancelRequestedAt: at, updatedAt: at };
}

/** What a cancellation meets on an existing entry. */
export function classifyCancel(existing: SendRecord): CancelResult {
  if (existing.state === "sent") return { outcome: "sent", record: existing };
  if (existing.state === "claimed") return { outcome: "busy", record: existing };
  return { outcome: "done", record: existing };
}
