/**
 * The PassEntry client classifies every answer (sent, retry, permanent, outcome unknown), reads retry-
 * after safely, refetches a rotated token once, and never puts the token in an error or a log.
 */
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import {
  parseRetryAfter,
  PassEntryHttpClient,
  ROUTE_CREATE_BATCH,
  ROUTE_SHOW_BATCH,
  type PassEntryHttpClientOptions,
} from "../../functions/adapters/passentry-http-client.js";
import { StaticSecretStore } from "../../functions/adapters/static-secret-store.js";
import { CircuitBreaker } from "../../functions/core/circuit-breaker.js";
import { PassEntryError } from "../../functions/core/errors.js";
import { Pacer } from "../../functions/core/pacer.js";
import type { WalletMessageBatch } from "../../functions/core/schemas.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "../../local/passentry-sandbox/sandbox.js";
import { CachingSecretStore } from "../support/harness.js";

/** Planted as the PassEntry token: it must never show up in an error. */
const TOKEN = "canary-token-XYZ";
const ENTITY_ID = "entity-1";
const BATCH: WalletMessageBatch = {
  message: "Happy hour starts at 5pm",
  segments: [{ groupTag: "summerPromotion" }],
  scheduledAt: "2030-03-31T13:16:26Z",
  name: "Friday promotion",
};

const sandboxes: Sandbox[] = [];

afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((sandbox) => sandbox.close()));
});

async function start(options: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = await startSandbox({ tokens: [TOKEN], ...options });
  sandboxes.push(sandbox);
  return sandbox;
}

function clientFor(baseUrl: string, options: Partial<PassEntryHttpClientOptions> = {}) {
  const secrets =
    options.secrets instanceof StaticSecretStore
      ? options.secrets
      : new StaticSecretStore({ "passentry-token": TOKEN });
  return new PassEntryHttpClient({ baseUrl, secrets, timeoutMs: 5_000, ...options });
}

