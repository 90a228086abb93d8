/**
 * Refusals that say what really went wrong and how to fix it, and HEAD answered like GET: HTTP
 * against the local stack (`npm start`'s pipeline) with a key, an operator and a signer, counting
 * what reached the queue and the PassEntry sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSecuredStack, type SecuredStack } from "../security/stack-support.js";
import { nowSeconds, standardWebhookHeaders } from "../security/webhook-support.js";

let s: SecuredStack;
beforeAll(async () => {
  s = await startSecuredStack({ startWorkers: false });
});
afterAll(async () => {
  await s.stop();
});

const JSON_TYPE = { "content-type": "application/json" };
const asKey = (extra: Record<string, string> = {}) => ({ ...JSON_TYPE, authorization: `Bearer ${s.apiKey}`, ...extra });
const trigger = (entity: string) => `/api/v1/entities/${entity}/messaging/wallet`;
const body = (message: string) =>
  JSON.stringify({ batch: { message, segments: [{ groupTag: "vip" }], scheduledAt: "2030-03-31T13:16:26Z" } });
const errorsOf = (text: string): string[] => (JSON.parse(text) as { errors: string[] }).errors;
const queued = () => s.stack.queue.peek().length;

describe("an Idempotency-Key or webhook-id used again", () => {
  it("says the key was used for another entity when only the entity differs, queueing nothing", async () => {
    const first = await s.request("POST", trigger("e1"), body("Same body"), asKey({ "idempotency-key": "order-e1" }));
    const before = queued();

    const second = await s.request("POST", trigger("e2"), body("Same body"), asKey({ "idempotency-key": "order-e1" }));

    expect(first.status).toBe(202);
    expect(second.status).toBe(422);
    const [problem] = errorsOf(second.text);
    expect(problem).toContain("entity e1");
    expect(problem).toContain("new Idempotency-Key");
    expect(problem).not.toContain("different request body");
    expect(queued()).toBe(before);
  });

  it("still says the body differs when the entity is the same", async () => {
    await s.request("POST", trigger("e1"), body("First"), asKey({ "idempotency-key": "order-body" }));

    const second = await s.request("POST", trigger("e1"), body("Second"), asKey({ "idempotency-key": "order-body" }));

    expect(second.status).toBe(422);
    expect(errorsOf(second.text)[0]).toMatch(/Idempotency-Key was already used with a different request body/);
  });

  it("tells a signer its webhook-id was already used for another body, and to send a new webhook-id", async () => {
    const firstBody = body("Signed first");
    const otherBody = body("Signed other");
    const first = await s.request("POST", trigger("e1"), firstBody, {
      ...JSON_TYPE,
      ...standardWebhookHeaders(s.signingSecret, "msg_reused", nowSeconds(), firstBody),
    });
    const before = queued();

    const second = await s.request("POST", trigger("e1"), otherBody, {
      ...JSON_TYPE,
      ...standardWebhookHeaders(s.signingSecret, "msg_reused", nowSeconds(), otherBody),
    });

    expect(first.status).toBe(202);
    expect(second.status).toBe(422);
    const [problem] = errorsOf(second.text);
    expect(problem).toContain("webhook-id");
    expect(problem).toContain("signer shop");
    expect(problem).toContain("new webhook-id");
    expect(problem).not.toContain("Idempotency-Key");
    expect(queued()).toBe(before);
  });
});

describe("a body that is not what the trigger takes", () => {
  it("says a syntax error is not valid JSON, where, and what the body must look like", async () => {
    const answer = await s.request("POST", trigger("e1"), '{"batch": {"message": "Hi",}}', asKey());

    expect(answer.status).toBe(400);
    const [problem] = errorsOf(answer.text);
    expect(problem).toMatch(/not valid JSON/);
    expect(problem).toMatch(/position 27 \(line 1, column 28\)/);
    expect(problem).toContain('{"batch":{');
  });

  it("says where a body that ends early stops", async () => {
    const answer = await s.request("POST", trigger("e1"), '{"batch": {\n  "message": "Hi"', asKey());

    expect(answer.status).toBe(400);
    expect(errorsOf(answer.text)[0]).toMatch(/not valid JSON: it ends before the JSON is complete/);
  });

  it.each([["null"], ["[]"], ['"x"'], ["42"]])("says a body of %s must be a JSON object with a batch", async (text) => {
    const before = queued();

    const answer = await s.request("POST", trigger("e1"), text, asKey());

    expect(answer.status).toBe(422);
    const [problem] = errorsOf(answer.text);
    expect(problem).toMatch(/must be a JSON object with a "batch"/);
    expect(problem).not.toMatch(/Invalid input/);
    expect(queued()).toBe(before);
  });

  it("refuses a number JSON would round (past 2^53), wherever it is, rather than send to another pass", async () => {
    const bodies: [string, string][] = [
      [
        '{"batch":{"message":"Hi","recipients":[{"extId":12345678901234567}],"scheduledAt":"2030-03-31T13:16:26Z"}}',
        "batch.recipients.0.extId",
      ],
      [
        '{"batch":{"message":"Hi","recipients":[{"passId":123456789012345678901234567890}],"scheduledAt":"2030-03-31T13:16:26Z"}}',
        "batch.recipients.0.passId",
      ],
      [
        '{"batch":{"message":"Hi","recipients":[{"passId":"p-1","variables":{"points":-9007199254740993}}],"scheduledAt":"2030-03-31T13:16:26Z"}}',
        "batch.recipients.0.variables.points",
      ],
    ];
    for (const [text, path] of bodies) {
      const before = queued();
      const answer = await s.request("POST", trigger("e1"), text, asKey());
      expect(answer.status, text).toBe(400);
      const [problem] = errorsOf(answer.text);
      expect(problem).toContain(path);
      expect(problem).toMatch(/rounded/);
      expect(problem).toMatch(/as text/);
      expect(queued()).toBe(before);
    }
    // The largest integer JSON keeps exactly still passes, as does a long id sent as text.
    for (const id of ["9007199254740991", '"12345678901234567"']) {
      const answer = await s.request(
        "POST",
        trigger("e1"),
        `{"batch":{"message":"Hi","recipients":[{"extId":${id}}],"scheduledAt":"2030-03-31T13:16:26Z"}}`,
        asKey(),
      );
      expect(answer.status, id).toBe(202);
    }
  });

  it("says a pass id too large to be a number is not representable, and to send it as text", async () => {
    const text = '{"batch":{"message":"Hi","recipients":[{"passId":1e400}],"scheduledAt":"2030-03-31T13:16:26Z"}}';
    const before = queued();

    const answer = await s.request("POST", trigger("e1"), text, asKey());

    expect(answer.status).toBe(400);
    const [problem] = errorsOf(answer.text);
    expect(problem).toContain("batch.recipients.0.passId");
    expect(problem).toMatch(/cannot be represented/);
    expect(problem).toMatch(/as text/);
    expect(queued()).toBe(before);
  });

  it.each([
    [
      '{"batch":{"message":"Hi %{points}","recipients":[{"passId":"p-1","variables":{"points": 1E+999}}]}}',
      "batch.recipients.0.variables.points",
    ],
    ['{"batch":{"message":"Hi","segments":[{"groupTag":"vip","rank":[-12.5e400]}]}}', "batch.segments.0.rank.0"],
    [`{"batch":{"message":"Hi","recipients":[{"passId":1${"0".repeat(309)}}]}}`, "batch.recipients.0.passId"],
  ])("names any number that cannot be represented, wherever it is (%#)", async (text, path) => {
    const answer = await s.request("POST", trigger("e1"), text, asKey());

    expect(answer.status).toBe(400);
    expect(errorsOf(answer.text)[0]).toContain(`${path} is a number that cannot be represented`);
  });
});

describe("HEAD on the local server", () => {
  it("answers HEAD /health like GET, without a body", async () => {
    const get = await fetch(`${s.stack.url}/health`);
    const head = await fetch(`${s.stack.url}/health`, { method: "HEAD" });

    expect(head.status).toBe(200);
    expect(head.status).toBe(get.status);
    expect(head.headers.get("content-type")).toBe(get.headers.get("content-type"));
    expect(await head.text()).toBe("");
  });

  it("answers HEAD on a key-guarded GET route as GET would: 401 without a key, 200 with one", async () => {
    const without = await fetch(`${s.stack.url}/api/v1/requests`, { method: "HEAD" });
    const withKey = await fetch(`${s.stack.url}/api/v1/requests`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${s.apiKey}` },
    });

    expect(without.status).toBe(401);
    expect(withKey.status).toBe(200);
    expect(await withKey.text()).toBe("");
  });

  it("still refuses HEAD where there is no GET, naming the methods there are", async () => {
    const answer = await fetch(`${s.stack.url}/webhooks/passentry`, { method: "HEAD" });

    expect(answer.status).toBe(405);
    expect(answer.headers.get("allow")).toBe("POST");
  });
});
