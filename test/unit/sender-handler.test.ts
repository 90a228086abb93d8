/**
 * The sender sends each part once, hands back only what is worth retrying (with its own delay), drops
 * poison messages without blocking the queue, and waits out PassEntry's 429s within bounds.
 */
import type { SQSEvent } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderRequest } from "../../functions/core/request-view.js";
import {
  eventBridgeEnvelope,
  exampleBody,
  markedName,
  FIXTURE_API_KEY,
  loadFixture,
  PASSENTRY_EXAMPLE_BODY,
  sendRequestMessage,
  sqsEvent,
  sqsRecord,
  triggerEvent,
} from "../support/events.js";
import { CANARY_TOKEN, startHarness, type Harness, type HarnessOptions } from "../support/harness.js";

const CREATE = "POST /api/v1/entities/:id/messaging/wallet";
const LIST = "GET /api/v1/batches";
const ROTATED_TOKEN = "canary-token-5678-rotated";

let h: Harness;
async function harness(options: HarnessOptions = {}): Promise<Harness> {
  await h?.close();
  h = await startHarness(options);
  return h;
}
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  // Whatever happened in the test, the PassEntry token must not have landed anywhere we write.
  for (const secret of [CANARY_TOKEN, ROTATED_TOKEN, FIXTURE_API_KEY]) {
    expect(h.log.text()).not.toContain(secret);
    expect(h.everythingStored()).not.toContain(secret);
  }
  await h.close();
});

/** Accepts a body through the HTTP handler and returns the request id. */
async function accept(body: unknown = PASSENTRY_EXAMPLE_BODY): Promise<string> {
  const answer = await h.accept(triggerEvent({ body }));
  expect(answer.statusCode).toBe(202);
  return answer.body.data.id;
}

const posts = () => h.sandbox.requests().filter((r) => r.routeKey === CREATE);

async function view(requestId: string) {
  const request = await h.store.get(requestId);
  if (!request) throw new Error(`request ${requestId} is not stored`);
  return renderRequest(request, await h.ledger.list(requestId)).data.attributes;
}

