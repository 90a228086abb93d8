/**
 * Keeps what the request list shows on the request record itself: its state and progress
 * (`summary`) and whether a message of it was dead-lettered (`deadLetter`).
 *
 * The ledger stays the one truth about each part: `summary` is a copy of what request-view.ts
 * derives from it, refreshed after every move (the sender after each queue message, cancel and
 * resolve after theirs), so the list can filter and page on one index without reading every
 * request's ledger entries. The detail view derives the state again from the ledger.
 *
 * Dead letters: SQS moves a message to the dead-letter queue on the receive after its last allowed
 * one, and tells nobody. What we can know is that the sender handed a message back on that last
 * receive: that is when the mark is written (with an ERROR log line). Locally the queue runner's
 * own failure path does the same. A message of the same kind handled again (after a redrive) clears
 * it, and so does the redrive itself (dead-letters.ts).
 */
import type { Log, RequestStore, SendLedger } from "./ports.js";
import { requestProgress, requestState } from "./request-view.js";
import type { DeadLetterMark, RequestRecord } from "./schemas.js";

export interface SummaryDeps {
  store: RequestStore;
  ledger: SendLedger;
  log: Log;
  clock: { now(): number };
}

/** The summary the request's ledger entries give now (undefined: nothing to change). */
function summarise(request: RequestRecord, sends: Parameters<typeof requestState>[1], at: string): RequestRecord {
  const state = requestState(request, sends);
  const progress = requestProgress(request, sends);
  const before = request.summary;
  if (before && before.state === state && JSON.stringify(before.progress) === JSON.stringify(progress)) return request;
  return { ...request, summary: { state, progress, at } };
}

/**
 * Refreshes the request's summary from its ledger entries. Never throws: a summary that could not
 * be written is only a list that lags until the request's next move.
 *
 * @example await refreshSummary(deps, "500df8f4-…");
 */
export async function refreshSummary(
  deps: SummaryDeps,
  requestId: string,
  change: (r: RequestRecord) => RequestRecord = (r) => r,
): Promise<RequestRecord | undefined> {
  try {
    const sends = await deps.ledger.list(requestId);
    const at = new Date(deps.clock.now()).toISOString();
    return await deps.store.update(requestId, (record) => {
      const changed = change(record);
      const summarised = summarise(changed, sends, at);
      return summarised === changed ? changed : summarised;
    });
  } catch (error) {
    deps.log.warn("request summary not refreshed; the list shows its earlier state until the next move", {
      requestId,
      error: (error as Error).message,
    });
    return undefined;
  }
}

/** Records that a message of the request goes to the dead-letter queue, with an ERROR log line. */
export async function markDeadLettered(
  deps: SummaryDeps,
  requestId: string,
  mark: Omit<DeadLetterMark, "at">,
): Promise<void> {
  const at = new Date(deps.clock.now()).toISOString();
  deps.log.error("message dead-lettered: its last allowed receive failed; nothing sends it until it is redriven", {
    requestId,
    ...mark,
  });
  await refreshSummary(deps, requestId, (record) => ({ ...record, deadLetter: { at, ...mark } }));
}

/**
 * The request without its dead-letter mark when a message of `kind` (undefined: any) is back: it
 * was redriven, or handled again. The same object when there is nothing to clear.
 */
export function withoutDeadLetter(request: RequestRecord, kind: string | undefined, deps: { log: Log }): RequestRecord {
  if (request.deadLetter === undefined || (kind !== undefined && request.deadLetter.kind !== kind)) return request;
  deps.log.info("dead-letter mark cleared: the message is back", {
    requestId: request.requestId,
    kind: request.deadLetter.kind,
  });
  const { deadLetter: _cleared, ...rest } = request;
  return rest;
}

/** Clears the mark of the request (a redrive moved its messages back), refreshing its summary. */
export async function clearDeadLettered(deps: SummaryDeps, requestId: string): Promise<void> {
  await refreshSummary(deps, requestId, (request) => withoutDeadLetter(request, undefined, deps));
}
