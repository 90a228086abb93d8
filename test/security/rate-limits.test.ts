/**
 * Per-caller rate limits of the embedded home (API Gateway's throttling stands in for them on AWS):
 * a token bucket per API key, or per client address for callers without one; 429 with
 * `retry-after` before any handler runs; health checks never throttled.
 */
import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { callerOf, RequestThrottle } from "../../local/request-throttle.js";
import { PASSENTRY_EXAMPLE_BODY } from "../support/events.js";
import { startSecuredStack, type SecuredStack } from "./stack-support.js";
import { passEntryEventBody, passEntrySignature } from "./webhook-support.js";

const fakeRequest = (authorization: string | undefined, address = "192.0.2.7") =>
  ({ headers: authorization ? { authorization } : {}, socket: { remoteAddress: address } }) as unknown as IncomingMessage;

describe("RequestThrottle", () => {
  it("lets a burst through, then refuses with the seconds until the next token", () => {
    let now = 0;
    const throttle = new RequestThrottle({ ratePerSecond: 2, burst: 3, now: () => now });

    const burst = [1, 2, 3].map(() => throttle.take("a"));
    const refused = throttle.take("a");

    expect(burst).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1 });
    now = 500;
    expect(throttle.take("a")).toEqual({ allowed: true });
  });

  it("refills at the sustained rate and never above the burst", () => {
    let now = 0;
    const throttle = new RequestThrottle({ ratePerSecond: 0.25, burst: 2, now: () => now });
    throttle.take("a");
    throttle.take("a");

    expect(throttle.take("a")).toEqual({ allowed: false, retryAfterSeconds: 4 });
    now = 3_600_000;
    expect([throttle.take("a"), throttle.take("a"), throttle.take("a")].map((d) => d.allowed)).toEqual([true, true, false]);
  });

  it("keeps callers apart, and forgets the least recently seen beyond its bound", () => {
    const throttle = new RequestThrottle({ ratePerSecond: 1, burst: 1, now: () => 0, maxCallers: 2 });
    throttle.take("a");

    expect(throttle.take("b")).toEqual({ allowed: true });
    expect(throttle.take("a").allowed).toBe(false);
    throttle.take("c"); // "b" is now the least recently seen and is forgotten
    expect(throttle.take("b")).toEqual({ allowed: true });
  });

  it("tells callers by a digest of their key (never the key) or, without one, by address", () => {
    const keyed = callerOf(fakeRequest("Bearer secret-key-123"));

    expect(keyed).toMatch(/^key:[A-Za-z0-9_-]{22}$/);
    expect(keyed).not.toContain("secret-key-123");
    expect(callerOf(fakeRequest("Bearer other-key"))).not.toBe(keyed);
    expect(callerOf(fakeRequest(undefined))).toBe("ip:192.0.2.7");
  });
});

describe("rate limits in the local stack", () => {
  let s: SecuredStack | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  it("answers 429 with retry-after once a key's burst is spent, queueing nothing, while other keys and health checks go on", async () => {
    // Prepare: a slow refill, so timing on a busy machine cannot hand out a token mid-test.
    s = await startSecuredStack({ rateLimit: { ratePerSecond: 0.05, burst: 3 }, apiKeys: `crm:${"crm-key-rl-0001"},shop:${"shop-key-rl-0002"}`, startWorkers: false });
    const post = (key: string) =>
      s!.request("POST", "/api/v1/entities/ent-42/messaging/wallet", JSON.stringify(PASSENTRY_EXAMPLE_BODY), { "content-type": "application/json", authorization: `Bearer ${key}` });

    // Act
    const crm = [];
    for (let i = 0; i < 5; i++) crm.push(await post("crm-key-rl-0001"));
    const shop = await post("shop-key-rl-0002");
    const health = await Promise.all([1, 2, 3, 4, 5].map(() => fetch(`${s!.stack.url}/health`)));

    // Assess
    expect(crm.map((a) => a.status)).toEqual([202, 202, 202, 429, 429]);
    expect(Number(crm[3]!.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(crm[3]!.text).errors[0]).toMatch(/Too many requests; retry after \d+ s\./);
    expect(crm[3]!.text).not.toContain("crm-key-rl-0001");
    expect(shop.status).toBe(202);
    expect(health.map((h) => h.status)).toEqual([200, 200, 200, 200, 200]);
    expect(s.stack.queue.peek()).toHaveLength(4);
  });

  it("limits unauthenticated callers (PassEntry's webhooks) by client address", async () => {
    s = await startSecuredStack({ rateLimit: { ratePerSecond: 0.05, burst: 2 }, startWorkers: false });
    const deliver = () => {
      const event = JSON.stringify(passEntryEventBody());
      return s!.request("POST", "/webhooks/passentry", event, { "content-type": "application/json", "x-webhook-signature": passEntrySignature(s!.passEntryWebhookSecret, event) });
    };

    const answers = [await deliver(), await deliver(), await deliver()];

    expect(answers.map((a) => a.status)).toEqual([202, 202, 429]);
    expect(s.stack.queue.peek()).toHaveLength(2);
  });
});
