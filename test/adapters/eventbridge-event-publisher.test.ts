/**
 * Outcome events reach the configured EventBridge bus, timed when the outcome occurred, and an entry
 * EventBridge refuses (even in a 200) or cannot take rejects with its error.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { EventBridgeEventPublisher } from "../../functions/adapters/eventbridge-event-publisher.js";
import { describeEventPublisherContract, SAMPLE_EVENTS } from "./event-publisher-contract.js";

const BUS = "wallet-messaging-test-WalletBus";
const newClient = () =>
  new EventBridgeClient({ region: "eu-west-2", credentials: { accessKeyId: "test", secretAccessKey: "test" } });

/** Stands in for EventBridge: records every entry PutEvents was given and accepts it, as a rule target would receive it. */
function fakeEventBridge(client: EventBridgeClient) {
  const mock = mockClient(client);
  const calls: PutEventsCommandInput[] = [];
  mock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
    calls.push(input);
    return {
      FailedEntryCount: 0,
      Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `event-${calls.length}-${i}` })),
    };
  });
  return { mock, calls };
}

describeEventPublisherContract("EventBridgeEventPublisher", async () => {
  const client = newClient();
  const { mock, calls } = fakeEventBridge(client);
  return {
    publisher: new EventBridgeEventPublisher(BUS, client),
    delivered: async () =>
      calls
        .flatMap((c) => c.Entries ?? [])
        .map((e) => ({ source: e.Source!, detailType: e.DetailType!, detail: JSON.parse(e.Detail!) as unknown })),
    close: async () => {
      mock.restore();
      client.destroy();
    },
  };
});

describe("EventBridgeEventPublisher (EventBridge specifics)", () => {
  const client = newClient();
  let fake: ReturnType<typeof fakeEventBridge>;
  const publisher = new EventBridgeEventPublisher(BUS, client);

  beforeEach(() => {
    fake?.mock.restore();
    fake = fakeEventBridge(client);
  });

  afterAll(() => {
    fake.mock.restore();
    client.destroy();
  });

  it("puts one entry on the configured bus, timed when the outcome occurred", async () => {
    // Act
    await publisher.publish(SAMPLE_EVENTS[0]!);

    // Assess
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]!.Entries).toEqual([
      expect.objectContaining({
        EventBusName: BUS,
        Source: "wallet-messaging",
        DetailType: "WalletMessageBatchCreated",
        Time: new Date(SAMPLE_EVENTS[0]!.occurredAt),
      }),
    ]);
  });

  it("rejects, naming EventBridge's error, when PutEvents answers 200 but refused the entry", async () => {
    // Prepare
    fake.mock
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: "InternalFailure", ErrorMessage: "Try again" }] });

    // Act
    const publishing = publisher.publish(SAMPLE_EVENTS[1]!);

    // Assess
    await expect(publishing).rejects.toThrow(
      "EventBridge refused the WalletMessageBatchCompleted event (InternalFailure: Try again).",
    );
  });

  it("rejects when EventBridge cannot be reached", async () => {
    // Prepare
    fake.mock.on(PutEventsCommand).rejects(Object.assign(new Error("socket hang up"), { name: "TimeoutError" }));

    // Act
    const publishing = publisher.publish(SAMPLE_EVENTS[2]!);

    // Assess
    await expect(publishing).rejects.toThrow("socket hang up");
  });
});
