/**
 * The trigger route taking Standard Webhooks signatures instead of an API key: asserted by what the
 * caller got back, what the queue holds and what was stored.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeAcceptHandler } from "../../functions/handlers/accept.js";
import { PASSENTRY_EXAMPLE_BODY, triggerEvent } from "../support/events.js";
import {
  CRM_SIGNER,
  CRM_SIGNING_SECRET,
  handlerRig,
  nowSeconds,
  SHOP_SIGNER,
  SHOP_SIGNING_SECRET,
  standardWebhookHeaders,
  TEST_API_KEY,
  TEST_API_KEY_NAME,
  type HandlerRig,
} from "../security/webhook-support.js";

let rig: HandlerRig;
let accept: ReturnType<typeof makeAcceptHandler>;
beforeEach(() => {
  rig = handlerRig();
  accept = makeAcceptHandler(() => rig.http);
});
afterEach(() => rig.close());

const EXAMPLE_TEXT = JSON.stringify(PASSENTRY_EXAMPLE_BODY);

/** A trigger event signed by `secret`, carrying no API key. */
function signedTrigger(
  options: {
    secret?: string;
    id?: string;
    timestamp?: number;
    text?: string;
    signedText?: string;
    base64?: boolean;
    headers?: Record<string, string | undefined>;
  } = {},
) {
  const text = options.text ?? EXAMPLE_TEXT;
  const headers = standardWebhookHeaders(
    options.secret ?? SHOP_SIGNING_SECRET,
    options.id ?? "msg_2Lp0001",
    options.timestamp ?? nowSeconds(),
    options.signedText ?? text,
  );
  return triggerEvent({
    rawBody: text,
    base64: options.base64,
    headers: { authorization: undefined, ...headers, ...options.headers },
  });
}

const parse = (answer: Awaited<ReturnType<typeof accept>>) => ({ ...answer, body: JSON.parse(answer.body as string) });

describe("accept handler with Standard Webhooks signatures", () => {
  it("accepts a signed request without an API key and records the signer as its caller", async () => {
    const answer = parse(await accept(signedTrigger()));

    expect(answer.statusCode).toBe(202);
    expect(answer.body.data.attributes).toMatchObject({ caller: `signer:${SHOP_SIGNER}`, apiKeyName: SHOP_SIGNER });
    expect(rig.queued()).toHaveLength(1);
    expect(rig.queued()[0]).toMatchObject({
      requestId: answer.body.data.id,
      batch: PASSENTRY_EXAMPLE_BODY.batch,
      source: "http",
    });
    expect((await rig.store.get(answer.body.data.id))?.caller).toBe(`signer:${SHOP_SIGNER}`);
  });

  it("tells signers apart by the secret that verified", async () => {
    const answer = parse(await accept(signedTrigger({ secret: CRM_SIGNING_SECRET })));

    expect(answer.body.data.attributes.caller).toBe(`signer:${CRM_SIGNER}`);
  });

  it("verifies the raw bytes when API Gateway delivered the body base64-encoded", async () => {
    const answer = parse(await accept(signedTrigger({ base64: true })));

    expect(answer.statusCode).toBe(202);
    expect(rig.queued()).toHaveLength(1);
  });

  it("answers a redelivery of the same webhook-id with the first answer and queues nothing more", async () => {
    const first = parse(await accept(signedTrigger({ id: "msg_redelivered", timestamp: nowSeconds() - 60 })));
    // Senders retry with the same id, a fresh timestamp and a fresh signature.
    const again = parse(await accept(signedTrigger({ id: "msg_redelivered", timestamp: nowSeconds() })));

    expect(again.statusCode).toBe(202);
    expect(again.body.data.id).toBe(first.body.data.id);
    expect(again.headers?.["idempotent-replayed"]).toBe("true");
    expect(rig.queued()).toHaveLength(1);
  });

  it("refuses a different body under a webhook-id already used (422), queueing nothing", async () => {
    await accept(signedTrigger({ id: "msg_same_id" }));
    const other = JSON.stringify({ batch: { ...PASSENTRY_EXAMPLE_BODY.batch, message: "Another message" } });

    const answer = parse(await accept(signedTrigger({ id: "msg_same_id", text: other })));

    expect(answer.statusCode).toBe(422);
    expect(answer.body.errors.join(" ")).toMatch(
      /webhook-id was already used by signer [^ ]+ with a different request body: send a new webhook-id/,
    );
    expect(rig.queued()).toHaveLength(1);
  });

  it("dedupes on the signed webhook-id, whatever an unsigned Idempotency-Key header says", async () => {
    // Prepare: one signed request, replayed with fresh Idempotency-Keys, which the signature does not cover.
    const first = parse(await accept(signedTrigger({ id: "msg_a", headers: { "idempotency-key": "order-1001" } })));

    // Act
    const replays = [];
    for (const key of ["order-1002", "order-1003"])
      replays.push(parse(await accept(signedTrigger({ id: "msg_a", headers: { "idempotency-key": key } }))));
    const another = parse(await accept(signedTrigger({ id: "msg_b", headers: { "idempotency-key": "order-1001" } })));

    // Assess
    for (const replay of replays) expect(replay.body.data.id).toBe(first.body.data.id);
    expect((await rig.store.get(first.body.data.id))?.idempotencyKey).toBe("msg_a");
    expect(another.body.data.id).not.toBe(first.body.data.id);
    expect(rig.queued()).toHaveLength(2);
  });

  it("refuses a tampered body, a stale timestamp, a foreign secret and a partial header set with 401, queueing nothing", async () => {
    const attempts = [
      signedTrigger({ signedText: EXAMPLE_TEXT.replace("Hello", "Hallo") }),
      signedTrigger({ timestamp: nowSeconds() - 6 * 60 }),
      signedTrigger({ secret: `whsec_${Buffer.from("somebody-elses-secret-xyz").toString("base64")}` }),
      signedTrigger({ headers: { "webhook-signature": undefined } }),
      signedTrigger({ headers: { "webhook-timestamp": "yesterday" } }),
    ];

    for (const event of attempts) {
      const answer = parse(await accept(event));
      expect(answer.statusCode).toBe(401);
      expect(answer.body.errors).toEqual([expect.any(String)]);
    }
    expect(rig.queued()).toEqual([]);
  });

  it("does not fall back to a valid API key when the signature headers are present but wrong", async () => {
    const event = signedTrigger({ signedText: "{}", headers: { authorization: `Bearer ${TEST_API_KEY}` } });

    expect((await accept(event)).statusCode).toBe(401);
    expect(rig.queued()).toEqual([]);
  });

  it("refuses signed requests when no signing secret is configured", async () => {
    rig.secrets.set("webhook-signing-secrets", "");

    expect((await accept(signedTrigger())).statusCode).toBe(401);
  });

  it("keeps accepting API keys, and refuses a webhook-id that cannot be an idempotency key", async () => {
    const withKey = parse(await accept(triggerEvent({ headers: { authorization: `Bearer ${TEST_API_KEY}` } })));
    const badId = parse(await accept(signedTrigger({ id: "msg with spaces" })));

    expect(withKey.statusCode).toBe(202);
    expect(withKey.body.data.attributes.apiKeyName).toBe(TEST_API_KEY_NAME);
    expect(badId.statusCode).toBe(400);
    expect(rig.queued()).toHaveLength(1);
  });
});
