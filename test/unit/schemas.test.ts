/**
 * Queue messages and batch rules: each message keeps (or gets) the request id that keys its sends, a
 * request splits into PassEntry-sized parts in order, and the marker starts every batch name.
 */
import { describe, expect, it } from "vitest";
import { fingerprint } from "../../functions/core/accept-request.js";
import {
  isFollowUp,
  MAX_RECIPIENTS_PER_REQUEST,
  QueueMessageBody,
  SendRequestBody,
  toSendRequest,
  WalletMessageBatch,
} from "../../functions/core/schemas.js";
import {
  batchMarker,
  parseBatchMarker,
  splitIntoChunks,
  toPassEntryBatch,
  wantsSendNow,
  withMarker,
} from "../../functions/core/batch-rules.js";
import { eventBridgeEnvelope, PASSENTRY_EXAMPLE_BODY, sendRequestMessage } from "../support/events.js";

const recipients = (n: number) => Array.from({ length: n }, (_, i) => ({ externalId: `member-${i}` }));

describe("toSendRequest", () => {
  it("keeps the requestId our accept handler put on the message", () => {
    const body = SendRequestBody.parse(sendRequestMessage({ requestId: "req-1" }));

    expect(toSendRequest(body, "sqs-message-9")).toMatchObject({ requestId: "req-1", source: "http" });
  });

  it("keys a direct SQS message without requestId by the SQS message id, with source sqs", () => {
    const { requestId: _none, source: _source, ...message } = sendRequestMessage();

    expect(toSendRequest(SendRequestBody.parse(message), "5e1f4c9a")).toMatchObject({
      requestId: "sqs-5e1f4c9a",
      source: "sqs",
    });
  });

  it("keys an EventBridge event by its event id, with source eventbridge, whatever the SQS message id", () => {
    const body = SendRequestBody.parse(eventBridgeEnvelope({ id: "6a7e8feb" }));

    expect(toSendRequest(body, "one")).toMatchObject({ requestId: "evt-6a7e8feb", source: "eventbridge" });
    expect(toSendRequest(body, "another").requestId).toBe("evt-6a7e8feb");
  });

  it("prefers a requestId inside the EventBridge detail", () => {
    const envelope = eventBridgeEnvelope();
    const detail = { ...(envelope.detail as object), requestId: "order-77" };

    expect(toSendRequest(SendRequestBody.parse({ ...envelope, detail }), "m").requestId).toBe("order-77");
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

describe("the batch marker", () => {
  const postedAt = Date.parse("2030-01-01T00:00:00Z");

  it("starts the name, before the caller's own, so no length limit on names can cut it off", () => {
    const marker = batchMarker({ requestId: "req-1", chunk: 2 }, postedAt);
    const marked = withMarker({ ...PASSENTRY_EXAMPLE_BODY.batch, name: "Summer promo" }, marker);

    expect(marked.name).toBe(`${marker} Summer promo`);
    expect(marked.name?.startsWith("[wm:req-1:2:")).toBe(true);
    expect(marked.message).toBe("Hello, World!");
  });

  it("names an unnamed batch after the marker", () => {
    expect(withMarker(PASSENTRY_EXAMPLE_BODY.batch, "[wm:req-1:0:1]").name).toBe("[wm:req-1:0:1] Wallet message");
  });

  it("parses back to the part and the POST's time, even when the request id holds colons", () => {
    const name = withMarker(
      PASSENTRY_EXAMPLE_BODY.batch,
      batchMarker({ requestId: "promo-summer-2030-06-01T17:00", chunk: 11 }, postedAt),
    ).name;

    expect(parseBatchMarker(name)).toEqual({ requestId: "promo-summer-2030-06-01T17:00", chunk: 11, postedAt });
  });

  it("reads no marker from a name that only contains one (issue 10, item 1: a caller's name imitating ours)", () => {
    expect(parseBatchMarker("Copy of promo [wm:X:0:abc]")).toBeUndefined();
    expect(parseBatchMarker("[wm:X:0]")).toBeUndefined();
    expect(parseBatchMarker(undefined)).toBeUndefined();
  });

  it("refuses a caller's name or tag holding the marker syntax", () => {
    const named = WalletMessageBatch.safeParse({ ...PASSENTRY_EXAMPLE_BODY.batch, name: "Copy of promo [wm:X:0]" });
    const tagged = WalletMessageBatch.safeParse({ ...PASSENTRY_EXAMPLE_BODY.batch, tag: "[wm:" });

    expect(named.success).toBe(false);
    expect(named.error?.issues[0]?.message).toMatch(/batch.name must not contain "\[wm:"/);
    expect(tagged.success).toBe(false);
  });
});

describe("fingerprint", () => {
  it("does not depend on the order of JSON keys, at any depth", () => {
    const a = {
      message: "Hi",
      segments: [{ groupTag: "vip", passTemplateUuid: "t" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    };
    const b = {
      scheduledAt: "2030-03-31T13:16:26Z",
      segments: [{ passTemplateUuid: "t", groupTag: "vip" }],
      message: "Hi",
    };

    expect(fingerprint("ent", a)).toBe(fingerprint("ent", b));
  });

  it("changes with the entity, the content and the order of list items", () => {
    const base = { message: "Hi", recipients: [{ externalId: "a" }, { externalId: "b" }] };

    expect(fingerprint("ent-2", base)).not.toBe(fingerprint("ent", base));
    expect(fingerprint("ent", { ...base, message: "Hi!" })).not.toBe(fingerprint("ent", base));
    expect(fingerprint("ent", { ...base, recipients: [{ externalId: "b" }, { externalId: "a" }] })).not.toBe(
      fingerprint("ent", base),
    );
  });
});

describe("WalletMessageBatch limits", () => {
  it("takes up to MAX_RECIPIENTS_PER_REQUEST (10,000) recipients and refuses one more, naming the limit", () => {
    expect(MAX_RECIPIENTS_PER_REQUEST).toBe(10_000);
    expect(WalletMessageBatch.safeParse({ message: "Hi", recipients: recipients(10_000) }).success).toBe(true);

    const refused = WalletMessageBatch.safeParse({ message: "Hi", recipients: recipients(10_001) });

    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((i) => i.message)).toContain(
      "batch.recipients must hold at most 10000 recipients",
    );
  });

  it("refuses sendNow together with scheduledAt, and takes either alone", () => {
    expect(
      WalletMessageBatch.safeParse({ message: "Hi", segments: [{ groupTag: "vip" }], sendNow: true }).success,
    ).toBe(true);
    expect(
      WalletMessageBatch.safeParse({
        message: "Hi",
        segments: [{ groupTag: "vip" }],
        scheduledAt: "2030-03-31T13:16:26Z",
      }).success,
    ).toBe(true);
    expect(
      WalletMessageBatch.safeParse({
        message: "Hi",
        segments: [{ groupTag: "vip" }],
        scheduledAt: "2030-03-31T13:16:26Z",
        sendNow: true,
      }).success,
    ).toBe(false);
  });
});

describe("wantsSendNow and toPassEntryBatch", () => {
  const segments = [{ groupTag: "vip" }];

  it("sends now when asked, or when no scheduledAt is given, unless sendNow is false", () => {
    expect(wantsSendNow({ message: "Hi", segments })).toBe(true);
    expect(wantsSendNow({ message: "Hi", segments, sendNow: true })).toBe(true);
    expect(wantsSendNow({ message: "Hi", segments, sendNow: false })).toBe(false);
    expect(wantsSendNow({ message: "Hi", segments, scheduledAt: "2030-03-31T13:16:26Z" })).toBe(false);
  });

  it("strips our sendNow, puts the marker first in the name and sets the placeholder scheduledAt for PassEntry", () => {
    const posted = toPassEntryBatch(
      { message: "Hi", segments, sendNow: true, priority: "high" },
      "[wm:req-1:0:1]",
      "2025-06-02T10:05:00.000Z",
    );

    expect(posted).toEqual({
      message: "Hi",
      segments,
      priority: "high",
      name: "[wm:req-1:0:1] Wallet message",
      scheduledAt: "2025-06-02T10:05:00.000Z",
    });
  });

  it("posts a scheduled batch's own scheduledAt unchanged", () => {
    const posted = toPassEntryBatch({ message: "Hi", segments, scheduledAt: "2030-03-31T13:16:26Z" }, "[wm:req-1:1:1]");

    expect(posted).toEqual({
      message: "Hi",
      segments,
      scheduledAt: "2030-03-31T13:16:26Z",
      name: "[wm:req-1:1:1] Wallet message",
    });
  });
});

describe("QueueMessageBody", () => {
  it("reads the sender's follow-ups as follow-ups and requests as requests", () => {
    const track = QueueMessageBody.parse({
      followUp: "track",
      requestId: "req-1",
      chunk: 2,
      batchId: "b-1",
      attempt: 3,
    });
    const cancel = QueueMessageBody.parse({
      followUp: "cancel",
      requestId: "req-1",
      attempt: 1,
      cancelledChunks: [1, 2],
    });
    const request = QueueMessageBody.parse(sendRequestMessage({ requestId: "req-1" }));

    expect(isFollowUp(track) && track.chunk).toBe(2);
    expect(isFollowUp(cancel) && cancel.cancelledChunks).toEqual([1, 2]);
    expect(isFollowUp(request)).toBe(false);
  });

  it("refuses a send-now or track follow-up that names no batch", () => {
    expect(QueueMessageBody.safeParse({ followUp: "send-now", requestId: "req-1", chunk: 0, attempt: 1 }).success).toBe(
      false,
    );
    expect(
      QueueMessageBody.safeParse({ followUp: "track", requestId: "req-1", batchId: "b", attempt: 0, chunk: 0 }).success,
    ).toBe(false);
  });
});
