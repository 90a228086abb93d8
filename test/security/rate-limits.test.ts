/**
 * The embedded home's door (API Gateway's stage throttling stands in for it on AWS): an API key is
 * checked before the body is read, a token bucket per verified caller (the key's caller, whatever
 * the header's spelling; a signer or PassEntry once their signature is verified), failed
 * authentications limited per client address, a cap on what unverified signed requests may
 * buffer; 429 with `retry-after` before any handler runs; health checks never throttled.
 */
import type { IncomingMessage } from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { loadLocalConfig } from "../../functions/config.js";
import { clientAddressOf, RequestThrottle } from "../../local/request-throttle.js";
import { PASSENTRY_EXAMPLE_BODY } from "../support/events.js";
import { startSecuredStack, type SecuredStack } from "./stack-support.js";
import { nowSeconds, passEntryEventBody, passEntrySignature, standardWebhookHeaders } from "./webhook-support.js";

const TRIGGER = "/api/v1/entities/ent-42/messaging/wallet";
const EXAMPLE = JSON.stringify(PASSENTRY_EXAMPLE_BODY);

/**
 * Sends a request's head and only the first `sent` bytes of its body over a raw socket, and waits
 * up to `waitMs` for an answer: the status code, or undefined when the server is still waiting for
 * the rest of the body. The socket stays open (half-sent) until `close()`.
 */
