import type { DeadLetterQueue } from "./ports.js";
import { clearDeadLettered, type SummaryDeps } from "./request-summary.js";
import { isFollowUp, QueueMessageBody, toSendRequest } from "./schemas.js";

/** The request id a queue body carries, or null when it is not a readable request (poison). */
export function requestIdOf(body: string, messageId: string): string | null {
  try {
    const parsed = QueueMessageBody.safeParse(JSON.parse(body));
    if (!parsed.success) return null;
    return isFollowUp(parsed.data) ? parsed.data.requestId : toSendRequest(parsed.data, messageId).requestId;
  } catch {
    return null;
  }
}

/**
 * Use case: move dead letters back to the queue (all, or the ids given) and clear the dead-letter
 * mark of the requests they carry, so the list and the console stop showing `deadLettered` at once.
 * Safe to repeat: a redriven message meets the send ledger, which never sends a part twice.
 *
 * @example await redriveDeadLetters({ dlq, store, ledger, log, clock }, ["3f1c…"]);
 */
export async function redriveDeadLetters(
  deps: SummaryDeps & { dlq: DeadLetterQueue },
  messageIds?: string[],
): Promise<{ moved: number | null; note: string; notFound: string[]; requestIds: string[] }> {
  const letters = await deps.dlq.list(REDRIVE_LOOKUP_LIMIT);
  const wanted = messageIds === undefined ? letters : letters.filter((letter) => messageIds.includes(letter.messageId));
  const result = await deps.dlq.redrive(messageIds);
  const requestIds = [...new Set(wanted.map((letter) => letter.requestId).filter((id): id is string => id !== null))];
  for (const requestId of requestIds) await clearDeadLettered(deps, requestId);
  deps.log.info("dead letters redriven", { moved: result.moved, requestIds });
  return { ...result, requestIds };
}

/** Dead letters looked at to learn which requests a redrive brings back (the sender clears any it misses). */
const REDRIVE_LOOKUP_LIMIT = 1_000;

/**
 * What a redrive of chosen ids did, in one sentence for every home: how many moved, and which ids no
 * dead letter has (so a mistyped id is not mistaken for "nothing to do").
 *
 * @example redriveNote(0, ["nosuch"]) // "No dead letter has the id nosuch; nothing was moved."
 */
export function redriveNote(moved: number, notFound: readonly string[]): string {
  if (notFound.length === 0) return `${moved} message(s) moved back to the queue.`;
  const missing = `No dead letter has the id${notFound.length > 1 ? "s" : ""} ${notFound.slice(0, 20).join(", ")}${notFound.length > 20 ? ", …" : ""}`;
  return moved === 0 ? `${missing}; nothing was moved.` : `${moved} message(s) moved back to the queue. ${missing}.`;
}
