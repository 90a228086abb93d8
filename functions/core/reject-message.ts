/**
 * Use case: a queue message that is not a valid request is dropped (retrying it can never help) and
 * announced as `WalletMessageRequestRejected`, so whoever sent it can learn why without our logs.
 */
import { occurredAt, publishOutcome, type PublishDeps } from "./outcome-events.js";
import type { Clock } from "./ports.js";
import { RequestId } from "./schemas.js";

/**
 * The request id a rejected body carries, when one can be read: `requestId` at the top (our message,
 * a follow-up) or inside an EventBridge envelope's `detail`.
 */
export function readableRequestId(body: unknown): string | null {
  const candidates = [pick(body, "requestId"), pick(pick(body, "detail"), "requestId")];
  for (const candidate of candidates) if (RequestId.safeParse(candidate).success) return candidate as string;
  return null;
}

function pick(value: unknown, key: string): unknown {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

export async function rejectQueueMessage(
  deps: PublishDeps & { clock: Clock },
  rejected: { messageId: string; body: unknown; problems: string[] },
): Promise<void> {
  await publishOutcome(deps, {
    type: "WalletMessageRequestRejected",
    requestId: readableRequestId(rejected.body),
    chunk: null,
    batchId: null,
    status: "rejected",
    messageId: rejected.messageId,
    reason:
      rejected.body === undefined
        ? "The message body is not JSON."
        : "The message is not a valid wallet message request.",
    problems: rejected.problems.slice(0, 10).map((p) => p.slice(0, 500)),
    occurredAt: occurredAt(deps.clock),
  });
}
