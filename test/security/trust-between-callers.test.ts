/**
 * Trust between callers, tried from the outside as a hostile or merely buggy caller would: over
 * loopback HTTP against the embedded home, with two named API keys (`crm`, `shop`), a signer that
 * shares a name with one of them (`crm`), an operator key, one automation and one promotion,
 * counting what the PassEntry sandbox received.
 *
 * - A captured signed request replayed with any extra headers sends nothing new.
 * - Neither key can read, cancel or collide with the other's requests (nor the signer's); a key
 *   taken ahead of time cannot suppress an automation.
 * - Promotion and automation requests (whose ids are predictable) are seen and cancelled by
 *   operators only, and a cancel records who cancelled.
 * - 1,000 empty recipients get a 422 and nothing is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Promotion } from "../../functions/core/promotions.js";
import { PASSENTRY_EXAMPLE_BODY } from "../support/events.js";
import { CANARY_SIGNING_SECRET, startSecuredStack, type HttpExchange, type SecuredStack } from "./stack-support.js";
import { nowSeconds, passEntryEventBody, passEntrySignature, standardWebhookHeaders } from "./webhook-support.js";

const CRM_KEY = "crm-key-trust-0001";
const SHOP_KEY = "shop-key-trust-0002";
const OPS_KEY = "ops-key-trust-0003";
const TRIGGER = "/api/v1/entities/ent-42/messaging/wallet";
const JSON_TYPE = { "content-type": "application/json" };

/** Every hour on the hour, queued two hours ahead: the trigger for the current hour always plans one occurrence. */
const HOURLY = Promotion.parse({
  id: "hourly-news",
  name: "Hourly news",
  enabled: true,
  cron: "0 * * * *",
  timeZone: "Europe/London",
  leadTimeMinutes: 120,
  entityId: "ent-42",
  message: "On the hour, every hour.",
  audience: { segments: [{ groupTag: "news" }] },
});

let s: SecuredStack;
beforeAll(async () => {
  s = await startSecuredStack({
    API_KEYS: `crm:${CRM_KEY},shop:${SHOP_KEY},operator:ops:${OPS_KEY}`,
    // A signer named like a key: they must still be two callers.
    WEBHOOK_SIGNING_SECRETS: `crm:${CANARY_SIGNING_SECRET}`,
    promotions: [HOURLY],
    // Batches stay `scheduled` at PassEntry, so a cancellation that got through would show.
    sandbox: { scheduledMs: Infinity },
    // The operator allows one top-level batch key beyond the contract, by name.
    ALLOWED_BATCH_KEYS: ["priority"],
  });
});
afterAll(async () => {
  await s.stop();
});

const as = (key: string, extra: Record<string, string> = {}) => ({
  ...JSON_TYPE,
  authorization: `Bearer ${key}`,
  ...extra,
});
const body = (message: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ batch: { ...PASSENTRY_EXAMPLE_BODY.batch, message, ...extra } });
const idOf = (answer: HttpExchange): string => JSON.parse(answer.text).data.id;
const attributesOf = (answer: HttpExchange) => JSON.parse(answer.text).data.attributes;
const batchesWith = (message: string) => s.sandbox.batches().filter((b) => b.message === message);
const view = (id: string, key: string) =>
  s.request("GET", `/api/v1/requests/${encodeURIComponent(id)}`, undefined, as(key));
const cancel = (id: string, key: string) =>
  s.request("DELETE", `/api/v1/requests/${encodeURIComponent(id)}`, undefined, as(key));

