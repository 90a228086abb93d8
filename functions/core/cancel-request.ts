/**
 * Use case: cancel a request (DELETE /api/v1/requests/{id}). The HTTP side holds no PassEntry token,
 * so it does what the ledger alone can: every part not yet sent is marked `cancelled` at once, so no
 * worker will ever send it (a claim on a cancelled key is `done`). Batches already created are left
 * to a `cancel` follow-up on the queue, which the sender runs: it cancels at PassEntry those still
 * `validating` or `scheduled`, and notes the ones PassEntry is already sending or has finished.
 * Only the request's owner or an operator may cancel it; the request records who asked first.
 */
import { mayAccess } from "./callers.js";
import { NotFoundError, ServiceUnavailableError, ValidationError } from "./errors.js";
import type { Clock, Log, MessageQueue, RequestStore, SendLedger } from "./ports.js";
import { chunkCount } from "./batch-rules.js";
import {
  TERMINAL_BATCH_STATUSES,
  type CallerId,
  type FollowUpMessage,
  type RequestRecord,
  type SendRecord,
} from "./schemas.js";
import { readParts } from "./request-view.js";
import { transition } from "./send-state-machine.js";
import { refreshSummary } from "./request-summary.js";

export interface CancelDeps {
  store: RequestStore;
  ledger: SendLedger;
  queue: MessageQueue;
  clock: Clock;
  log: Log;
}

export interface CancelResult {
  request: RequestRecord;
  /** The request's ledger entries after the cancellation was recorded. */
  sends: SendRecord[];
  /** Parts stopped before they were sent. */
  cancelledChunks: number[];
  /** Whether the sender was asked to cancel created batches at PassEntry (or wait for sends in flight). */
  followUpQueued: boolean;
}

/**
 * Records the cancellation and queues the follow-up. Safe to repeat: a second call stops nothing new
 * and queues a follow-up only while something may still be cancellable.
 *
 * @example const { sends } = await cancelRequest(deps, "500df8f4-…", "key:crm"); // sends[n].state === "cancelled" for unsent parts
 */
export async function cancelRequest(deps: CancelDeps, requestId: string, by: CallerId): Promise<CancelResult> {
  const found = await deps.store.get(requestId);
  // Another caller's request answers as an unknown one does: ids cannot be probed.
  if (!found || !mayAccess(by, found))
    throw new NotFoundError(`No request has the id ${JSON.stringify(requestId.slice(0, 100))}.`);
  // A shared batch is cancelled by the requests it carries, once every one of them asked (coalesce.ts):
  // cancelling it by its own id would cancel members that never asked, recording no one.
  if (found.source === "group")
    throw new ValidationError(
      `${requestId.slice(0, 100)} is a shared PassEntry batch, not a request: cancel the requests it carries (DELETE /api/v1/requests/<id> for each of its members); the batch is cancelled at PassEntry once every one of them asked.`,
      [],
      409,
    );
  const request = (await deps.store.markCancelled(requestId, by, new Date(deps.clock.now()).toISOString())) ?? found;

  const cancelledChunks: number[] = [];
  let atPassEntry = false;
  for (let chunk = 0; chunk < chunkCount(request.batch); chunk++) {
    const result = await transition(deps.ledger, { requestId, chunk }, { type: "cancel", now: deps.clock.now() });
    if (!result.moved) continue; // cancelled before
    if (result.then === "cancelled") cancelledChunks.push(chunk);
    else if (result.then === "cancelAtPassEntry") {
      const status = result.entry.batchStatus;
      if (status === undefined || !(TERMINAL_BATCH_STATUSES as readonly string[]).includes(status)) atPassEntry = true;
    }
    // "stamped": a worker holds the part (or must look for its batch first); it sees the stamp, and
    // either cancels the part or, finding or creating the batch, cancels that at PassEntry itself.
  }

  const followUpQueued = atPassEntry || cancelledChunks.length > 0;
  if (followUpQueued) {
    const followUp: FollowUpMessage = {
      followUp: "cancel",
      requestId,
      attempt: 1,
      ...(cancelledChunks.length > 0 ? { cancelledChunks } : {}),
    };
    try {
      await deps.queue.send(followUp);
    } catch (error) {
      // What was not yet sent is already cancelled for good; only PassEntry's side waits for a retry.
      deps.log.error("cancellation recorded but its follow-up not queued", {
        requestId,
        error: (error as Error).message,
      });
      throw new ServiceUnavailableError(
        "The cancellation was recorded for parts not yet sent, but batches already at PassEntry could not be queued for cancelling; retry the DELETE.",
        { cause: error },
      );
    }
  }
  deps.log.info("request cancellation recorded", { requestId, by, cancelledChunks, followUpQueued });
  const summarised = await refreshSummary(deps, requestId);
  return {
    request: summarised ?? request,
    sends: await readParts(deps.ledger, requestId),
    cancelledChunks,
    followUpQueued,
  };
}