describe("sender handler (SQS → PassEntry)", () => {
  describe("sending", () => {
    it("turns a queued request into exactly one PassEntry batch with the same entity, message, segments and schedule", async () => {
      const requestId = await accept();

      const { response } = await h.deliverQueued();

      expect(response.batchItemFailures).toEqual([]);
      const batches = h.sandbox.batches();
      expect(batches).toHaveLength(1);
      expect(batches[0]).toMatchObject({
        entityId: "ent_4f1c2a9e",
        message: "Hello, World!",
        scheduledAt: "2030-03-31T13:16:26Z",
        name: markedName(requestId),
      });
      expect(batches[0]!.body.batch.segments).toEqual([{ groupTag: "summerPromotion" }]);
      expect(h.queuedBodies()).toEqual([]);
      expect(await view(requestId)).toMatchObject({ status: "submitted", batchId: batches[0]!.id });
    });

    it("sends a queue message as SQS delivers it (fixture) under the requestId it carries", async () => {
      const event = loadFixture<SQSEvent>("sqs-send-request.json");
      const message = JSON.parse(event.Records[0]!.body);

      const response = await h.send(event);

      expect(response.batchItemFailures).toEqual([]);
      expect(h.sandbox.batches()).toEqual([
        expect.objectContaining({ entityId: message.entityId, name: markedName(message.requestId) }),
      ]);
      expect(await view(message.requestId)).toMatchObject({ status: "submitted", source: "http" });
    });

    it("keeps the caller's batch name and unknown keys (a top-level one the operator allows), appending only the marker", async () => {
      await harness({ allowedBatchKeys: ["priority"] });
      const body = exampleBody();
      Object.assign(body.batch, {
        name: "Summer promo",
        tag: "summer",
        priority: "high",
        segments: [{ groupTag: "vip", passTemplateUuid: "tpl-1" }],
      });
      const requestId = await accept(body);

      await h.deliverQueued();

      const [batch] = h.sandbox.batches();
      expect(batch?.name).toEqual(markedName(requestId, 0, "Summer promo"));
      expect(batch?.tag).toBe("summer");
      expect(batch?.body.batch).toMatchObject({
        priority: "high",
        segments: [{ groupTag: "vip", passTemplateUuid: "tpl-1" }],
      });
    });

    it("sends one batch when SQS delivers the same record twice", async () => {
      const requestId = await accept();
      const { event } = await h.deliverQueued();

      const redelivered = structuredClone(event);
      redelivered.Records[0]!.attributes.ApproximateReceiveCount = "2";
      const response = await h.send(redelivered);

      expect(response.batchItemFailures).toEqual([]);
      expect(h.sandbox.batches()).toHaveLength(1);
      expect(posts()).toHaveLength(1);
      expect(h.log.lines).toContainEqual(
        expect.objectContaining({
          message: "send already decided; nothing sent",
          fields: expect.objectContaining({ requestId, state: "sent" }),
        }),
      );
    });

    it("sends an EventBridge WalletMessageRequested event as one batch, keyed evt-<event id>", async () => {
      const event = loadFixture<SQSEvent>("sqs-eventbridge-envelope.json");
      const envelope = JSON.parse(event.Records[0]!.body);

      const response = await h.send(event);

      expect(response.batchItemFailures).toEqual([]);
      const requestId = `evt-${envelope.id}`;
      const batches = h.sandbox.batches();
      expect(batches).toHaveLength(1);
      expect(batches[0]).toMatchObject({
        entityId: envelope.detail.entityId,
        message: envelope.detail.batch.message,
        name: markedName(requestId),
      });
      expect(batches[0]!.body.batch.recipients).toEqual(envelope.detail.batch.recipients);
      expect(await h.store.get(requestId)).toMatchObject({
        requestId,
        source: "eventbridge",
        entityId: envelope.detail.entityId,
      });
    });

    it("sends one batch when EventBridge delivers the same event twice in different SQS messages", async () => {
      const envelope = eventBridgeEnvelope();

      await h.send(sqsEvent([envelope]));
      await h.send(sqsEvent([envelope]));

      expect(h.sandbox.batches()).toHaveLength(1);
    });

    it("keys a direct SQS message without requestId by its SQS message id (stable across redeliveries)", async () => {
      const { requestId: _none, source: _source, ...message } = sendRequestMessage();
      const record = sqsRecord(message, { messageId: "a1b2c3d4-0000-4000-8000-000000000001" });

      await h.send(sqsEvent([record]));
      await h.send(sqsEvent([{ ...record, attributes: { ...record.attributes, ApproximateReceiveCount: "2" } }]));

      const requestId = "sqs-a1b2c3d4-0000-4000-8000-000000000001";
      expect(h.sandbox.batches().map((b) => b.name)).toEqual([markedName(requestId)]);
      expect(await h.store.get(requestId)).toMatchObject({ source: "sqs" });
    });

    it("handles the records of one event independently: a poison record does not stop a good one", async () => {
      const poison = loadFixture<SQSEvent>("sqs-poison.json").Records[0]!;
      const good = sqsRecord(sendRequestMessage());

      const response = await h.send(sqsEvent([poison, good]));

      expect(response.batchItemFailures).toEqual([]);
      expect(h.sandbox.batches()).toHaveLength(1);
    });
  });

  describe("poison messages", () => {
    it("drops a body that is not a wallet message request without sending, and logs its messageId", async () => {
      const event = loadFixture<SQSEvent>("sqs-poison.json");

      const response = await h.send(event);

      expect(response.batchItemFailures).toEqual([]);
      expect(h.sandbox.requests()).toEqual([]);
      expect(h.storedRequestCount()).toBe(0);
      expect(h.log.lines).toContainEqual(
        expect.objectContaining({
          level: "error",
          fields: expect.objectContaining({ messageId: event.Records[0]!.messageId, problems: expect.any(Array) }),
        }),
      );
    });

    it("refuses a request put straight on the queue with a top-level batch key outside our contract, as the HTTP door does", async () => {
      const message = sendRequestMessage();
      const smuggled = {
        ...message,
        batch: { ...(message.batch as object), passTemplateUuid: "every-pass-of-the-template" },
      };
      const envelope = eventBridgeEnvelope();
      const viaBus = {
        ...envelope,
        detail: {
          ...(envelope.detail as { batch: object }),
          batch: { ...(envelope.detail as { batch: object }).batch, entityId: "someone-else" },
        },
      };

      const response = await h.send(sqsEvent([smuggled, viaBus]));

      expect(response.batchItemFailures).toEqual([]);
      expect(posts()).toEqual([]);
      const rejected = h.log.lines.filter((l) => l.message === "queue message rejected: not a wallet message request");
      expect(rejected.map((l) => l.fields.problems)).toEqual([
        [expect.stringMatching(/batch.passTemplateUuid is not a field we forward to PassEntry/)],
        [expect.stringMatching(/batch.entityId is not a field we forward to PassEntry/)],
      ]);
    });

    it("drops a body that is not JSON at all without sending", async () => {
      const record = sqsRecord("<html>502 Bad Gateway</html>");

      const response = await h.send(sqsEvent([record]));

      expect(response.batchItemFailures).toEqual([]);
      expect(h.sandbox.requests()).toEqual([]);
      expect(h.log.lines).toContainEqual(
        expect.objectContaining({ level: "error", fields: expect.objectContaining({ messageId: record.messageId }) }),
      );
    });
  });

  describe("PassEntry rate limit (429)", () => {
    it("waits for x-rate-limit-retry-after and succeeds within the same invocation", async () => {
      await accept();
      h.sandbox.injectNext(CREATE, [
        {
          kind: "status",
          status: 429,
          body: { errors: ["Too Many Requests"] },
          headers: { "x-rate-limit-retry-after": "0.35" },
        },
      ]);

      const { response } = await h.deliverQueued();

      expect(response.batchItemFailures).toEqual([]);
      expect(h.sandbox.batches()).toHaveLength(1);
      expect(h.sandbox.count429()).toBe(1);
      expect(h.sleeps).toHaveLength(1);
      expect(h.sleeps[0]).toBeGreaterThanOrEqual(350);
      expect(h.sleeps[0]).toBeLessThan(350 + 250);
    });

    it("keeps the record for retry and gives the claim back when 429s outlast its waits, so a later delivery sends once", async () => {
      const requestId = await accept();
      const tooMany = { kind: "status", status: 429, headers: { "x-rate-limit-retry-after": "0.05" } } as const;
      h.sandbox.injectNext(CREATE, [tooMany, tooMany, tooMany, tooMany]);

      const first = await h.deliverQueued();

      expect(first.response.batchItemFailures).toEqual([{ itemIdentifier: first.event.Records[0]!.messageId }]);
      expect(h.sleeps).toHaveLength(3);
      expect(h.sandbox.batches()).toEqual([]);
      // Given back, not deleted: nobody holds it, and nothing says a batch may exist.
      expect(await h.ledger.list(requestId)).toEqual([expect.objectContaining({ state: "open", leaseUntil: 0 })]);
      expect((await h.ledger.list(requestId))[0]).not.toHaveProperty("needsReconcile");
      expect(await view(requestId)).toMatchObject({ status: "queued" });

      const second = await h.deliverQueued();

      expect(second.response.batchItemFailures).toEqual([]);
      expect(h.sandbox.batches()).toHaveLength(1);
      expect(await view(requestId)).toMatchObject({ status: "submitted" });
    });

    it("does not wait when the invocation has too little time left, and keeps the record", async () => {
      const requestId = await accept();
      h.sandbox.injectNext(CREATE, [{ kind: "status", status: 429, headers: { "x-rate-limit-retry-after": "0.35" } }]);

      // Enough to start (the call budget is the client's 5 s timeout + 5 s), not to wait 0.35 s and call again.
      const { response } = await h.deliverQueued({ getRemainingTimeInMillis: () => 10_200 });

      expect(response.batchItemFailures).toHaveLength(1);
      expect(h.sleeps).toEqual([]);
      expect(await h.ledger.list(requestId)).toEqual([expect.objectContaining({ state: "open" })]);
      expect(h.sandbox.batches()).toEqual([]);
      expect(h.sandbox.count429()).toBe(1);
    });

    it("checks its claim again after a 429 wait: a worker that took the part over meanwhile posts, the waiter does not", async () => {
      await harness({ leaseMs: 100 });
      const requestId = await accept();
      h.sandbox.injectNext(CREATE, [{ kind: "status", status: 429, headers: { "x-rate-limit-retry-after": "0.4" } }]);

      // Worker A meets the 429 and waits 0.4 s; its lease (0.1 s) lapses and the redelivered record reaches B.
      const waiting = h.deliverQueued();
      await new Promise((r) => setTimeout(r, 200));
      const takeover = await h.send(
        sqsEvent([sqsRecord(h.queuedBodies()[0] ?? (await h.store.get(requestId)), { messageId: "redelivered" })]),
      );
      const first = await waiting;

      expect(takeover.batchItemFailures).toEqual([]);
      expect(first.response.batchItemFailures).toHaveLength(1);
      expect(posts().map((r) => r.status)).toEqual([429, 202]);
      expect(h.sandbox.batches()).toHaveLength(1);
      expect(await view(requestId)).toMatchObject({ status: "submitted" });
    });

    it("does not start a send when the invocation could not finish it, and keeps the record untouched", async () => {
      const requestId = await accept();

      const { response } = await h.deliverQueued({ getRemainingTimeInMillis: () => 5_000 });

      expect(response.batchItemFailures).toHaveLength(1);
      expect(await h.ledger.list(requestId)).toEqual([]);
      expect(h.sandbox.requests()).toEqual([]);
    });
  });

  describe("PassEntry failures whose outcome is unknown (5xx, lost answer)", () => {
    it("on a 5xx looks for the batch after a short settle and, finding none, posts again in the same invocation", async () => {
      const requestId = await accept();
      h.sandbox.injectNext(CREATE, [{ kind: "status", status: 503, body: { errors: ["Service Unavailable"] } }]);

      const { response } = await h.deliverQueued();

      expect(response.batchItemFailures).toEqual([]);
      expect(h.sleeps).toEqual([20]);
      expect(h.sandbox.requests().map((r) => r.routeKey)).toEqual([CREATE, LIST, CREATE]);
      expect(h.sandbox.batches()).toHaveLength(1);
      expect(await view(requestId)).toMatchObject({ status: "submitted", batchId: h.sandbox.batches()[0]!.id });
    });

    it("on a 500 after PassEntry did create the batch, finds it and posts nothing more", async () => {
      const requestId = await accept();
      h.sandbox.injectNext(CREATE, [{ kind: "status-after-create", status: 500 }]);

      const { response } = await h.deliverQueued();

      expect(response.batchItemFailures).toEqual([]);
      expect(posts()).toHaveLength(1);
      expect(h.sandbox.batches()).toHaveLength(1);
      expect(await view(requestId)).toMatchObject({ status: "submitted", batchId: h.sandbox.batches()[0]!.id });
    });

    it("finds the batch by its marker when PassEntry created it but the answer was lost, and sends nothing new", async () => {
      await harness({ timeoutSettleMs: 1 });
      const requestId = await accept();
      h.sandbox.injectNext(CREATE, [{ kind: "drop-after-create" }]);

      const first = await h.deliverQueued();

      expect(first.response.batchItemFailures).toHaveLength(1);
      expect(h.sandbox.batches()).toHaveLength(1);
      expect(await h.ledger.list(requestId)).toEqual([
        expect.objectContaining({ state: "open", needsReconcile: true }),
      ]);
      await new Promise((r) => setTimeout(r, 5)); // the settle window (1 ms here) ends

      const second = await h.deliverQueued();

      expect(second.response.batchItemFailures).toEqual([]);
      expect(posts()).toHaveLength(1);
      const batches = h.sandbox.batches();
      expect(batches).toHaveLength(1);
      expect(await view(requestId)).toMatchObject({ status: "submitted", batchId: batches[0]!.id });
      expect(h.queuedBodies()).toEqual([]);
    });

    it("waits out the settle window after a dropped connection before anyone looks for the batch", async () => {
      const requestId = await accept();
      h.sandbox.injectNext(CREATE, [{ kind: "drop" }]);

      const first = await h.deliverQueued();
      const second = await h.deliverQueued();

      expect(first.response.batchItemFailures).toHaveLength(1);
      expect(second.response.batchItemFailures).toHaveLength(1);
      expect(posts()).toHaveLength(1);
      expect(h.sandbox.requests().filter((r) => r.routeKey === LIST)).toEqual([]);
      expect(h.log.lines).toContainEqual(
        expect.objectContaining({
          message: "queue message will be retried",
          fields: expect.objectContaining({ requestId, error: expect.stringMatching(/settling/) }),
        }),
      );
    });

    it("records the send as unknown, and never re-sends, when PassEntry's batch list cannot decide", async () => {
      await harness({ reconcilePages: 1, timeoutSettleMs: 1 });
      const requestId = await accept();
      h.sandbox.injectNext(CREATE, [{ kind: "drop" }]);
      await h.deliverQueued();
      // Someone else's 25+ newer batches push any batch of ours off the one page we may search.
      for (let i = 0; i < 26; i++)
        await h.passEntry.createBatch({
          entityId: "ent_elsewhere",
          batch: { message: `other ${i}`, segments: [{ groupTag: "x" }] },
        });
      await new Promise((r) => setTimeout(r, 5)); // the settle window (1 ms here) ends

      const { response } = await h.deliverQueued();

      expect(response.batchItemFailures).toEqual([]);
      expect(h.unknownOutcomes).toEqual([{ requestId, chunk: 0 }]);
      expect(h.sandbox.batches().filter((b) => b.entityId === "ent_4f1c2a9e")).toEqual([]);
      expect(await view(requestId)).toMatchObject({
        status: "unknown",
        failureReason: expect.stringMatching(/not sending again/),
      });
      expect(h.log.lines).toContainEqual(
        expect.objectContaining({
          level: "error",
          message: "send outcome unknown",
          fields: expect.objectContaining({ requestId }),
        }),
      );
    });
  });

  describe("PassEntry refusals", () => {
    it("marks the request failed on a permanent 422, keeps no record for retry, and sends nothing on redelivery", async () => {
      const requestId = await accept();
      h.sandbox.injectNext(CREATE, [{ kind: "status", status: 422, body: { errors: ["Segment not found"] } }]);

      const { event, response } = await h.deliverQueued();

      expect(response.batchItemFailures).toEqual([]);
      expect(await view(requestId)).toMatchObject({
        status: "failed",
        failureReason: expect.stringContaining("Segment not found"),
      });

      const redelivery = await h.send(event);

      expect(redelivery.batchItemFailures).toEqual([]);
      expect(posts()).toHaveLength(1);
      expect(h.sandbox.batches()).toEqual([]);
    });

    it("retries once with the new token when PassEntry refuses a rotated-out one", async () => {
      await accept();
      await h.deliverQueued();
      h.sandbox.setTokens([ROTATED_TOKEN]);
      h.secrets.set("passentry-token", ROTATED_TOKEN);
      const requestId = await accept();

      const { response } = await h.deliverQueued();

      expect(response.batchItemFailures).toEqual([]);
      expect(posts().map((r) => r.status)).toEqual([202, 401, 202]);
      expect(h.sandbox.batches()).toHaveLength(2);
      expect(await view(requestId)).toMatchObject({ status: "submitted" });
    });

    it("keeps the record and sends nothing when PassEntry refuses the token and no new one exists", async () => {
      const requestId = await accept();
      h.sandbox.setTokens([ROTATED_TOKEN]);

      const first = await h.deliverQueued();

      expect(first.response.batchItemFailures).toHaveLength(1);
      expect(h.sandbox.batches()).toEqual([]);
      expect(await h.ledger.list(requestId)).toEqual([expect.objectContaining({ state: "open" })]);
      expect(await view(requestId)).toMatchObject({ status: "queued" });

      h.secrets.set("passentry-token", ROTATED_TOKEN);
      const second = await h.deliverQueued();

      expect(second.response.batchItemFailures).toEqual([]);
      expect(h.sandbox.batches()).toHaveLength(1);
    });
  });

  describe("logging", () => {
    it("logs every state change of a send with its requestId", async () => {
      const requestId = await accept();
      await h.deliverQueued();

      const messages = h.log.lines.filter((l) => l.fields.requestId === requestId).map((l) => l.message);
      expect(messages).toEqual([
        "request accepted",
        "request queued",
        "send claimed",
        "request submitted",
        "queue message done",
      ]);
    });

    it("logs retries, reconciliation and failures with the requestId", async () => {
      await harness({ timeoutSettleMs: 1 });
      const retried = await accept();
      h.sandbox.injectNext(CREATE, [{ kind: "drop" }]);
      await h.deliverQueued();
      await new Promise((r) => setTimeout(r, 5)); // the settle window (1 ms here) ends
      await h.deliverQueued();
      const failed = await accept(exampleBody());
      h.sandbox.injectNext(CREATE, [{ kind: "status", status: 422, body: { errors: ["Segment not found"] } }]);
      await h.deliverQueued();

      const messagesFor = (id: string) => h.log.lines.filter((l) => l.fields.requestId === id).map((l) => l.message);
      expect(messagesFor(retried)).toEqual(
        expect.arrayContaining([
          "send outcome unknown; the batch is looked for before any new POST",
          "queue message will be retried",
          "send outcome unknown; reconciling with PassEntry",
          "reconciliation found no batch; sending",
          "request submitted",
        ]),
      );
      expect(messagesFor(failed)).toEqual(expect.arrayContaining(["send failed", "queue message done"]));
      // Apart from the HTTP layer's own lines, nothing about a send is logged without its requestId.
      const withoutRequestId = h.log.lines.filter((l) => l.fields.requestId === undefined);
      expect(withoutRequestId).toEqual([]);
    });
  });

  describe("the PassEntry token", () => {
    const scenarios: [string, () => void][] = [
      ["a send that succeeds", () => undefined],
      [
        "a 429 past the waits",
        () =>
          h.sandbox.injectNext(
            CREATE,
            Array(4).fill({ kind: "status", status: 429, headers: { "x-rate-limit-retry-after": "0.01" } }),
          ),
      ],
      ["a 5xx", () => h.sandbox.injectNext(CREATE, [{ kind: "status", status: 500 }])],
      ["a lost answer", () => h.sandbox.injectNext(CREATE, [{ kind: "drop-after-create" }])],
      [
        "a permanent 422",
        () => h.sandbox.injectNext(CREATE, [{ kind: "status", status: 422, body: { errors: ["Segment not found"] } }]),
      ],
      ["a 401 with no new token", () => h.sandbox.setTokens(["someone-else"])],
      [
        "a 401 whose body echoes the token",
        () =>
          h.sandbox.injectNext(CREATE, [
            { kind: "status", status: 401, body: { errors: [`Token ${CANARY_TOKEN} is not valid`] } },
          ]),
      ],
      [
        "a 422 whose body echoes the token",
        () =>
          h.sandbox.injectNext(CREATE, [
            { kind: "status", status: 422, body: { errors: [`Bearer ${CANARY_TOKEN} may not create batches`] } },
          ]),
      ],
    ];

    it.each(scenarios)("appears in no log line, stored record or queue message after %s", async (_what, arrange) => {
      await accept();
      arrange();

      await h.deliverQueued();
      await h.deliverQueued();

      expect(h.sandbox.requests().length).toBeGreaterThan(0);
      expect(h.log.text()).not.toContain(CANARY_TOKEN);
      expect(h.everythingStored()).not.toContain(CANARY_TOKEN);
      expect(JSON.stringify(h.queue.peek())).not.toContain(CANARY_TOKEN);
    });
  });
});