async function halfSent(
  url: string,
  path: string,
  headers: Record<string, string>,
  declaredLength: number,
  sent: number,
  waitMs = 5_000,
  method = "POST",
) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let received = "";
  socket.on("data", (chunk) => (received += chunk.toString("latin1")));
  socket.on("error", () => undefined);
  const head = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    `Content-Length: ${declaredLength}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");
  socket.write(head);
  socket.write(Buffer.alloc(sent, 0x20));
  const until = Date.now() + waitMs;
  while (!received.includes("\r\n") && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
  return { status: status === undefined ? undefined : Number(status), close: () => socket.destroy() };
}

const fakeRequest = (authorization: string | undefined, address = "192.0.2.7") =>
  ({
    headers: authorization ? { authorization } : {},
    socket: { remoteAddress: address },
  }) as unknown as IncomingMessage;

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
    expect([throttle.take("a"), throttle.take("a"), throttle.take("a")].map((d) => d.allowed)).toEqual([
      true,
      true,
      false,
    ]);
  });

  it("keeps callers apart, and forgets the least recently seen beyond its bound", () => {
    const throttle = new RequestThrottle({ ratePerSecond: 1, burst: 1, now: () => 0, maxCallers: 2 });
    throttle.take("a");

    expect(throttle.take("b")).toEqual({ allowed: true });
    expect(throttle.take("a").allowed).toBe(false);
    throttle.take("c"); // "b" is now the least recently seen and is forgotten
    expect(throttle.take("b")).toEqual({ allowed: true });
  });

  it("tells client addresses apart by the socket's address, never by a header the client chose", () => {
    const forwarded = {
      ...fakeRequest(undefined, "192.0.2.7"),
      headers: { "x-forwarded-for": "198.51.100.1" },
    } as unknown as IncomingMessage;

    expect(clientAddressOf(fakeRequest(undefined, "192.0.2.7"))).toBe("192.0.2.7");
    expect(clientAddressOf(forwarded)).toBe("192.0.2.7");
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
    s = await startSecuredStack({
      rateLimit: { ratePerSecond: 0.05, burst: 3 },
      API_KEYS: `crm:${"crm-key-rl-0001"},shop:${"shop-key-rl-0002"}`,
      startWorkers: false,
    });
    const post = (key: string) =>
      s!.request("POST", "/api/v1/entities/ent-42/messaging/wallet", JSON.stringify(PASSENTRY_EXAMPLE_BODY), {
        "content-type": "application/json",
        authorization: `Bearer ${key}`,
      });

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

  it("limits PassEntry's verified webhooks as one caller of their own, apart from the keys at the same address", async () => {
    s = await startSecuredStack({ rateLimit: { ratePerSecond: 0.05, burst: 2 }, startWorkers: false });
    const deliver = () => {
      const event = JSON.stringify(passEntryEventBody());
      return s!.request("POST", "/webhooks/passentry", event, {
        "content-type": "application/json",
        "x-webhook-signature": passEntrySignature(s!.passEntryWebhookSecret, event),
      });
    };

    const answers = [await deliver(), await deliver(), await deliver()];
    const keyed = await s.request("POST", TRIGGER, EXAMPLE, {
      "content-type": "application/json",
      authorization: `Bearer ${s.apiKey}`,
    });

    expect(answers.map((a) => a.status)).toEqual([202, 202, 429]);
    expect(keyed.status).toBe(202);
    expect(s.stack.queue.peek()).toHaveLength(3);
  });

  it("counts every spelling of one key as one caller: whitespace and the case of `Bearer` buy no extra requests", async () => {
    s = await startSecuredStack({
      rateLimit: { ratePerSecond: 0.05, burst: 3 },
      API_KEYS: "crm:crm-key-rl-0001",
      startWorkers: false,
    });
    const spellings = [
      "Bearer crm-key-rl-0001",
      "bearer crm-key-rl-0001",
      "BEARER\tcrm-key-rl-0001",
      "Bearer   crm-key-rl-0001",
      "bEaReR crm-key-rl-0001",
    ];

    const answers = [];
    for (const authorization of spellings)
      answers.push(await s.request("POST", TRIGGER, EXAMPLE, { "content-type": "application/json", authorization }));

    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 429, 429]);
    expect(s.stack.queue.peek()).toHaveLength(3);
  });

  it("limits failed authentications per client address, then refuses that address's unverified requests before reading them", async () => {
    s = await startSecuredStack({
      rateLimit: { ratePerSecond: 100, burst: 100 },
      authFailureLimit: { ratePerSecond: 0.05, burst: 3 },
      startWorkers: false,
    });
    const post = (headers: Record<string, string>) =>
      s!.request("POST", TRIGGER, EXAMPLE, { "content-type": "application/json", ...headers });

    const guesses = [];
    for (let i = 0; i < 5; i++) guesses.push(await post({ authorization: `Bearer guess-${i}` }));
    const signedDuringLockout = await post(
      standardWebhookHeaders(s.signingSecret, "msg_lockout", nowSeconds(), EXAMPLE),
    );
    const validDuringLockout = await post({ authorization: `Bearer ${s.apiKey}` });
    const health = await fetch(`${s.stack.url}/health`);

    expect(guesses.map((a) => a.status)).toEqual([401, 401, 401, 429, 429]);
    expect(JSON.parse(guesses[3]!.text).errors[0]).toMatch(
      /Too many failed authentications from this address; retry after \d+ s\./,
    );
    expect(Number(guesses[3]!.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    // Guessing must stay slow even for a right guess: a key is not even compared while the address is locked out.
    expect([signedDuringLockout.status, validDuringLockout.status]).toEqual([429, 429]);
    expect(health.status).toBe(200);
    expect(s.stack.queue.peek()).toHaveLength(0);
  });

  it("answers a wrong or missing key at once with 401, without waiting for (or buffering) the body", async () => {
    s = await startSecuredStack({ startWorkers: false });
    const json = { "content-type": "application/json" };

    const wrongKey = await halfSent(
      s.stack.url,
      TRIGGER,
      { ...json, authorization: "Bearer not-a-key" },
      255_000,
      1_000,
    );
    const noKey = await halfSent(s.stack.url, TRIGGER, json, 255_000, 1_000);
    const cancel = await halfSent(
      s.stack.url,
      "/api/v1/requests/anything",
      { ...json, authorization: "Bearer not-a-key" },
      255_000,
      1_000,
      5_000,
      "DELETE",
    );
    for (const socket of [wrongKey, noKey, cancel]) socket.close();

    expect([wrongKey.status, noKey.status, cancel.status]).toEqual([401, 401, 401]);
  });

  it("caps what unverified signed requests may buffer per client address, refusing more with 429 before their bodies", async () => {
    s = await startSecuredStack({
      unverifiedBodyLimit: { perAddressBytes: 600_000, totalBytes: 2_000_000 },
      startWorkers: false,
    });
    const signedHead = {
      "content-type": "application/json",
      ...standardWebhookHeaders(s.signingSecret, "msg_half", nowSeconds(), EXAMPLE),
    };

    // Act: two half-sent 255 KB bodies fill this address's allowance (the server waits for the rest,
    // so no answer comes); a third finds none left.
    const held = [
      await halfSent(s.stack.url, TRIGGER, signedHead, 255_000, 100_000, 1_000),
      await halfSent(s.stack.url, TRIGGER, signedHead, 255_000, 100_000, 1_000),
    ];
    const third = await halfSent(s.stack.url, TRIGGER, signedHead, 255_000, 100_000);
    const webhook = await halfSent(
      s.stack.url,
      "/webhooks/passentry",
      { "content-type": "application/json", "x-webhook-signature": "0".repeat(64) },
      255_000,
      100_000,
    );
    const keyed = await s.request("POST", TRIGGER, EXAMPLE, {
      "content-type": "application/json",
      authorization: `Bearer ${s.apiKey}`,
    });
    for (const socket of [...held, third, webhook]) socket.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const signedAfterwards = await s.request("POST", TRIGGER, EXAMPLE, {
      "content-type": "application/json",
      ...standardWebhookHeaders(s.signingSecret, "msg_after", nowSeconds(), EXAMPLE),
    });

    // Assess
    expect(held.map((h) => h.status)).toEqual([undefined, undefined]);
    expect([third.status, webhook.status]).toEqual([429, 429]);
    expect(keyed.status).toBe(202);
    // Aborted bodies give their allowance back.
    expect(signedAfterwards.status).toBe(202);
  });

  it("with the default limits, accepts one verified caller's burst of 1,000 requests sent 200 at a time, and still contains a runaway", async () => {
    // Prepare: the configured defaults, on a clock that stands still so no token is refilled mid-test.
    const config = loadLocalConfig({});
    const frozen = Date.now();
    s = await startSecuredStack({
      rateLimit: { ratePerSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST },
      clock: { now: () => frozen },
      startWorkers: false,
    });
    const post = () =>
      s!.request("POST", TRIGGER, EXAMPLE, {
        "content-type": "application/json",
        authorization: `Bearer ${s!.apiKey}`,
      });

    // Act
    const burst: number[] = [];
    for (let round = 0; round < 5; round++)
      burst.push(...(await Promise.all(Array.from({ length: 200 }, post))).map((a) => a.status));
    const runaway = (await Promise.all(Array.from({ length: 200 }, post))).map((a) => a.status);

    // Assess
    expect(burst.filter((status) => status !== 202)).toEqual([]);
    expect(s.stack.queue.peek()).toHaveLength(1_000);
    expect(runaway.filter((status) => status === 429)).toHaveLength(200);
  });
});
