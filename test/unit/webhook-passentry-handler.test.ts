/**
 * POST /webhooks/passentry: PassEntry's signed events turned into automation requests, asserted by
 * what PassEntry got back and what our queue holds.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAutomations, type Automation } from "../../functions/core/automations.js";
import { makePassEntryWebhookHandler } from "../../functions/handlers/passentry-webhook.js";
import {
  HANDLER_TEST_NOW,
  handlerRig,
  PASSENTRY_WEBHOOK_SECRET,
  PASSENTRY_WEBHOOK_SECRET_NEXT,
  passEntryEventBody,
  passEntrySignature,
  passEntryWebhookEvent,
  WELCOME_TEMPLATE_UUID,
  type HandlerRig,
  type WebhookEventOptions,
} from "../security/webhook-support.js";

const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const AUTOMATIONS = parseAutomations({
  automations: [
    {
      id: "welcome",
      on: "passInstalled",
      entityId: "ent-shop",
      message: "Welcome aboard, %{fullName}!",
      variableDefaults: { fullName: "friend" },
    },
    {
      id: "thanks",
      on: "passScanned",
      entityId: "ent-shop",
      message: "Thanks for visiting, %{fullName}.",
      delayMinutes: 120,
    },
    {
      id: "vip-only",
      on: "passCreated",
      entityId: "ent-vip",
      message: "Your VIP card is here.",
      passTemplateUuid: "vip-template",
    },
    { id: "switched-off", on: "passRemoved", entityId: "ent-shop", message: "Sorry to see you go.", enabled: false },
  ],
});

let rig: HandlerRig;
beforeEach(() => {
  rig = handlerRig();
});
afterEach(() => rig.close());

async function deliver(options: Partial<WebhookEventOptions> & { automations?: readonly Automation[] } = {}) {
  const handler = makePassEntryWebhookHandler(() => rig.webhook(options.automations ?? AUTOMATIONS));
  const answer = await handler(
    passEntryWebhookEvent({
      body: passEntryEventBody({ timeStamp: iso(HANDLER_TEST_NOW) }),
      secret: PASSENTRY_WEBHOOK_SECRET,
      ...options,
    }),
  );
  return { ...answer, body: JSON.parse(answer.body as string) };
}

describe("PassEntry webhook handler", () => {
  describe("automations", () => {
    it("queues one welcome message to the installed pass, with its name as a variable, under a request id made of automation and event", async () => {
      const body = passEntryEventBody({
        id: "evt-7f1c",
        passId: "pass-123",
        timeStamp: iso(HANDLER_TEST_NOW),
        passContent: { fullName: "Jane Smith", email: "jane@example.com" },
      });

      const answer = await deliver({ body });

      expect(answer.statusCode).toBe(202);
      expect(answer.body.data.attributes.requests).toEqual([
        { automationId: "welcome", requestId: "auto-welcome-evt-7f1c", outcome: "queued" },
      ]);
      expect(rig.queued()).toEqual([
        {
          requestId: "auto-welcome-evt-7f1c",
          entityId: "ent-shop",
          source: "webhook",
          acceptedAt: iso(HANDLER_TEST_NOW),
          batch: {
            message: "Welcome aboard, %{fullName}!",
            // Only the variables the message uses: the rest of the pass's content stays out of our queue.
            recipients: [{ passId: "pass-123", variables: { fullName: "Jane Smith" } }],
            name: "Automation welcome",
          },
        },
      ]);
    });

    it("fills a variable the pass lacks from the automation's defaults", async () => {
      await deliver({ body: passEntryEventBody({ passId: "p1", timeStamp: iso(HANDLER_TEST_NOW), passContent: {} }) });

      expect(rig.queued()[0].batch.recipients).toEqual([{ passId: "p1", variables: { fullName: "friend" } }]);
    });

    it("answers PassEntry's redelivery of an event as a duplicate and queues nothing more", async () => {
      const body = passEntryEventBody({ id: "evt-retried", timeStamp: iso(HANDLER_TEST_NOW) });

      await deliver({ body });
      const again = await deliver({ body });

      expect(again.statusCode).toBe(202);
      expect(again.body.data.attributes.requests).toEqual([
        { automationId: "welcome", requestId: "auto-welcome-evt-retried", outcome: "duplicate" },
      ]);
      expect(rig.queued()).toHaveLength(1);
    });

    it("schedules a delayed automation at event time + delay", async () => {
      const eventTime = HANDLER_TEST_NOW - 10 * MINUTE;

      await deliver({ body: passEntryEventBody({ type: "passScanned", timeStamp: iso(eventTime) }) });

      expect(rig.queued()[0].batch.scheduledAt).toBe(iso(eventTime + 120 * MINUTE).replace(".000Z", "Z"));
    });

    it("never schedules sooner than 65 minutes from now, since PassEntry needs an hour's notice", async () => {
      const lateDelivery = HANDLER_TEST_NOW - 100 * MINUTE;

      await deliver({ body: passEntryEventBody({ type: "passScanned", timeStamp: iso(lateDelivery) }) });

      expect(rig.queued()[0].batch.scheduledAt).toBe(iso(HANDLER_TEST_NOW + 65 * MINUTE).replace(".000Z", "Z"));
    });

    it("runs a template-limited automation only for passes of that template", async () => {
      await deliver({
        body: passEntryEventBody({
          type: "passCreated",
          passTemplateUuid: WELCOME_TEMPLATE_UUID,
          timeStamp: iso(HANDLER_TEST_NOW),
        }),
      });
      expect(rig.queued()).toEqual([]);

      await deliver({
        body: passEntryEventBody({
          type: "passCreated",
          passTemplateUuid: "vip-template",
          timeStamp: iso(HANDLER_TEST_NOW),
        }),
      });
      expect(rig.queued().map((m) => m.entityId)).toEqual(["ent-vip"]);
    });

    it("runs no disabled automation", async () => {
      const answer = await deliver({
        body: passEntryEventBody({ type: "passRemoved", timeStamp: iso(HANDLER_TEST_NOW) }),
      });

      expect(answer.statusCode).toBe(202);
      expect(answer.body.data.attributes).toMatchObject({ ignored: "no automation", requests: [] });
      expect(rig.queued()).toEqual([]);
    });

    it("accepts and ignores event types it does not know, so PassEntry stops retrying them", async () => {
      const answer = await deliver({
        body: passEntryEventBody({ type: "passTapped", timeStamp: iso(HANDLER_TEST_NOW) }),
      });

      expect(answer.statusCode).toBe(202);
      expect(answer.body.data.attributes).toMatchObject({
        webhookType: "passTapped",
        ignored: "unknown event type",
        requests: [],
      });
      expect(rig.queued()).toEqual([]);
    });

    it("acknowledges but does not act on an event older than 7 days: a replay after our records expire must not message anyone", async () => {
      const answer = await deliver({
        body: passEntryEventBody({ timeStamp: iso(HANDLER_TEST_NOW - 8 * 24 * 60 * MINUTE) }),
      });

      expect(answer.statusCode).toBe(202);
      expect(answer.body.data.attributes.ignored).toBe("too old");
      expect(rig.queued()).toEqual([]);
    });

    it("uses the pass from `included` when the event has no relationship, and ignores an event that names no pass", async () => {
      const body = passEntryEventBody({ passId: "only-included", timeStamp: iso(HANDLER_TEST_NOW) }) as any;
      delete body.data.relationships;
      await deliver({ body });
      expect(rig.queued()[0].batch.recipients[0].passId).toBe("only-included");

      const noPass = passEntryEventBody({ timeStamp: iso(HANDLER_TEST_NOW) }) as any;
      delete noPass.data.relationships;
      noPass.included = [];
      const answer = await deliver({ body: noPass });
      expect(answer.body.data.attributes.ignored).toBe("no pass");
      expect(rig.queued()).toHaveLength(1);
    });

    it("keeps unknown keys harmless: extra attributes and other included resources pass", async () => {
      const body = passEntryEventBody({ timeStamp: iso(HANDLER_TEST_NOW) }) as any;
      body.data.attributes.somethingNew = { nested: true };
      body.included.push({ id: 42, type: "entity", attributes: { name: "Shop" } });
      body.meta = { version: 2 };

      expect((await deliver({ body })).statusCode).toBe(202);
      expect(rig.queued()).toHaveLength(1);
    });

    it("answers 503 when the queue is briefly down, and PassEntry's retry then queues the message once", async () => {
      const body = passEntryEventBody({ id: "evt-queue-down", type: "passScanned", timeStamp: iso(HANDLER_TEST_NOW) });
      rig.acceptQueue.failNextSends(1);

      const failed = await deliver({ body });
      const retried = await deliver({ body });

      expect(failed.statusCode).toBe(503);
      expect(retried.statusCode).toBe(202);
      expect(retried.body.data.attributes.requests[0].outcome).toBe("queued");
      expect(rig.queued().map((m) => m.requestId)).toEqual(["auto-thanks-evt-queue-down"]);
    });
  });

  describe("signature", () => {
    it("accepts base64 signatures and the second secret during a rotation", async () => {
      const body = Buffer.from(JSON.stringify(passEntryEventBody({ timeStamp: iso(HANDLER_TEST_NOW) })));

      const base64 = await deliver({
        body,
        headers: { "x-webhook-signature": passEntrySignature(PASSENTRY_WEBHOOK_SECRET, body, "base64") },
      });
      const next = await deliver({
        body: passEntryEventBody({ timeStamp: iso(HANDLER_TEST_NOW) }),
        secret: PASSENTRY_WEBHOOK_SECRET_NEXT,
      });

      expect([base64.statusCode, next.statusCode]).toEqual([202, 202]);
      expect(rig.queued()).toHaveLength(2);
    });

    it("verifies the raw bytes when API Gateway delivered them base64-encoded", async () => {
      expect((await deliver({ base64: true })).statusCode).toBe(202);
    });

    it("refuses a missing, wrong or foreign signature with 401 and queues nothing", async () => {
      const attempts = [
        await deliver({ secret: undefined }),
        await deliver({ headers: { "x-webhook-signature": "deadbeef" } }),
        await deliver({ secret: "not-our-secret" }),
      ];

      expect(attempts.map((a) => a.statusCode)).toEqual([401, 401, 401]);
      for (const a of attempts) expect(a.body.errors).toEqual([expect.any(String)]);
      expect(rig.queued()).toEqual([]);
    });

    it("refuses everything when no PassEntry webhook secret is configured", async () => {
      rig.secrets.set("passentry-webhook-secrets", "");

      expect((await deliver()).statusCode).toBe(401);
    });
  });

  describe("malformed events", () => {
    it("answers 400 for signed bodies that are not JSON or not a PassEntry event, queueing nothing", async () => {
      for (const body of [
        "{not json",
        "[]",
        JSON.stringify({ data: { attributes: { webhookType: "passInstalled" } } }),
        JSON.stringify({ data: { id: "e", attributes: {} } }),
      ]) {
        const answer = await deliver({ body });
        expect(answer.statusCode, body).toBe(400);
      }
      expect(rig.queued()).toEqual([]);
    });

    it("answers 413 for a body over 256 KB, before verifying anything", async () => {
      const answer = await deliver({ body: "x".repeat(256 * 1024 + 1) });

      expect(answer.statusCode).toBe(413);
    });
  });
});
