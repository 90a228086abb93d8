/**
 * Announcing outcomes. Each event is published by whoever made the outcome happen (or first saw it),
 * at least once: consumers should expect an occasional repeat (a redelivered queue message) and
 * dedupe on (type, requestId, chunk). A publish that fails is logged and never fails the send.
 */
import type { Clock, EventPublisher, Log } from "./ports.js";
import { WalletMessageEvent } from "./schemas.js";

export interface PublishDeps {
  events?: EventPublisher | undefined;
  log: Log;
}

/** Publishes one event; a failure is a warning, never an error for the caller. */
export async function publishOutcome(deps: PublishDeps, event: WalletMessageEvent): Promise<void> {
  if (!deps.events) return;
  try {
    await deps.events.publish(event);
  } catch (error) {
    deps.log.warn("outcome event not published", {
      type: event.type,
      requestId: event.requestId ?? undefined,
      chunk: event.chunk ?? undefined,
      batchId: event.batchId ?? undefined,
      error: (error as Error).message,
    });
  }
}

export function occurredAt(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}

/** The event as its schema defines it; throws a sentence naming the problems when it does not match (nothing is published). */
export function checkedEvent(event: WalletMessageEvent): WalletMessageEvent {
  const parsed = WalletMessageEvent.safeParse(event);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "event"}: ${i.message}`).slice(0, 5);
  throw new Error(
    `The ${String((event as { type?: unknown }).type)} event does not match its schema: ${problems.join("; ")}.`,
  );
}
