import { describe, expect, it } from "vitest";
import { fingerprint } from "../../functions/core/accept-request.js";
import { QueueMessageBody, toSendRequest, type WalletMessageBatch } from "../../functions/core/schemas.js";
import { batchMarker, splitIntoChunks, withMarker } from "../../functions/core/send-request.js";
import { eventBridgeEnvelope, PASSENTRY_EXAMPLE_BODY, sendRequestMessage } from "../support/events.js";

const recipients = (n: number) => Array.from({ length: n }, (_, i) => ({ externalId: `member-${i}` }));

describe("toSendRequest", () => {
  it("keeps the requestId our accept handler put on the message", () => {
    const body = QueueMessageBody.parse(sendRequestMessage({ requestId: "req-1" }));

    expect(toSendRequest(body, "sqs-message-9")).toMatchObject({ requestId: "req-1", source: "http" });
  });

  it("keys a direct SQS message without requestId by the SQS message id, with source sqs", () => {
    const { requestId: _none, source: _source, ...message } = sendRequestMessage();

    expect(toSendRequest(QueueMessageBody.parse(message), "5e1f4c9a")).toMatchObject({ requestId: "sqs-5e1f4c9a", source: "sqs" });
  });

  it("keys an EventBridge event by its event id, with source eventbridge, whatever the SQS message id", () => {
    const body = QueueMessageBody.parse(eventBridgeEnvelope({ id: "6a7e8feb" }));

    expect(toSendRequest(body, "one")).toMatchObject({ requestId: "evt-6a7e8feb", source: "eventbridge" });
    expect(toSendRequest(body, "another").requestId).toBe("evt-6a7e8feb");
  });

  it("prefers a requestId inside the EventBridge detail", () => {
    const envelope = eventBridgeEnvelope();
    const detail = { ...(envelope.detail as object), requestId: "order-77" };

    expect(toSendRequest(QueueMessageBody.parse({ ...envelope, detail }), "m").requestId).toBe("order-77");
  });
});

describe("splitIntoChunks", () => {
  it("splits 1200 recipients into calls of 500, 500 and 200, in order", () => {
    const batch: WalletMessageBatch = { message: "Hi", recipients: recipients(1200) };

    const chunks = splitIntoChunks(batch);

    expect(chunks.map((c) => c.recipients?.length)).toEqual([500, 500, 200]);
    expect(chunks.flatMap((c) => c.recipients)).toEqual(batch.recipients);
    expect(chunks.every((c) => c.message === "Hi")).toBe(true);
  });

  it("keeps 500 recipients, or a segment batch, as one call", () => {
    expect(splitIntoChunks({ message: "Hi", recipients: recipients(500) })).toHaveLength(1);
    expect(splitIntoChunks(PASSENTRY_EXAMPLE_BODY.batch)).toEqual([PASSENTRY_EXAMPLE_BODY.batch]);
  });
});

describe("withMarker", () => {
  it("keeps the caller's name and appends the marker", () => {
    const marked = withMarker({ ...PASSENTRY_EXAMPLE_BODY.batch, name: "Summer promo" }, { requestId: "req-1", chunk: 2 });

    expect(marked.name).toBe("Summer promo [wm:req-1:2]");
    expect(marked.name).toContain(batchMarker({ requestId: "req-1", chunk: 2 }));
    expect(marked.message).toBe("Hello, World!");
  });

  it("names an unnamed batch and still appends the marker", () => {
    expect(withMarker(PASSENTRY_EXAMPLE_BODY.batch, { requestId: "req-1", chunk: 0 }).name).toBe("Wallet message [wm:req-1:0]");
  });
});

describe("fingerprint", () => {
  it("does not depend on the order of JSON keys, at any depth", () => {
    const a = { message: "Hi", segments: [{ groupTag: "vip", passTemplateUuid: "t" }], scheduledAt: "2030-03-31T13:16:26Z" };
    const b = { scheduledAt: "2030-03-31T13:16:26Z", segments: [{ passTemplateUuid: "t", groupTag: "vip" }], message: "Hi" };

    expect(fingerprint("ent", a)).toBe(fingerprint("ent", b));
  });

  it("changes with the entity, the content and the order of list items", () => {
    const base = { message: "Hi", recipients: [{ externalId: "a" }, { externalId: "b" }] };

    expect(fingerprint("ent-2", base)).not.toBe(fingerprint("ent", base));
    expect(fingerprint("ent", { ...base, message: "Hi!" })).not.toBe(fingerprint("ent", base));
    expect(fingerprint("ent", { ...base, recipients: [{ externalId: "b" }, { externalId: "a" }] })).not.toBe(fingerprint("ent", base));
  });
});
