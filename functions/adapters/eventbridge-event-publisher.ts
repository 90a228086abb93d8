/**
 * The AWS home's outcome events: one PutEvents entry per event on the WalletBus, source
 * `wallet-messaging`, detail-type the event's `type`, detail the event itself. Rules on the bus
 * route them (to a queue, a Lambda, a CRM); nothing here knows who listens.
 */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { checkedEvent } from "../core/outcome-events.js";
import type { EventPublisher } from "../core/ports.js";
import { EVENT_SOURCE, type WalletMessageEvent } from "../core/schemas.js";

export class EventBridgeEventPublisher implements EventPublisher {
  constructor(
    private readonly busName: string,
    private readonly client: EventBridgeClient = new EventBridgeClient({}),
  ) {}

  async publish(event: WalletMessageEvent): Promise<void> {
    const valid = checkedEvent(event);
    const answer = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: EVENT_SOURCE,
            DetailType: valid.type,
            Detail: JSON.stringify(valid),
            Time: new Date(valid.occurredAt),
          },
        ],
      }),
    );
    // PutEvents answers 200 even when it refused an entry: the refusal is in the body.
    if ((answer.FailedEntryCount ?? 0) > 0) {
      const entry = answer.Entries?.[0];
      throw new Error(
        `EventBridge refused the ${valid.type} event (${entry?.ErrorCode ?? "no error code"}: ${entry?.ErrorMessage ?? "no message"}).`,
      );
    }
  }
}
