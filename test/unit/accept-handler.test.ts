/**
 * The accept handler answers 202 only for a request it stored and queued, refuses bad input with a 4xx
 * that says how to fix it and queues nothing, and answers a retried Idempotency-Key with the first
 * request.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_RECIPIENTS_PER_REQUEST } from "../../functions/core/schemas.js";
import { MAX_BODY_BYTES } from "../../functions/handlers/http.js";
import {
  exampleBody,
  FIXTURE_API_KEY,
  FIXTURE_API_KEY_NAME,
  FIXTURE_ENTITY_ID,
  loadFixture,
  PASSENTRY_EXAMPLE_BODY,
  triggerEvent,
} from "../support/events.js";
import {
  SHOP_API_KEY,
  SHOP_API_KEY_NAME,
  startHarness,
  TEST_EPOCH,
  type Harness,
  type HttpAnswer,
} from "../support/harness.js";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

/** A copy of PassEntry's example with `batch` changed as given (`undefined` removes a field). */
function batchWith(changes: Record<string, unknown>): { batch: Record<string, unknown> } {
  const body = exampleBody();
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete body.batch[key];
    else body.batch[key] = value;
  }
  return body;
}

function expectRefused(answer: HttpAnswer, statusCode: number, mentioning?: RegExp) {
  expect(answer.statusCode).toBe(statusCode);
  expect(answer.headers["content-type"]).toBe("application/json");
  expect(answer.body).toEqual({ errors: expect.any(Array) });
  expect(answer.body.errors.length).toBeGreaterThan(0);
  for (const error of answer.body.errors) expect(typeof error).toBe("string");
  if (mentioning) expect(answer.body.errors.join(" ")).toMatch(mentioning);
  expect(h.queuedBodies()).toEqual([]);
  expect(h.storedRequestCount()).toBe(0);
}

