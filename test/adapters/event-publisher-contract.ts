/**
 * The EventPublisher contract: what a listener receives for each outcome event, which the local and
 * EventBridge publishers must deliver identically (source, detail-type, detail), and what neither may
 * publish. Run it with `describeEventPublisherContract`.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EventPublisher } from "../../functions/core/ports.js";
import type { WalletMessageEvent } from "../../functions/core/schemas.js";

export interface DeliveredEvent {
  source: string;
  detailType: string;
  detail: unknown;
}

export interface EventPublisherHarness {
  publisher: EventPublisher;
  /** What a listener (an EventBridge rule target, a local listener) received, in order. */
  delivered(): Promise<DeliveredEvent[]>;
  close(): Promise<void>;
}

const AT = "2025-06-02T09:00:05.000Z";

/** One event of each type, as the sender builds them. */
export const SAMPLE_EVENTS: readonly WalletMessageEvent[] = [
  {
    type: "WalletMessageBatchCreated",
    requestId: "req-1",
    chunk: 0,
    entityId: "ent-1",
    batchId: "batch-1",
    status: "validating",
    totalCount: null,
    sendNow: true,
    occurredAt: AT,
  },
  {
    type: "WalletMessageBatchCompleted",
    requestId: "req-1",
    chunk: 0,
    entityId: "ent-1",
    batchId: "batch-1",
    status: "completedWithErrors",
    totalCount: 500,
    deliveryCsvUrl: "https://example.test/delivery.csv",
    errorsCsvUrl: "https://example.test/errors.csv",
    occurredAt: AT,
  },
  {
    type: "WalletMessageBatchFailed",
    requestId: "req-2",
    chunk: 1,
    entityId: "ent-1",
    batchId: null,
    status: "cancelled",
    reason: "The request was cancelled before this part was sent.",
    errorsCsvUrl: null,
    occurredAt: AT,
  },
  {
    type: "WalletMessageRequestRejected",
    requestId: null,
    chunk: null,
    batchId: null,
    status: "rejected",
    messageId: "0c7a3f3e-3f0a-4b8e-9d0e-5b1f2c3d4e5f",
    reason: "The message is not a valid wallet message request.",
    problems: ["batch: Invalid input"],
    occurredAt: AT,
  },
];

export function describeEventPublisherContract(name: string, makeHarness: () => Promise<EventPublisherHarness>): void {
  describe(`${name} (EventPublisher contract)`, () => {
    let harness: EventPublisherHarness;

    beforeEach(async () => {
      harness = await makeHarness();
    });

    afterEach(async () => {
      await harness.close();
    });

    it.each(SAMPLE_EVENTS.map((event) => [event.type, event] as const))(
      "delivers %s with source wallet-messaging, its type as detail-type and the event as detail",
      async (type, event) => {
        // Act
        await harness.publisher.publish(event);

        // Assess
        expect(await harness.delivered()).toEqual([{ source: "wallet-messaging", detailType: type, detail: event }]);
      },
    );

    it("delivers events in the order they were published", async () => {
      // Act
      for (const event of SAMPLE_EVENTS) await harness.publisher.publish(event);

      // Assess
      expect((await harness.delivered()).map((d) => d.detailType)).toEqual(SAMPLE_EVENTS.map((e) => e.type));
    });

    it("refuses an event that does not match its schema, naming the problem, and delivers nothing", async () => {
      // Prepare
      const broken = { ...SAMPLE_EVENTS[1]!, status: "sending" } as unknown as WalletMessageEvent;

      // Act
      const publishing = harness.publisher.publish(broken);

      // Assess
      await expect(publishing).rejects.toThrow(/WalletMessageBatchCompleted event does not match its schema: status/);
      expect(await harness.delivered()).toEqual([]);
    });
  });
}
