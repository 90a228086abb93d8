/**
 * The embedded home's outcome events: one log line each, and in-process listeners (tests, or a local
 * integration) receiving the same envelope an EventBridge rule target would: source, detail-type,
 * detail. A listener that throws is logged and does not stop the others.
 */
import { checkedEvent } from "../core/outcome-events.js";
import type { EventPublisher, Log } from "../core/ports.js";
import { EVENT_SOURCE, type WalletMessageEvent } from "../core/schemas.js";

export interface PublishedEvent {
  source: string;
  detailType: WalletMessageEvent["type"];
  detail: WalletMessageEvent;
}

export type EventListener = (event: PublishedEvent) => void;

export class LocalEventPublisher implements EventPublisher {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly log: Log) {}

  async publish(event: WalletMessageEvent): Promise<void> {
    const detail = checkedEvent(event);
    const published: PublishedEvent = { source: EVENT_SOURCE, detailType: detail.type, detail };
    this.log.info("outcome event", {
      source: published.source,
      detailType: published.detailType,
      requestId: detail.requestId ?? undefined,
      detail,
    });
    for (const listener of this.listeners) {
      try {
        listener(published);
      } catch (error) {
        this.log.warn("outcome event listener failed", {
          detailType: published.detailType,
          requestId: detail.requestId ?? undefined,
          error: (error as Error).message,
        });
      }
    }
  }

  /** Calls `listener` with every event published from now on; returns the function that stops it. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