/** The PassEntryError a call fails with; fails the test if it succeeds or fails otherwise. */
async function failureOf(call: Promise<unknown>): Promise<PassEntryError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`Expected a failure, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(PassEntryError);
  return outcome.error as PassEntryError;
}

/** Every way an error may end up in a log line or an HTTP answer. */
function renderings(error: unknown): string[] {
  const e = error as Error;
  return [
    e.message,
    String(e),
    e.stack ?? "",
    JSON.stringify(e),
    JSON.stringify({ ...e }),
    inspect(e, { depth: 10, showHidden: true }),
  ];
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("The condition was not met in time.");
    await sleep(10);
  }
}

describe("PassEntryHttpClient", () => {
  describe("createBatch", () => {
    it("returns PassEntry's batch document when it answers 202, having posted the batch as given", async () => {
      // Prepare
      const sandbox = await start();
      const client = clientFor(sandbox.url);

      // Act
      const created = await client.createBatch({ entityId: ENTITY_ID, batch: BATCH });

      // Assess
      const [stored] = sandbox.batches();
      expect(created.data.id).toBe(stored?.id);
      expect(created.data.attributes).toMatchObject({
        name: "Friday promotion",
        status: "validating",
        scheduledAt: "2030-03-31T13:16:26Z",
      });
      expect(stored).toMatchObject({ entityId: ENTITY_ID, body: { batch: BATCH } });
    });

    it("does not send a create held back (by pacing) until its sender no longer allows it, and says the outcome is known", async () => {
      // Prepare: the pacer lets one create through per second; the second waits past what its sender allows.
      const sandbox = await start();
      const client = clientFor(sandbox.url, { ratePerSecond: 1 });
      await client.createBatch({ entityId: ENTITY_ID, batch: BATCH });

      // Act
      const deadline = Date.now() + 100;
      const error = await failureOf(
        client.createBatch({ entityId: ENTITY_ID, batch: BATCH, mayStillSend: () => Date.now() <= deadline }),
      );

      // Assess
      expect(error.details).toMatchObject({ outcomeKnown: true, lateStart: true });
      expect(error.kind).toBe("retryable");
      expect(sandbox.batches()).toHaveLength(1);
      expect(sandbox.requests()).toHaveLength(1);
    });

    it("fails permanently with PassEntry's error texts when it answers 422", async () => {
      // Prepare
      const sandbox = await start();
      const client = clientFor(sandbox.url);
      const invalid = {
        message: "   ",
        segments: [{ groupTag: "x" }],
        scheduledAt: "2001-01-01T00:00:00Z",
      } as WalletMessageBatch;

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: invalid }));

      // Assess
      expect(error.kind).toBe("permanent");
      expect(error.retryable).toBe(false);
      expect(error.details).toMatchObject({ status: 422, outcomeKnown: true });
      expect(error.details.errors).toEqual(
        expect.arrayContaining([expect.stringMatching(/message.*blank/), expect.stringMatching(/scheduledAt.*past/)]),
      );
      for (const text of error.details.errors!) expect(error.message).toContain(text);
      expect(sandbox.batches()).toEqual([]);
    });

    it("fails as authentication, after one request, when PassEntry refuses the token and the store has no other", async () => {
      // Prepare
      const sandbox = await start({ tokens: ["some-other-token"] });
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("authentication");
      expect(error.details).toMatchObject({ status: 401, outcomeKnown: true });
      expect(sandbox.requests().map((r) => r.status)).toEqual([401]);
      expect(sandbox.batches()).toEqual([]);
    });

    it("is retryable with a known outcome and PassEntry's retry-after when it answers 429", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(ROUTE_CREATE_BATCH, [
        {
          kind: "status",
          status: 429,
          body: { errors: ["Too Many Requests"] },
          headers: { "x-rate-limit-retry-after": "0.35" },
        },
      ]);
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details).toMatchObject({
        status: 429,
        outcomeKnown: true,
        retryAfterSeconds: 0.35,
        errors: ["Too Many Requests"],
      });
      expect(sandbox.batches()).toEqual([]);
    });

    it.each(["abc", "-1", ""])("leaves retryAfterSeconds undefined when a 429 says retry after %j", async (header) => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(ROUTE_CREATE_BATCH, [
        { kind: "status", status: 429, headers: { "x-rate-limit-retry-after": header } },
      ]);
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.details.status).toBe(429);
      expect(error.details.retryAfterSeconds).toBeUndefined();
    });

    it("is retryable with an UNKNOWN outcome when PassEntry answers 500 to a create", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "status", status: 500 }]);
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details).toMatchObject({ status: 500, outcomeKnown: false });
    });

    it("is retryable with an unknown outcome when a gateway answers 502 with an HTML page", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(ROUTE_CREATE_BATCH, [
        { kind: "status", status: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>" },
      ]);
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details).toMatchObject({ status: 502, outcomeKnown: false, errors: [] });
    });

    it("is retryable with an unknown outcome when PassEntry answers 202 with a body it cannot read", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "status", status: 202, body: "<html>accepted</html>" }]);
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details).toMatchObject({ status: 202, outcomeKnown: false });
    });

    it("is retryable with an unknown outcome when the connection drops after PassEntry created the batch", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "drop-after-create" }]);
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details.outcomeKnown).toBe(false);
      expect(sandbox.batches()).toHaveLength(1);
      expect(sandbox.batches()[0]?.body).toEqual({ batch: BATCH });
    });

    it("is retryable with an unknown outcome when the connection drops with no answer", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "drop" }]);
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details.outcomeKnown).toBe(false);
    });

    it("is retryable with a KNOWN outcome when the connection is refused", async () => {
      // Prepare
      const client = clientFor(`http://127.0.0.1:${await closedPort()}`);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details.outcomeKnown).toBe(true);
      expect(error.message).toContain("ECONNREFUSED");
    });

    it("is retryable with an unknown outcome when PassEntry answers after the timeout, and the batch may then exist", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "delay", ms: 1_000 }]);
      const client = clientFor(sandbox.url, { timeoutMs: 200 });

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details.outcomeKnown).toBe(false);
      expect(error.message).toContain("timed out");
      await waitFor(() => sandbox.batches().length === 1);
    });
  });

  describe("getBatch and listBatches", () => {
    it("returns the batch PassEntry shows", async () => {
      // Prepare
      const sandbox = await start();
      const client = clientFor(sandbox.url);
      const created = await client.createBatch({ entityId: ENTITY_ID, batch: BATCH });

      // Act
      const shown = await client.getBatch(created.data.id);
      const listed = await client.listBatches(1);

      // Assess
      expect(shown.data).toMatchObject({ id: created.data.id, attributes: { name: "Friday promotion" } });
      expect(listed.data.map((b) => b.id)).toEqual([created.data.id]);
    });

    it("fails permanently when the batch is unknown (404)", async () => {
      // Prepare
      const sandbox = await start();
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.getBatch("no-such-batch"));

      // Assess
      expect(error.kind).toBe("permanent");
      expect(error.details).toMatchObject({ status: 404, outcomeKnown: true });
    });

    it("keeps a read's outcome known on a 500, since reading changes nothing", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(ROUTE_SHOW_BATCH, [{ kind: "status", status: 500 }]);
      const client = clientFor(sandbox.url);

      // Act
      const error = await failureOf(client.getBatch("any"));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details).toMatchObject({ status: 500, outcomeKnown: true });
    });
  });

  describe("token rotation", () => {
    it("retries once with the new token when the token was rotated while a create waited for its turn", async () => {
      // Prepare: a pacer that holds the second create (token already read) until the test opens the gate.
      const sandbox = await start({ tokens: ["token-v1"] });
      const secrets = new StaticSecretStore({ "passentry-token": "token-v1" });
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      let virtualMs = 0;
      const pacer = new Pacer({
        perSecond: 1,
        now: () => virtualMs,
        sleep: async (ms) => {
          await gate;
          virtualMs += ms;
        },
      });
      const client = new PassEntryHttpClient({ baseUrl: sandbox.url, secrets, pacer });
      const first = client.createBatch({ entityId: ENTITY_ID, batch: { ...BATCH, name: "first" } });
      const second = client.createBatch({ entityId: ENTITY_ID, batch: { ...BATCH, name: "second" } });
      await first;

      // Act: both sides rotate while the second create, holding token-v1, waits.
      sandbox.setTokens(["token-v2"]);
      secrets.set("passentry-token", "token-v2");
      openGate();
      const created = await second;

      // Assess
      expect(sandbox.requests().map((r) => r.status)).toEqual([202, 401, 202]);
      expect(sandbox.batches().map((b) => b.name)).toEqual(["first", "second"]);
      expect(sandbox.batches()[1]?.id).toBe(created.data.id);
    });

    it("reads the token afresh after a 401 when its store caches an old one", async () => {
      // Prepare
      const source = new StaticSecretStore({ "passentry-token": "token-v1" });
      const sandbox = await start({ tokens: ["token-v1"] });
      const client = new PassEntryHttpClient({ baseUrl: sandbox.url, secrets: new CachingSecretStore(source) });
      await client.createBatch({ entityId: ENTITY_ID, batch: BATCH });

      // Act
      sandbox.setTokens(["token-v2"]);
      source.set("passentry-token", "token-v2");
      const created = await client.createBatch({ entityId: ENTITY_ID, batch: { ...BATCH, name: "second" } });

      // Assess
      expect(sandbox.requests().map((r) => r.status)).toEqual([202, 401, 202]);
      expect(sandbox.batches().map((b) => b.id)).toContain(created.data.id);
      expect(sandbox.batches()).toHaveLength(2);
    });

    it("gives up as authentication after one re-read when the new token is refused too", async () => {
      // Prepare
      const sandbox = await start({ tokens: ["token-v3"] });
      const source = new StaticSecretStore({ "passentry-token": "token-v1" });
      const secrets = new CachingSecretStore(source);
      await secrets.get("passentry-token");
      source.set("passentry-token", "token-v2");
      const client = new PassEntryHttpClient({ baseUrl: sandbox.url, secrets });

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("authentication");
      expect(sandbox.requests().map((r) => r.status)).toEqual([401, 401]);
      expect(sandbox.batches()).toEqual([]);
    });
  });

  describe("the token", () => {
    // biome-ignore lint/suspicious/noConfusingVoidType: most scenarios only set up the sandbox (void); a few change the client.
    const scenarios: [string, (sandbox: Sandbox) => Partial<PassEntryHttpClientOptions> | void][] = [
      ["PassEntry refuses it (401)", (sandbox) => sandbox.setTokens(["another-token"])],
      [
        "PassEntry rejects the batch (422)",
        (sandbox) =>
          sandbox.injectNext(ROUTE_CREATE_BATCH, [
            { kind: "status", status: 422, body: { errors: ["batch.message can't be blank"] } },
          ]),
      ],
      [
        "PassEntry rate-limits (429)",
        (sandbox) =>
          sandbox.injectNext(ROUTE_CREATE_BATCH, [
            { kind: "status", status: 429, headers: { "x-rate-limit-retry-after": "0.35" } },
          ]),
      ],
      ["PassEntry fails (500)", (sandbox) => sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "status", status: 500 }])],
      [
        "a gateway answers HTML (502)",
        (sandbox) =>
          sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "status", status: 502, body: "<html>Bad Gateway</html>" }]),
      ],
      [
        "the 202 body is unreadable",
        (sandbox) => sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "status", status: 202, body: "not json" }]),
      ],
      ["the connection drops", (sandbox) => sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "drop" }])],
      [
        "the connection drops after the create",
        (sandbox) => sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "drop-after-create" }]),
      ],
      [
        "PassEntry's 401 text echoes the token",
        (sandbox) =>
          sandbox.injectNext(ROUTE_CREATE_BATCH, [
            { kind: "status", status: 401, body: { errors: [`Invalid token ${TOKEN}`] } },
          ]),
      ],
      [
        "PassEntry's 422 text echoes the Authorization header",
        (sandbox) =>
          sandbox.injectNext(ROUTE_CREATE_BATCH, [
            { kind: "status", status: 422, body: { errors: [{ header: `Bearer ${TOKEN}` }] } },
          ]),
      ],
      [
        "a 500 text echoes the token",
        (sandbox) =>
          sandbox.injectNext(ROUTE_CREATE_BATCH, [
            { kind: "status", status: 500, body: { errors: [`upstream rejected ${TOKEN}`] } },
          ]),
      ],
      [
        "the call times out",
        (sandbox) => {
          sandbox.injectNext(ROUTE_CREATE_BATCH, [{ kind: "delay", ms: 1_000 }]);
          return { timeoutMs: 100 };
        },
      ],
    ];

    it.each(scenarios)("never appears in the error when %s", async (_, arrange) => {
      // Prepare
      const sandbox = await start();
      const options = arrange(sandbox) ?? {};
      const client = clientFor(sandbox.url, options);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      for (const text of renderings(error)) expect(text).not.toContain(TOKEN);
    });

    it("never appears in the error when the connection is refused", async () => {
      // Prepare
      const client = clientFor(`http://127.0.0.1:${await closedPort()}`);

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      for (const text of renderings(error)) expect(text).not.toContain(TOKEN);
    });

    it("is sent as a bearer token on every call", async () => {
      // Prepare
      const sandbox = await start();
      const client = clientFor(sandbox.url);

      // Act
      const created = await client.createBatch({ entityId: ENTITY_ID, batch: BATCH });
      await client.getBatch(created.data.id);
      await client.listBatches(1);

      // Assess
      expect(sandbox.requests().map((r) => [r.routeKey, r.authorized])).toEqual([
        [ROUTE_CREATE_BATCH, true],
        [ROUTE_SHOW_BATCH, true],
        ["GET /api/v1/batches", true],
      ]);
    });
  });

  describe("circuit breaker", () => {
    it("stops reaching PassEntry after five consecutive 5xx and fails fast with a known outcome", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(
        ROUTE_CREATE_BATCH,
        Array.from({ length: 5 }, () => ({ kind: "status" as const, status: 503 })),
      );
      const client = clientFor(sandbox.url, { breaker: new CircuitBreaker({ threshold: 5, cooldownMs: 60_000 }) });
      for (let i = 0; i < 5; i++) await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Act
      const error = await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Assess
      expect(error.kind).toBe("retryable");
      expect(error.details).toMatchObject({ outcomeKnown: true, circuitOpen: true });
      expect(error.details.retryAfterSeconds).toBeGreaterThan(0);
      expect(sandbox.requests()).toHaveLength(5);
      expect(sandbox.batches()).toEqual([]);
      for (const text of renderings(error)) expect(text).not.toContain(TOKEN);
    });

    it("lets one trial through after the cooldown and closes again when it succeeds", async () => {
      // Prepare
      let now = 0;
      const sandbox = await start();
      sandbox.injectNext(
        ROUTE_CREATE_BATCH,
        Array.from({ length: 5 }, () => ({ kind: "status" as const, status: 500 })),
      );
      const client = clientFor(sandbox.url, {
        breaker: new CircuitBreaker({ threshold: 5, cooldownMs: 5_000, now: () => now }),
      });
      for (let i = 0; i < 5; i++) await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Act
      now += 5_000;
      const trial = await client.createBatch({ entityId: ENTITY_ID, batch: BATCH });
      const after = await client.createBatch({ entityId: ENTITY_ID, batch: BATCH });

      // Assess
      expect(sandbox.batches().map((b) => b.id)).toEqual([trial.data.id, after.data.id]);
    });

    it("stays closed through 429s, which are PassEntry pacing us rather than an outage", async () => {
      // Prepare
      const sandbox = await start();
      sandbox.injectNext(
        ROUTE_CREATE_BATCH,
        Array.from({ length: 6 }, () => ({ kind: "status" as const, status: 429 })),
      );
      const client = clientFor(sandbox.url, { breaker: new CircuitBreaker({ threshold: 5, cooldownMs: 60_000 }) });
      for (let i = 0; i < 6; i++) await failureOf(client.createBatch({ entityId: ENTITY_ID, batch: BATCH }));

      // Act
      const created = await client.createBatch({ entityId: ENTITY_ID, batch: BATCH });

      // Assess
      expect(sandbox.batches().map((b) => b.id)).toEqual([created.data.id]);
    });
  });

  describe("pacing", () => {
    it("creates 25 batches fired at once without a single 429 when paced at 9/s under PassEntry's 10/s", async () => {
      // Prepare
      const sandbox = await start();
      const client = clientFor(sandbox.url, { ratePerSecond: 9 });

      // Act
      const created = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          client.createBatch({ entityId: ENTITY_ID, batch: { ...BATCH, name: `burst ${i}` } }),
        ),
      );

      // Assess
      expect(sandbox.count429()).toBe(0);
      expect(sandbox.batches()).toHaveLength(25);
      expect(new Set(created.map((c) => c.data.id)).size).toBe(25);
    });
  });
});

describe("parseRetryAfter", () => {
  it.each([
    ["0.35", 0.35],
    ["0.350", 0.35],
    ["2", 2],
    ["0", 0],
    [" 1.5 ", 1.5],
  ])("reads %j as %s seconds", (header, seconds) => {
    // Act
    const parsed = parseRetryAfter(header);

    // Assess
    expect(parsed).toBe(seconds);
  });

  it.each(["abc", "-1", "", "   ", "1e3", "Infinity", "NaN", ".5", "1.", "0x10", "1,5", null, undefined])(
    "gives undefined for %j",
    (header) => {
      // Act
      const parsed = parseRetryAfter(header);

      // Assess
      expect(parsed).toBeUndefined();
    },
  );
});