describe("trust between callers", () => {
  it("sends nothing new when a captured signed request is replayed with any extra headers", async () => {
    // Prepare: one signed request, captured as sent.
    const captured = body("Signed once");
    const signature = standardWebhookHeaders(s.signingSecret, "msg_captured_trust", nowSeconds(), captured);
    const first = await s.request("POST", TRIGGER, captured, { ...JSON_TYPE, ...signature });
    await s.stack.drained();

    // Act: replays within the signature's window, each with headers the signature does not cover.
    const extras: Record<string, string>[] = [
      { "idempotency-key": "replay-1" },
      { "idempotency-key": "replay-2" },
      { "idempotency-key": "replay-3" },
      { "idempotency-key": "replay-4", authorization: `Bearer ${CRM_KEY}` },
      { authorization: `Bearer ${OPS_KEY}` },
      { "x-forwarded-for": "198.51.100.7", "user-agent": "replayer/1.0" },
    ];
    const replays = [];
    for (const extra of extras)
      replays.push(await s.request("POST", TRIGGER, captured, { ...JSON_TYPE, ...signature, ...extra }));
    await s.stack.drained();

    // Assess
    expect(first.status).toBe(202);
    for (const replay of replays) {
      expect(replay.status, replay.text).toBe(202);
      expect(idOf(replay)).toBe(idOf(first));
      expect(replay.headers["idempotent-replayed"]).toBe("true");
    }
    expect(batchesWith("Signed once")).toHaveLength(1);
  });

  it("lets neither key read or cancel the other's request, nor the signer that shares a key's name", async () => {
    // Prepare: crm's request reaches PassEntry as a batch scheduled for 2030; the signer crm sends one too.
    const crms = await s.request("POST", TRIGGER, body("Only for crm"), as(CRM_KEY));
    const signed = body("Only for signer crm");
    const signers = await s.request("POST", TRIGGER, signed, {
      ...JSON_TYPE,
      ...standardWebhookHeaders(s.signingSecret, "msg_signer_crm", nowSeconds(), signed),
    });
    await s.stack.drained();

    // Act
    const shopReads = await view(idOf(crms), SHOP_KEY);
    const shopCancels = await cancel(idOf(crms), SHOP_KEY);
    const keyCrmReadsSigners = await view(idOf(signers), CRM_KEY);
    const keyCrmCancelsSigners = await cancel(idOf(signers), CRM_KEY);
    await s.stack.drained();

    // Assess: the same 404 as for an id that does not exist, and nothing cancelled at PassEntry.
    for (const answer of [shopReads, shopCancels, keyCrmReadsSigners, keyCrmCancelsSigners]) {
      expect(answer.status, answer.text).toBe(404);
      expect(answer.text).not.toContain("Only for");
    }
    expect(JSON.parse(shopReads.text).errors[0]).toBe(`No request has the id ${JSON.stringify(idOf(crms))}.`);
    expect(batchesWith("Only for crm")).toMatchObject([{ cancelledAt: null }]);
    expect(batchesWith("Only for signer crm")).toMatchObject([{ cancelledAt: null }]);
    const own = await view(idOf(crms), CRM_KEY);
    expect(own.status).toBe(200);
    expect(attributesOf(own)).toMatchObject({ caller: "key:crm", status: "submitted" });
    expect(attributesOf(await view(idOf(signers), OPS_KEY))).toMatchObject({ caller: "signer:crm" });
  });

  it("keeps idempotency keys apart: another caller's key neither replays nor refuses anything", async () => {
    // Prepare: crm uses two keys.
    const crmFirst = await s.request(
      "POST",
      TRIGGER,
      body("Order 7 for crm"),
      as(CRM_KEY, { "idempotency-key": "order-7" }),
    );
    await s.request("POST", TRIGGER, body("Order 8 for crm"), as(CRM_KEY, { "idempotency-key": "order-8" }));

    // Act: shop sends crm's first key with crm's very body, and crm's second key with a body of its own.
    const shopSameBody = await s.request(
      "POST",
      TRIGGER,
      body("Order 7 for crm"),
      as(SHOP_KEY, { "idempotency-key": "order-7" }),
    );
    const shopOtherBody = await s.request(
      "POST",
      TRIGGER,
      body("Order 8 for shop"),
      as(SHOP_KEY, { "idempotency-key": "order-8" }),
    );
    const crmRetry = await s.request(
      "POST",
      TRIGGER,
      body("Order 7 for crm"),
      as(CRM_KEY, { "idempotency-key": "order-7" }),
    );
    await s.stack.drained();

    // Assess
    expect([crmFirst.status, shopSameBody.status, shopOtherBody.status, crmRetry.status]).toEqual([202, 202, 202, 202]);
    expect(shopSameBody.headers["idempotent-replayed"]).toBeUndefined();
    expect(idOf(shopSameBody)).not.toBe(idOf(crmFirst));
    expect(attributesOf(shopSameBody).caller).toBe("key:shop");
    expect(idOf(crmRetry)).toBe(idOf(crmFirst));
    expect(crmRetry.headers["idempotent-replayed"]).toBe("true");
    expect(batchesWith("Order 7 for crm")).toHaveLength(2);
    expect(batchesWith("Order 8 for crm")).toHaveLength(1);
    expect(batchesWith("Order 8 for shop")).toHaveLength(1);
  });

  it("does not let a key taken ahead of time suppress an automation, whose request only operators see and cancel", async () => {
    // Prepare: shop guesses the automation's request id and takes it as its own Idempotency-Key.
    const eventId = "evt-trust-welcome";
    const automationRequestId = `auto-welcome-${eventId}`;
    const squat = await s.request(
      "POST",
      TRIGGER,
      body("Squatting"),
      as(SHOP_KEY, { "idempotency-key": automationRequestId }),
    );

    // Act
    const event = JSON.stringify(passEntryEventBody({ id: eventId, passId: "pass-trust-1" }));
    const delivered = await s.request("POST", "/webhooks/passentry", event, {
      ...JSON_TYPE,
      "x-webhook-signature": passEntrySignature(s.passEntryWebhookSecret, event),
    });
    await s.stack.drained();
    const crmReads = await view(automationRequestId, CRM_KEY);
    const shopCancels = await cancel(automationRequestId, SHOP_KEY);
    const opsReads = await view(automationRequestId, OPS_KEY);

    // Assess
    expect(squat.status).toBe(202);
    expect(JSON.parse(delivered.text).data.attributes.requests).toEqual([
      { automationId: "welcome", requestId: automationRequestId, outcome: "queued" },
    ]);
    expect(s.sandbox.batches().filter((b) => b.body.batch.recipients?.[0]?.passId === "pass-trust-1")).toHaveLength(1);
    expect([crmReads.status, shopCancels.status]).toEqual([404, 404]);
    expect(opsReads.status).toBe(200);
    expect(attributesOf(opsReads)).toMatchObject({ caller: "automation:welcome", source: "webhook" });
  });

  it("lets only operators see and cancel a promotion's request, and records who cancelled", async () => {
    // Prepare
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
    const planned = (await s.stack.planner({ promotionId: HOURLY.id, scheduledTime: hour })) as {
      occurrences: { requestId: string; outcome: string }[];
    };
    const requestId = planned.occurrences.find((o) => o.outcome === "queued")!.requestId;
    await s.stack.drained();

    // Act
    const crmReads = await view(requestId, CRM_KEY);
    const crmCancels = await cancel(requestId, CRM_KEY);
    const opsCancels = await cancel(requestId, OPS_KEY);
    await s.stack.drained();
    const afterwards = await view(requestId, OPS_KEY);

    // Assess
    expect([crmReads.status, crmCancels.status]).toEqual([404, 404]);
    expect(opsCancels.status).toBe(202);
    expect(attributesOf(afterwards)).toMatchObject({ caller: "schedule:hourly-news", cancelledBy: "operator:ops" });
    expect(typeof attributesOf(afterwards).cancelledAt).toBe("string");
    expect(s.sandbox.batches().filter((b) => b.message === HOURLY.message)).toMatchObject([{ status: "cancelled" }]);
  });

  it("refuses 1,000 empty recipients, or recipients with only variables, with 422 and sends nothing", async () => {
    // Prepare
    const before = s.sandbox.batches().length;
    const empty = JSON.stringify({
      batch: { message: "Fan out", recipients: Array.from({ length: 1_000 }, () => ({})) },
    });
    const onlyVariables = JSON.stringify({
      batch: { message: "Fan out %{x}", recipients: [{ variables: { x: "1" } }, { variables: { x: "2" } }] },
    });

    // Act
    const answers = [
      await s.request("POST", TRIGGER, empty, as(CRM_KEY)),
      await s.request("POST", TRIGGER, onlyVariables, as(OPS_KEY)),
    ];
    await s.stack.drained();

    // Assess
    for (const answer of answers) {
      expect(answer.status, answer.text).toBe(422);
      expect(JSON.parse(answer.text).errors.join(" ")).toMatch(/recipients\.0.*must name a pass/);
    }
    expect(s.sandbox.batches()).toHaveLength(before);
  });

  it("forwards a top-level batch key only when the operator allows it by name, and refuses the rest with 422", async () => {
    // Act
    const allowed = await s.request("POST", TRIGGER, body("With priority", { priority: "high" }), as(CRM_KEY));
    const smuggled = await s.request(
      "POST",
      TRIGGER,
      body("With entity", { priority: "high", entityId: "ent-everyone" }),
      as(CRM_KEY),
    );
    await s.stack.drained();

    // Assess
    expect(allowed.status).toBe(202);
    expect(batchesWith("With priority")[0]!.body.batch.priority).toBe("high");
    expect(smuggled.status).toBe(422);
    expect(JSON.parse(smuggled.text).errors.join(" ")).toMatch(/batch\.entityId/);
    expect(batchesWith("With entity")).toHaveLength(0);
  });
});
