/**
 * The embedded home's outcome events: one log line each, every listener served even when one throws,
 * none after it unsubscribes.
 */
import { describe, expect, it } from "vitest";
import { LocalEventPublisher, type PublishedEvent } from "../../functions/adapters/local-event-publisher.js";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { describeEventPublisherContract, SAMPLE_EVENTS } from "./event-publisher-contract.js";

describeEventPublisherContract("LocalEventPublisher", async () => {
  const publisher = new LocalEventPublisher(new MemoryLog());
  const delivered: PublishedEvent[] = [];
  const stop = publisher.subscribe((event) => delivered.push(event));
  return {
    publisher,
    delivered: async () => delivered,
    close: async () => {
      stop();
    },
  };
});

describe("LocalEventPublisher (local specifics)", () => {
  it("logs one line per event, with its detail-type and request id", async () => {
    // Prepare
    const log = new MemoryLog();
    const publisher = new LocalEventPublisher(log);

    // Act
    await publisher.publish(SAMPLE_EVENTS[0]!);

    // Assess
    expect(log.lines).toEqual([
      {
        level: "info",
        message: "outcome event",
        fields: {
          source: "wallet-messaging",
          detailType: "WalletMessageBatchCreated",
          requestId: "req-1",
          detail: SAMPLE_EVENTS[0],
        },
      },
    ]);
  });

  it("keeps delivering to other listeners when one throws, and logs the failure", async () => {
    // Prepare
    const log = new MemoryLog();
    const publisher = new LocalEventPublisher(log);
    const received: string[] = [];
    publisher.subscribe(() => {
      throw new Error("listener broke");
    });
    publisher.subscribe((event) => received.push(event.detailType));

    // Act
    await publisher.publish(SAMPLE_EVENTS[2]!);

    // Assess
    expect(received).toEqual(["WalletMessageBatchFailed"]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: "warn",
        message: "outcome event listener failed",
        fields: expect.objectContaining({ error: "listener broke" }),
      }),
    );
  });

  it("stops calling a listener once it unsubscribed", async () => {
    // Prepare
    const publisher = new LocalEventPublisher(new MemoryLog());
    const received: PublishedEvent[] = [];
    const stop = publisher.subscribe((event) => received.push(event));
    stop();

    // Act
    await publisher.publish(SAMPLE_EVENTS[0]!);

    // Assess
    expect(received).toEqual([]);
  });
});
