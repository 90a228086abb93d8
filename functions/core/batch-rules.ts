/**
 * Rules about the batches we create at PassEntry, shared by accepting, sending, cancelling and
 * showing a request: how a request splits into PassEntry-sized parts, what "send now" means, and
 * the marker that makes each batch findable in PassEntry's list.
 */
import type { SendKey } from "./ports.js";
import { MAX_RECIPIENTS_PER_BATCH, MIN_LEAD_MS } from "./passentry-limits.js";
import { MARKER_PREFIX, type WalletMessageBatch } from "./schemas.js";

/** Splits a batch into PassEntry-sized calls: one per 500 recipients, or one for segments. */
export function splitIntoChunks(batch: WalletMessageBatch): WalletMessageBatch[] {
  const recipients = batch.recipients;
  if (!recipients || recipients.length <= MAX_RECIPIENTS_PER_BATCH) return [batch];
  const chunks: WalletMessageBatch[] = [];
  for (let i = 0; i < recipients.length; i += MAX_RECIPIENTS_PER_BATCH) {
    chunks.push({ ...batch, recipients: recipients.slice(i, i + MAX_RECIPIENTS_PER_BATCH) });
  }
  return chunks;
}

/** How many parts (PassEntry batches) a request makes. */
export function chunkCount(batch: WalletMessageBatch): number {
  return splitIntoChunks(batch).length;
}

/**
 * Whether a batch is to go out at once: it says `sendNow: true`, or it has no `scheduledAt` (and
 * does not say `sendNow: false`, which keeps PassEntry's own default of an hour from now).
 *
 * @example wantsSendNow({ message: "Hi", segments: [{ groupTag: "vip" }] }) // true
 */
export function wantsSendNow(batch: WalletMessageBatch): boolean {
  return batch.sendNow === true || (batch.sendNow === undefined && batch.scheduledAt === undefined);
}

/**
 * An early send: the caller's `scheduledAt` lies ahead of `postedAt`, but closer than the notice
 * PassEntry wants (an hour; we use MIN_LEAD_MS, 1 h 5 min). PassEntry would refuse it, so the
 * batch is created like a send-now batch (a placeholder `scheduledAt` it accepts) and its send-now
 * follow-up waits until the requested time. Returns that time, or undefined when the batch can be
 * posted as asked (no `scheduledAt`, far enough ahead, or already past: PassEntry then says why).
 * Decided from the POST's own time, which the part's marker keeps, so every later look agrees.
 *
 * @example earlySendAt({ message: "Hi", segments: [{ groupTag: "vip" }], scheduledAt: "2030-01-01T00:10:00Z" }, Date.parse("2030-01-01T00:00:00Z")) // "2030-01-01T00:10:00.000Z"
 */
export function earlySendAt(batch: WalletMessageBatch, postedAt: number): string | undefined {
  if (batch.scheduledAt === undefined) return undefined;
  const at = Date.parse(batch.scheduledAt);
  return at > postedAt && at - postedAt < MIN_LEAD_MS ? new Date(at).toISOString() : undefined;
}

/** What a batch name's marker says: whose part it is and when its POST left. */
export interface BatchMarker extends SendKey {
  /** Epoch ms of the POST that created the batch (our clock). */
  postedAt: number;
}

/**
 * The marker that makes a batch findable in PassEntry's list: `[wm:<request id>:<chunk>:<POST time,
 * base 36 ms>]`. It STARTS the name, so no length limit PassEntry may apply to names can cut it off,
 * and callers may not put `[wm:` in a name or tag (the schema refuses it), so only our own batches
 * start with one. The time bounds how far back reconciliation searches.
 *
 * @example batchMarker({ requestId: "r-1", chunk: 0 }, Date.parse("2030-01-01T00:00:00Z")) // "[wm:r-1:0:lkfuqo00]"
 */
export function batchMarker(key: SendKey, postedAt: number): string {
  return `${MARKER_PREFIX}${key.requestId}:${key.chunk}:${Math.max(0, Math.floor(postedAt)).toString(36)}]`;
}

// A request id may itself hold colons: the last two fields are always the chunk and the time.
const MARKER_AT_START = /^\[wm:([A-Za-z0-9_.:-]{1,100}):(\d{1,6}):([0-9a-z]{1,11})\](?: |$)/;

/** Reads the marker a batch name starts with; undefined when it has none (not one of our batches). */
export function parseBatchMarker(name: string | null | undefined): BatchMarker | undefined {
  const match = MARKER_AT_START.exec(name ?? "");
  if (!match) return undefined;
  return { requestId: match[1]!, chunk: Number(match[2]), postedAt: Number.parseInt(match[3]!, 36) };
}

/** The caller's batch with our marker in front of its name. */
export function withMarker(batch: WalletMessageBatch, marker: string): WalletMessageBatch {
  return { ...batch, name: `${marker} ${batch.name ?? "Wallet message"}` };
}

/**
 * The body actually posted: our own `sendNow` and `coalesce` removed, the marker in front of the name, and for a
 * send-now batch a `scheduledAt` PassEntry accepts (it wants an hour's lead); the send-now follow-up
 * then sends it as soon as PassEntry has validated it.
 */
export function toPassEntryBatch(
  batch: WalletMessageBatch,
  marker: string,
  sendNowScheduledAt?: string,
): WalletMessageBatch {
  const { sendNow: _ours, coalesce: _alsoOurs, ...theirs } = withMarker(batch, marker);
  return sendNowScheduledAt === undefined ? theirs : { ...theirs, scheduledAt: sendNowScheduledAt };
}

/** Whether a batch name carries this part's marker (whatever the time in it). */
export function isMarkedFor(name: string | null | undefined, key: SendKey): boolean {
  const marker = parseBatchMarker(name);
  return marker !== undefined && marker.requestId === key.requestId && marker.chunk === key.chunk;
}
