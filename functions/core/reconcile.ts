/**
 * Reconciliation: after a POST whose outcome we did not learn, find out whether PassEntry created
 * the batch, by searching its batch list for our marker, before anything is posted again.
 *
 * What it relies on, since PassEntry documents neither a filter nor an order for the list:
 * - Our marker starts the batch name and PassEntry keeps names as given (its answers show them).
 *   The marker is parsed, not searched for, and a batch counts as ours only if its content is the
 *   message we sent (and its entity ours, wherever the answer shows one).
 * - The list comes newest first (as PassEntry's dashboard and API do in practice). Every marker
 *   carries its POST's time, so the search stops once a page shows one of our batches posted well
 *   before this part's first POST: everything further is older still. If the order ever changed,
 *   a stop could come too early and the part would be posted again (two batches); the page cap is
 *   the other bound, and reaching it without an answer makes the part `unknown` (never re-sent).
 * The holder renews its claim between pages, so a slow search cannot outlive it unnoticed.
 */
import { parseBatchMarker } from "./batch-rules.js";
import type { Clock, PassEntryClient, SendKey, SendLedger } from "./ports.js";
import type { PassEntryBatchResource, SendRecord } from "./schemas.js";
import { transition, type ClaimToken } from "./send-state-machine.js";

/** How much earlier than our first POST another of our batches must be to prove we searched far enough (clock skew between workers). */
export const RECONCILE_SKEW_MS = 10 * 60_000;

export interface ReconcileDeps {
  passEntry: PassEntryClient;
  ledger: SendLedger;
  clock: Clock;
  leaseMs: number;
  /** Pages of 25 searched at most before the part is declared `unknown`. */
  reconcileMaxPages: number;
  /** Whether there is time for one more PassEntry call in this invocation. */
  hasTimeForCall: () => boolean;
}

/** What the part's batch must look like to be ours. */
export interface ExpectedBatch {
  message: string;
  entityId: string;
}

export type SearchResult =
  | { found: PassEntryBatchResource }
  | { absent: true; pages: number }
  | { undecided: string }
  /** The search could not go on now (the list failed, or time ran out): hand the part back and try later. */
  | { interrupted: string }
  /** Another worker took the part over meanwhile. */
  | { lost: true };

/**
 * Searches PassEntry's list for the part's batch, newest first.
 *
 * @example const result = await searchForBatch(deps, key, entry, token, { message: "Hi", entityId: "e-1" });
 */
export async function searchForBatch(
  deps: ReconcileDeps,
  key: SendKey,
  entry: SendRecord,
  token: ClaimToken,
  expected: ExpectedBatch,
): Promise<SearchResult> {
  const searchBackTo = entry.firstPostAt === undefined ? undefined : entry.firstPostAt - RECONCILE_SKEW_MS;
  for (let page = 1; page <= deps.reconcileMaxPages; page++) {
    if (page > 1) {
      const renewed = await transition(deps.ledger, key, {
        type: "renew",
        token,
        now: deps.clock.now(),
        leaseMs: deps.leaseMs,
      });
      if (!renewed.moved) return { lost: true };
    }
    if (!deps.hasTimeForCall())
      return { interrupted: "Too little time was left in this invocation to read PassEntry's batch list." };
    let list;
    try {
      list = await deps.passEntry.listBatches(page);
    } catch (error) {
      return { interrupted: `PassEntry's batch list could not be read: ${(error as Error).message}` };
    }
    const ours = list.data.find((batch) => isOurBatch(batch, key, expected));
    if (ours) return { found: ours };
    const passedFirstPost =
      searchBackTo !== undefined &&
      list.data.some((batch) => (parseBatchMarker(batch.attributes.name)?.postedAt ?? Infinity) < searchBackTo);
    const totalPages = list.meta?.totalPages;
    const lastPage = list.data.length === 0 || (totalPages != null ? page >= totalPages : !list.links?.next);
    if (passedFirstPost || lastPage) return { absent: true, pages: page };
  }
  return {
    undecided: `PassEntry's batch list was searched ${deps.reconcileMaxPages} pages deep without finding this part's batch or reaching batches older than its first POST; not sending again.`,
  };
}

/** The batch carries this part's marker, and what it says matches what we sent. */
export function isOurBatch(batch: PassEntryBatchResource, key: SendKey, expected: ExpectedBatch): boolean {
  const marker = parseBatchMarker(batch.attributes.name);
  if (!marker || marker.requestId !== key.requestId || marker.chunk !== key.chunk) return false;
  const attributes = batch.attributes as Record<string, unknown>;
  if (typeof attributes.content === "string" && attributes.content !== expected.message) return false;
  const entity = attributes.entityId ?? attributes.entity;
  return typeof entity !== "string" || entity === expected.entityId;
}