describe("accept handler (POST /api/v1/entities/{entityId}/messaging/wallet)", () => {
  describe("accepting", () => {
    it("answers 202 with our request id, its self link and a location header for PassEntry's own example", async () => {
      const answer = await h.accept(triggerEvent());

      expect(answer.statusCode).toBe(202);
      const id: string = answer.body.data.id;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.body.data.type).toBe("walletMessageRequest");
      expect(answer.body.data.attributes).toMatchObject({
        status: "queued",
        entityId: FIXTURE_ENTITY_ID,
        source: "http",
        content: "Hello, World!",
        scheduledAt: "2030-03-31T13:16:26Z",
        apiKeyName: FIXTURE_API_KEY_NAME,
        batchId: null,
      });
      expect(answer.body.links.self).toBe(`/api/v1/requests/${id}`);
      expect(answer.headers.location).toBe(`/api/v1/requests/${id}`);
      expect(answer.headers["idempotent-replayed"]).toBeUndefined();
    });

    it("queues exactly one message holding the accepted request", async () => {
      const answer = await h.accept(triggerEvent());

      expect(h.queuedBodies()).toEqual([
        {
          requestId: answer.body.data.id,
          entityId: FIXTURE_ENTITY_ID,
          batch: PASSENTRY_EXAMPLE_BODY.batch,
          source: "http",
          acceptedAt: answer.body.data.attributes.createdAt,
        },
      ]);
      expect(Date.parse(answer.body.data.attributes.createdAt)).toBeGreaterThanOrEqual(TEST_EPOCH);
    });

    it("stores the request with its caller (the API key's name) and never the key itself", async () => {
      const answer = await h.accept(triggerEvent({ headers: { authorization: `Bearer ${SHOP_API_KEY}` } }));

      const stored = await h.store.get(answer.body.data.id);
      expect(stored?.caller).toBe(`key:${SHOP_API_KEY_NAME}`);
      expect(answer.body.data.attributes).toMatchObject({
        caller: `key:${SHOP_API_KEY_NAME}`,
        apiKeyName: SHOP_API_KEY_NAME,
      });
      expect(stored?.enqueuedAt).toEqual(expect.any(String));
      expect(h.everythingStored()).not.toContain(SHOP_API_KEY);
      expect(h.log.text()).not.toContain(SHOP_API_KEY);
    });

    it("accepts a far-future scheduledAt (PassEntry's example itself uses 2030)", async () => {
      const answer = await h.accept(triggerEvent({ body: batchWith({ scheduledAt: "2999-12-31T23:59:59Z" }) }));

      expect(answer.statusCode).toBe(202);
      expect(h.queuedBodies()[0].batch.scheduledAt).toBe("2999-12-31T23:59:59Z");
    });

    it("accepts a scheduledAt with a zone offset, and a batch without any scheduledAt", async () => {
      expect(
        (await h.accept(triggerEvent({ body: batchWith({ scheduledAt: "2030-03-31T14:16:26+01:00" }) }))).statusCode,
      ).toBe(202);
      expect((await h.accept(triggerEvent({ body: batchWith({ scheduledAt: undefined }) }))).statusCode).toBe(202);
      expect(h.queuedBodies()).toHaveLength(2);
    });

    it("records a batch without scheduledAt, or with sendNow, as send-now, and a scheduled one as not", async () => {
      const withoutSchedule = await h.accept(triggerEvent({ body: batchWith({ scheduledAt: undefined }) }));
      const explicit = await h.accept(triggerEvent({ body: batchWith({ scheduledAt: undefined, sendNow: true }) }));
      const scheduled = await h.accept(triggerEvent());

      expect(withoutSchedule.body.data.attributes).toMatchObject({ sendNow: true, scheduledAt: null });
      expect(explicit.body.data.attributes).toMatchObject({ sendNow: true });
      expect(scheduled.body.data.attributes).toMatchObject({ sendNow: false, scheduledAt: "2030-03-31T13:16:26Z" });
      expect((await h.store.get(withoutSchedule.body.data.id))?.sendNow).toBe(true);
      expect((await h.store.get(scheduled.body.data.id))?.sendNow).toBeUndefined();
    });

    it("accepts recipients instead of segments, up to 10,000 of them in one request (the sender splits them by 500)", async () => {
      const recipients = Array.from({ length: MAX_RECIPIENTS_PER_REQUEST }, (_, i) => ({ externalId: `m${i}` }));
      const answer = await h.accept(triggerEvent({ body: batchWith({ segments: undefined, recipients }) }));

      expect(answer.statusCode).toBe(202);
      expect(h.queuedBodies()[0].batch.recipients).toHaveLength(10_000);
    });

    it("passes unknown keys in segments and recipients through to the queued message", async () => {
      const withSegments = batchWith({
        segments: [{ groupTag: "summerPromotion", passTemplateUuid: "tpl-1", entityFilter: { region: "north" } }],
        name: "Summer promo",
        tag: "summer",
      });
      const withRecipients = batchWith({
        segments: undefined,
        recipients: [{ externalId: "member-7", variables: { memberName: "Jane" }, channel: "wallet" }],
      });

      await h.accept(triggerEvent({ body: withSegments }));
      await h.accept(triggerEvent({ body: withRecipients }));

      const [first, second] = h.queuedBodies();
      expect(first.batch).toEqual(withSegments.batch);
      expect(second.batch).toEqual(withRecipients.batch);
    });

    it("refuses a top-level batch key outside the contract with 422 naming it, and passes one the operator allows", async () => {
      const refused = await h.accept(triggerEvent({ body: batchWith({ priority: "high", entityId: "ent-other" }) }));
      const local = await startHarness({ allowedBatchKeys: ["priority"] });
      try {
        const allowed = await local.accept(triggerEvent({ body: batchWith({ priority: "high" }) }));

        expect(refused.statusCode).toBe(422);
        expect(refused.body.errors).toEqual([
          "batch.priority is not a field we forward to PassEntry; remove it (or, if PassEntry documents it, ask the operator to allow it by name in ALLOWED_BATCH_KEYS)",
          "batch.entityId is not a field we forward to PassEntry; remove it (or, if PassEntry documents it, ask the operator to allow it by name in ALLOWED_BATCH_KEYS)",
        ]);
        expect(h.queuedBodies()).toEqual([]);
        expect(allowed.statusCode).toBe(202);
        expect(local.queuedBodies()[0].batch.priority).toBe("high");
      } finally {
        await local.close();
      }
    });

    it("accepts a base64-encoded body, as API Gateway delivers some content types", async () => {
      const answer = await h.accept(loadFixture<APIGatewayProxyEventV2>("api-gateway-v2-trigger-base64.json"));

      expect(answer.statusCode).toBe(202);
      expect(h.queuedBodies()).toEqual([
        expect.objectContaining({ requestId: answer.body.data.id, batch: PASSENTRY_EXAMPLE_BODY.batch }),
      ]);
    });

    it("accepts a JSON content type with a charset", async () => {
      const answer = await h.accept(triggerEvent({ headers: { "content-type": "application/json; charset=utf-8" } }));
      expect(answer.statusCode).toBe(202);
    });
  });

  describe("refusing", () => {
    it("answers 401 and queues nothing when the Authorization header is missing", async () => {
      expectRefused(
        await h.accept(triggerEvent({ headers: { authorization: undefined } })),
        401,
        /Authorization: Bearer/,
      );
    });

    it("answers 401 and queues nothing when the API key is wrong", async () => {
      expectRefused(await h.accept(triggerEvent({ headers: { authorization: "Bearer not-a-key" } })), 401, /not valid/);
    });

    it("answers 401 when the key is sent without the Bearer scheme", async () => {
      expectRefused(await h.accept(triggerEvent({ headers: { authorization: FIXTURE_API_KEY } })), 401);
    });

    it("answers 400 and queues nothing when the body is not valid JSON", async () => {
      expectRefused(await h.accept(triggerEvent({ rawBody: '{"batch":{"message":"Hello"' })), 400, /JSON/);
    });

    it("answers 415 and queues nothing when the content type is not JSON", async () => {
      expectRefused(
        await h.accept(triggerEvent({ headers: { "content-type": "text/plain" } })),
        415,
        /application\/json/,
      );
      expectRefused(await h.accept(triggerEvent({ headers: { "content-type": undefined } })), 415);
    });

    it("answers 413 and queues nothing when the body is over 256 KB", async () => {
      const body = batchWith({ message: "x".repeat(MAX_BODY_BYTES) });
      expectRefused(await h.accept(triggerEvent({ body })), 413, new RegExp(`at most ${MAX_BODY_BYTES} bytes`));
    });

    it("accepts a body of exactly the size limit, and queues it within SQS's 256 KiB message limit", async () => {
      const body = batchWith({ message: "" });
      const padding = MAX_BODY_BYTES - Buffer.byteLength(JSON.stringify(body));
      body.batch.message = "x".repeat(padding);
      expect(Buffer.byteLength(JSON.stringify(body))).toBe(MAX_BODY_BYTES);

      const answer = await h.accept(triggerEvent({ body }));

      expect(answer.statusCode).toBe(202);
      expect(Buffer.byteLength(h.queue.peek()[0]!.body)).toBeLessThanOrEqual(256 * 1024);
    });

    it("answers 422 and queues nothing when the message is missing", async () => {
      expectRefused(
        await h.accept(triggerEvent({ body: batchWith({ message: undefined }) })),
        422,
        /batch\.message is required/,
      );
    });

    it("answers 422 and queues nothing when the message is not a string", async () => {
      expectRefused(
        await h.accept(triggerEvent({ body: batchWith({ message: 42 }) })),
        422,
        /batch\.message must be a string/,
      );
    });

    it("answers 422 and queues nothing when the message is blank", async () => {
      expectRefused(
        await h.accept(triggerEvent({ body: batchWith({ message: "   " }) })),
        422,
        /batch\.message must not be blank/,
      );
    });

    it("answers 422 and queues nothing when the body has no batch object", async () => {
      expectRefused(await h.accept(triggerEvent({ body: { message: "Hello, World!" } })), 422, /batch/);
      expectRefused(await h.accept(triggerEvent({ body: [PASSENTRY_EXAMPLE_BODY] })), 422);
    });

    it("answers 422 and queues nothing when both segments and recipients are given", async () => {
      const body = batchWith({ recipients: [{ externalId: "member-1" }] });
      expectRefused(await h.accept(triggerEvent({ body })), 422, /either segments or recipients/);
    });

    it("answers 422 and queues nothing when neither segments nor recipients are given", async () => {
      expectRefused(
        await h.accept(triggerEvent({ body: batchWith({ segments: undefined }) })),
        422,
        /either segments or recipients/,
      );
    });

    it("answers 422 and queues nothing when segments is empty", async () => {
      expectRefused(
        await h.accept(triggerEvent({ body: batchWith({ segments: [] }) })),
        422,
        /batch\.segments must not be empty/,
      );
    });

    it("answers 422 naming the limit, and queues nothing, for 10,001 recipients", async () => {
      const recipients = Array.from({ length: MAX_RECIPIENTS_PER_REQUEST + 1 }, (_, i) => ({ externalId: `m${i}` }));
      expectRefused(
        await h.accept(triggerEvent({ body: batchWith({ segments: undefined, recipients }) })),
        422,
        /at most 10000 recipients/,
      );
    });

    it("answers 422 and queues nothing when sendNow is combined with a scheduledAt", async () => {
      expectRefused(
        await h.accept(triggerEvent({ body: batchWith({ sendNow: true }) })),
        422,
        /sendNow cannot be combined with batch\.scheduledAt/,
      );
    });

    it("answers 422 and queues nothing when sendNow is not a boolean", async () => {
      expectRefused(
        await h.accept(triggerEvent({ body: batchWith({ scheduledAt: undefined, sendNow: "yes" }) })),
        422,
        /sendNow must be true or false/,
      );
    });

    it.each([
      ["words", "next friday"],
      ["a date without a time", "2030-03-31"],
      ["a time without a zone", "2030-03-31T13:16:26"],
      ["a number", 1900000000],
    ])("answers 422 and queues nothing when scheduledAt is %s", async (_what, scheduledAt) => {
      expectRefused(await h.accept(triggerEvent({ body: batchWith({ scheduledAt }) })), 422, /scheduledAt/);
    });

    it("answers 422 and queues nothing when scheduledAt is in the past", async () => {
      const oneMinuteAgo = new Date(h.clock.now() - 60_000).toISOString();
      expectRefused(await h.accept(triggerEvent({ body: batchWith({ scheduledAt: oneMinuteAgo }) })), 422, /future/);
      expectRefused(
        await h.accept(triggerEvent({ body: batchWith({ scheduledAt: "2020-01-01T00:00:00Z" }) })),
        422,
        /future/,
      );
    });

    it("lists every problem of a body at once", async () => {
      const answer = await h.accept(
        triggerEvent({ body: batchWith({ message: "", segments: [], scheduledAt: "soon" }) }),
      );

      expectRefused(answer, 422);
      expect(answer.body.errors).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/batch\.message/),
          expect.stringMatching(/batch\.segments/),
          expect.stringMatching(/scheduledAt/),
        ]),
      );
    });

    it.each([
      ["empty", ""],
      ["too long", "k".repeat(256)],
      ["holding a space", "order 42"],
      ["holding non-ASCII", "bestellung-ä"],
    ])("answers 400 and queues nothing when the Idempotency-Key is %s", async (_what, key) => {
      expectRefused(await h.accept(triggerEvent({ headers: { "idempotency-key": key } })), 400, /Idempotency-Key/);
    });

    it("answers 400 and queues nothing when the entity id is longer than the queue message allows", async () => {
      expectRefused(await h.accept(triggerEvent({ entityId: "e".repeat(201) })), 400, /entity id/);
    });

    it("answers 400 and queues nothing when the path names no entity", async () => {
      expectRefused(await h.accept(triggerEvent({ entityId: " " })), 400, /entity/);
    });

    it("checks the API key before anything else, so an unauthenticated caller learns nothing about the body", async () => {
      expectRefused(await h.accept(triggerEvent({ rawBody: "{oops", headers: { authorization: undefined } })), 401);
    });
  });

  describe("idempotency", () => {
    it("answers a retry with the same key and body with the same 202 and queues nothing more", async () => {
      const first = await h.accept(triggerEvent({ headers: { "idempotency-key": "order-1001" } }));
      const retry = await h.accept(triggerEvent({ headers: { "idempotency-key": "order-1001" } }));

      expect(first.statusCode).toBe(202);
      expect(retry.statusCode).toBe(202);
      expect(retry.body.data.id).toBe(first.body.data.id);
      expect(retry.body.links.self).toBe(first.body.links.self);
      expect(retry.headers.location).toBe(first.headers.location);
      expect(retry.headers["idempotent-replayed"]).toBe("true");
      expect(h.queuedBodies()).toHaveLength(1);
      expect(h.storedRequestCount()).toBe(1);
    });

    it("treats the same body with its JSON keys reordered as the same request", async () => {
      const reordered = {
        batch: {
          scheduledAt: "2030-03-31T13:16:26Z",
          segments: [{ groupTag: "summerPromotion" }],
          message: "Hello, World!",
        },
      };
      const first = await h.accept(triggerEvent({ headers: { "idempotency-key": "order-1002" } }));
      const retry = await h.accept(triggerEvent({ body: reordered, headers: { "idempotency-key": "order-1002" } }));

      expect(retry.statusCode).toBe(202);
      expect(retry.body.data.id).toBe(first.body.data.id);
      expect(retry.headers["idempotent-replayed"]).toBe("true");
      expect(h.queuedBodies()).toHaveLength(1);
    });

    it("answers 422 when the same key comes with another body, and keeps the one queued message", async () => {
      const first = await h.accept(triggerEvent({ headers: { "idempotency-key": "order-1003" } }));
      const other = await h.accept(
        triggerEvent({ body: batchWith({ message: "Goodbye" }), headers: { "idempotency-key": "order-1003" } }),
      );

      expect(other.statusCode).toBe(422);
      expect(other.body.errors.join(" ")).toMatch(/Idempotency-Key was already used/);
      expect(h.queuedBodies()).toEqual([
        expect.objectContaining({ requestId: first.body.data.id, batch: PASSENTRY_EXAMPLE_BODY.batch }),
      ]);
      expect(h.storedRequestCount()).toBe(1);
    });

    it("answers 422 when the same key and body come for another entity", async () => {
      await h.accept(triggerEvent({ headers: { "idempotency-key": "order-1004" } }));
      const other = await h.accept(
        triggerEvent({ entityId: "ent_other", headers: { "idempotency-key": "order-1004" } }),
      );

      expect(other.statusCode).toBe(422);
      expect(h.queuedBodies()).toHaveLength(1);
    });

    it("answers 503 when the queue fails, then 202 with one queued message when the caller retries with the same key", async () => {
      h.acceptQueue.failNextSends(1);

      const first = await h.accept(triggerEvent({ headers: { "idempotency-key": "order-1005" } }));
      expect(first.statusCode).toBe(503);
      expect(first.body.errors.join(" ")).toMatch(/retry with the same Idempotency-Key/);
      expect(first.body.errors.join(" ")).not.toMatch(/ServiceUnavailable \(simulated\)/);
      expect(h.queuedBodies()).toEqual([]);

      const retry = await h.accept(triggerEvent({ headers: { "idempotency-key": "order-1005" } }));
      expect(retry.statusCode).toBe(202);
      expect(retry.headers["idempotent-replayed"]).toBe("true");
      expect(retry.body.data.attributes.status).toBe("queued");
      expect(retry.body.data.attributes.failureReason).toBeNull();
      expect(h.queuedBodies()).toEqual([expect.objectContaining({ requestId: retry.body.data.id })]);

      const again = await h.accept(triggerEvent({ headers: { "idempotency-key": "order-1005" } }));
      expect(again.body.data.id).toBe(retry.body.data.id);
      expect(h.queuedBodies()).toHaveLength(1);
    });

    it("treats calls without an Idempotency-Key as separate requests", async () => {
      const first = await h.accept(triggerEvent());
      const second = await h.accept(triggerEvent());

      expect(second.body.data.id).not.toBe(first.body.data.id);
      expect(h.queuedBodies()).toHaveLength(2);
    });
  });
});
