/**
 * The PassEntry sandbox answers as PassEntry's documented API does (creating, authenticating, the
 * batch lifecycle, listing), so what the other tests count at it is what PassEntry would have
 * received.
 */
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { type Sandbox, type SandboxOptions, startSandbox } from "../../local/passentry-sandbox/sandbox.js";

const TOKEN = "sandbox-token";
const ENTITY_ID = "entity-1";
const CREATE_PATH = `/api/v1/entities/${ENTITY_ID}/messaging/wallet`;
const CREATE_ROUTE = "POST /api/v1/entities/:id/messaging/wallet";
/** PassEntry's documented example request, byte for byte in meaning. */
const DOCUMENTED_EXAMPLE = {
  batch: { message: "Hello, World!", segments: [{ groupTag: "summerPromotion" }], scheduledAt: "2030-03-31T13:16:26Z" },
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const started: Sandbox[] = [];

async function start(options: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = await startSandbox(options);
  started.push(sandbox);
  return sandbox;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((sandbox) => sandbox.close()));
});

interface CallOptions {
  body?: unknown;
  rawBody?: string;
  /** null sends no Authorization header. */
  token?: string | null;
  contentType?: string;
  signal?: AbortSignal;
}

interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(sandbox: Sandbox, method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = {};
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? TOKEN}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  const response = await fetch(sandbox.url + path, { method, headers, body, signal: options.signal });
  const text = await response.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not every answer is JSON (CSV files, scripted raw bodies).
  }
  return { status: response.status, headers: response.headers, text, json };
}

function createBatch(
  sandbox: Sandbox,
  batch: Record<string, unknown> = DOCUMENTED_EXAMPLE.batch,
  options: CallOptions = {},
) {
  return call(sandbox, "POST", CREATE_PATH, { body: { batch }, ...options });
}

/** A clock the test moves by hand, so lifecycle tests never depend on timing. */
function manualClock(startIso = "2025-06-01T12:00:00.000Z") {
  let nowMs = Date.parse(startIso);
  return {
    now: () => nowMs,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

function expectRateLimitHeaders(headers: Headers, template: string): void {
  expect(headers.get("x-rate-limit-limit")).toMatch(/^\d+$/);
  expect(headers.get("x-rate-limit-remaining")).toMatch(/^\d+$/);
  expect(Number(headers.get("x-rate-limit-reset"))).toBeGreaterThan(Date.now() / 1000 - 1);
  expect(headers.get("x-rate-limit-url")).toBe(template);
}

describe("creating a wallet messaging batch", () => {
  it("answers 202 with the documented document when given PassEntry's documented example", async () => {
    const sandbox = await start();
    const answer = await createBatch(sandbox);

    expect(answer.status).toBe(202);
    const id = answer.json.data.id;
    expect(id).toMatch(UUID);
    expect(answer.json).toEqual({
      data: {
        id,
        type: "walletMessaging",
        attributes: {
          name: expect.stringMatching(/^Batch \d{4}-\d{2}-\d{2}T/),
          status: "validating",
          tag: null,
          content: "Hello, World!",
          scheduledAt: "2030-03-31T13:16:26Z",
        },
      },
      links: { self: `${sandbox.url}/api/v1/batches/${id}` },
    });
    expectRateLimitHeaders(answer.headers, "/api/v1/entities/:id/messaging/wallet");
  });

  it("records the batch with the body as received when the create succeeds", async () => {
    const sandbox = await start();
    const body = {
      batch: { ...DOCUMENTED_EXAMPLE.batch, name: "Summer", tag: "promo", futureKey: { kept: true } },
      extra: 1,
    };
    const answer = await call(sandbox, "POST", CREATE_PATH, { body });

    const [batch, ...others] = sandbox.batches();
    expect(others).toEqual([]);
    expect(batch).toMatchObject({
      id: answer.json.data.id,
      entityId: ENTITY_ID,
      body,
      name: "Summer",
      tag: "promo",
      message: "Hello, World!",
      scheduledAt: "2030-03-31T13:16:26Z",
      status: "validating",
      totalCount: null,
      sentNowAt: null,
      cancelledAt: null,
    });
    expect(answer.json.data.attributes).toMatchObject({ name: "Summer", tag: "promo" });
  });

  it("defaults scheduledAt to one hour ahead and names the batch when both are left out", async () => {
    const clock = manualClock("2025-06-01T12:00:00.000Z");
    const sandbox = await start({ now: clock.now });
    const answer = await createBatch(sandbox, { message: "Hi", recipients: [{ id: "pass-1" }] });

    expect(answer.status).toBe(202);
    expect(answer.json.data.attributes.scheduledAt).toBe("2025-06-01T13:00:00Z");
    expect(answer.json.data.attributes.name).toBe("Batch 2025-06-01T12:00:00Z");
  });

  it("accepts 500 recipients and far-future dates when the request is otherwise valid", async () => {
    const clock = manualClock();
    const sandbox = await start({ now: clock.now, validatingMs: 10 });
    const recipients = Array.from({ length: 500 }, (_, index) => ({ id: `pass-${index}` }));
    const answer = await createBatch(sandbox, { message: "Hi", recipients, scheduledAt: "2099-12-31T23:59:59+02:00" });

    expect(answer.status).toBe(202);
    clock.advance(10);
    expect(sandbox.batches()[0]?.totalCount).toBe(500);
  });

  it.each([
    ["the message is blank", { message: "   ", segments: [{ groupTag: "a" }] }, /message/],
    ["the message is missing", { segments: [{ groupTag: "a" }] }, /message/],
    [
      "both segments and recipients are given",
      { message: "Hi", segments: [{ groupTag: "a" }], recipients: [{ id: "p" }] },
      /segments and recipients/,
    ],
    ["neither segments nor recipients is given", { message: "Hi" }, /segments or recipients/],
    ["both lists are empty", { message: "Hi", segments: [], recipients: [] }, /segments or recipients/],
    [
      "there are 501 recipients",
      { message: "Hi", recipients: Array.from({ length: 501 }, (_, i) => ({ id: `p${i}` })) },
      /recipients.*500/,
    ],
    [
      "scheduledAt is in the past",
      { message: "Hi", segments: [{ groupTag: "a" }], scheduledAt: "2020-01-01T00:00:00Z" },
      /scheduledAt.*past/,
    ],
    [
      "scheduledAt has no time zone",
      { message: "Hi", segments: [{ groupTag: "a" }], scheduledAt: "2030-01-01T00:00:00" },
      /scheduledAt/,
    ],
    [
      "scheduledAt is not a date",
      { message: "Hi", segments: [{ groupTag: "a" }], scheduledAt: "tomorrow" },
      /scheduledAt/,
    ],
    ["segments is not a list of objects", { message: "Hi", segments: "vip" }, /segments/],
  ])("answers 422 naming the field when %s", async (_case, batch, expected) => {
    const sandbox = await start();
    const answer = await createBatch(sandbox, batch);

    expect(answer.status).toBe(422);
    expect(answer.json.errors.join(" ")).toMatch(expected);
    expect(answer.json.errors.every((error: unknown) => typeof error === "string")).toBe(true);
    expect(sandbox.batches()).toEqual([]);
  });

  it("answers 422 when the body has no batch object", async () => {
    const sandbox = await start();
    for (const body of [[], "text", null, { message: "Hi" }]) {
      const answer = await call(sandbox, "POST", CREATE_PATH, { body });
      expect(answer.status).toBe(422);
      expect(answer.json.errors[0]).toMatch(/batch/);
    }
  });

  it("answers 400 with errors when the JSON is malformed", async () => {
    const sandbox = await start();
    for (const rawBody of ['{"batch": {', "", "not json"]) {
      const answer = await call(sandbox, "POST", CREATE_PATH, { rawBody });
      expect(answer.status).toBe(400);
      expect(answer.json.errors).toEqual([expect.stringMatching(/JSON/)]);
    }
    expect(sandbox.batches()).toEqual([]);
  });

  it("answers 415 when the content type is not JSON", async () => {
    const sandbox = await start();
    const answer = await call(sandbox, "POST", CREATE_PATH, {
      rawBody: JSON.stringify(DOCUMENTED_EXAMPLE),
      contentType: "text/plain",
    });

    expect(answer.status).toBe(415);
    expect(answer.json.errors[0]).toMatch(/Content-Type/);
  });

  it("answers 413 when the body is larger than 1 MB", async () => {
    const sandbox = await start();
    const rawBody = JSON.stringify({ batch: { message: "x".repeat(1024 * 1024 + 10), segments: [{ groupTag: "a" }] } });
    const answer = await call(sandbox, "POST", CREATE_PATH, { rawBody });

    expect(answer.status).toBe(413);
    expect(answer.json.errors).toHaveLength(1);
    expect(sandbox.batches()).toEqual([]);
  });
});

describe("authentication", () => {
  it("answers 401 with rate-limit headers when the token is missing or wrong", async () => {
    const sandbox = await start();
    for (const token of [null, "wrong-token"]) {
      const answer = await createBatch(sandbox, DOCUMENTED_EXAMPLE.batch, { token });
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({ errors: ["Unauthorized"] });
      expectRateLimitHeaders(answer.headers, "/api/v1/entities/:id/messaging/wallet");
    }
    expect(sandbox.batches()).toEqual([]);
    expect(sandbox.requests().map((request) => request.authorized)).toEqual([false, false]);
  });

  it("accepts only the new tokens when tokens are rotated with setTokens", async () => {
    const sandbox = await start({ tokens: ["old-token"] });
    expect((await call(sandbox, "GET", "/api/v1/batches", { token: "old-token" })).status).toBe(200);

    sandbox.setTokens(["new-token"]);

    expect((await call(sandbox, "GET", "/api/v1/batches", { token: "old-token" })).status).toBe(401);
    expect((await call(sandbox, "GET", "/api/v1/batches", { token: "new-token" })).status).toBe(200);
    expect(sandbox.requests().map((request) => request.authorized)).toEqual([true, false, true]);
  });
});

describe("batch lifecycle", () => {
  const timings = { validatingMs: 100, scheduledMs: 1000, sendingMs: 200 };

  async function startWithClock() {
    const clock = manualClock();
    const sandbox = await start({ now: clock.now, ...timings });
    return { clock, sandbox };
  }

  async function statusOf(sandbox: Sandbox, id: string): Promise<any> {
    const answer = await call(sandbox, "GET", `/api/v1/batches/${id}`);
    expect(answer.status).toBe(200);
    return answer.json.data.attributes;
  }

  it("moves validating -> scheduled -> sending -> successful as time passes", async () => {
    const { clock, sandbox } = await startWithClock();
    const id = (await createBatch(sandbox)).json.data.id;

    expect(await statusOf(sandbox, id)).toMatchObject({ status: "validating", totalCount: null, completedAt: null });
    clock.advance(100);
    expect(await statusOf(sandbox, id)).toMatchObject({ status: "scheduled", totalCount: 100, completedAt: null });
    clock.advance(1000);
    expect(await statusOf(sandbox, id)).toMatchObject({ status: "sending", deliveryCsvUrl: null });
    clock.advance(200);
    const done = await statusOf(sandbox, id);
    expect(done).toMatchObject({
      status: "successful",
      content: "Hello, World!",
      scheduledAt: "2030-03-31T13:16:26Z",
      errorsCsvUrl: null,
      deliveryCsvUrl: `${sandbox.url}/files/${id}/delivery.csv`,
    });
    expect(Date.parse(done.completedAt)).toBe(clock.now());
    expect(sandbox.batches()[0]?.status).toBe("successful");
    const csv = await call(sandbox, "GET", `/files/${id}/delivery.csv`, { token: null });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
    expect(csv.text.trim().split("\n")).toHaveLength(101);
  });

  it("walks the lifecycle on the real clock when timings are small", async () => {
    const sandbox = await start({ validatingMs: 20, scheduledMs: 40, sendingMs: 20 });
    const id = (await createBatch(sandbox)).json.data.id;
    const seen = new Set<string>();
    await waitFor(() => {
      const status = sandbox.batches()[0]?.status ?? "";
      seen.add(status);
      return status === "successful";
    });
    expect(seen.has("successful")).toBe(true);
    expect((await statusOf(sandbox, id)).status).toBe("successful");
  });

  it("answers 404 when the batch is unknown", async () => {
    const sandbox = await start();
    const answer = await call(sandbox, "GET", "/api/v1/batches/does-not-exist");

    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ errors: ["Not Found"] });
    expectRateLimitHeaders(answer.headers, "/api/v1/batches/:id");
  });

  it("sends a batch at once when send-now is called while it is scheduled", async () => {
    const { clock, sandbox } = await startWithClock();
    const id = (await createBatch(sandbox)).json.data.id;

    const tooEarly = await call(sandbox, "POST", `/api/v1/batches/${id}/send-now`);
    expect(tooEarly.status).toBe(422);
    expect(tooEarly.json.errors[0]).toMatch(/validating/);

    clock.advance(100);
    const sent = await call(sandbox, "POST", `/api/v1/batches/${id}/send-now`);
    expect(sent.status).toBe(200);
    expect(sent.json).toEqual({ success: "Scheduled batch cancelled and batch sent now" });
    expect((await statusOf(sandbox, id)).status).toBe("sending");
    expect(sandbox.batches()[0]?.sentNowAt).toBe(new Date(clock.now()).toISOString());

    const again = await call(sandbox, "POST", `/api/v1/batches/${id}/send-now`);
    expect(again.status).toBe(422);
    clock.advance(200);
    expect((await statusOf(sandbox, id)).status).toBe("successful");
  });

  it("answers 404 when send-now or cancel names an unknown batch", async () => {
    const sandbox = await start();
    expect((await call(sandbox, "POST", "/api/v1/batches/nope/send-now")).status).toBe(404);
    expect((await call(sandbox, "PATCH", "/api/v1/batches/nope/cancel")).status).toBe(404);
  });

  it("cancels a batch when it is validating or scheduled and refuses once sending", async () => {
    const { clock, sandbox } = await startWithClock();
    const validating = (await createBatch(sandbox)).json.data.id;
    const scheduled = (await createBatch(sandbox)).json.data.id;

    const cancelledEarly = await call(sandbox, "PATCH", `/api/v1/batches/${validating}/cancel`);
    expect(cancelledEarly.status).toBe(200);
    expect(cancelledEarly.json.data).toMatchObject({
      id: validating,
      type: "walletMessaging",
      attributes: { status: "cancelled" },
    });

    clock.advance(100);
    const cancelledScheduled = await call(sandbox, "PATCH", `/api/v1/batches/${scheduled}/cancel`);
    expect(cancelledScheduled.json.data.attributes.status).toBe("cancelled");
    expect(cancelledScheduled.json.links.self).toBe(`${sandbox.url}/api/v1/batches/${scheduled}`);

    clock.advance(5000);
    expect((await statusOf(sandbox, scheduled)).status).toBe("cancelled");
    expect((await call(sandbox, "PATCH", `/api/v1/batches/${scheduled}/cancel`)).status).toBe(422);
    expect(sandbox.batches().map((batch) => batch.cancelledAt)).toEqual([expect.any(String), expect.any(String)]);

    const sending = (await createBatch(sandbox)).json.data.id;
    clock.advance(1100);
    const refused = await call(sandbox, "PATCH", `/api/v1/batches/${sending}/cancel`);
    expect(refused.status).toBe(422);
    expect(refused.json.errors[0]).toMatch(/sending/);
  });

  it("fails validation with an errors CSV when the message carries [[fail-validation]]", async () => {
    const { clock, sandbox } = await startWithClock();
    const id = (await createBatch(sandbox, { message: "Hi [[fail-validation]]", segments: [{ groupTag: "a" }] })).json
      .data.id;
    clock.advance(100);

    const attributes = await statusOf(sandbox, id);
    expect(attributes).toMatchObject({
      status: "failed",
      errorsCsvUrl: `${sandbox.url}/files/${id}/errors.csv`,
      deliveryCsvUrl: null,
    });
    expect(attributes.completedAt).not.toBeNull();
    const csv = await call(sandbox, "GET", `/files/${id}/errors.csv`, { token: null });
    expect(csv.status).toBe(200);
    expect(csv.text).toMatch(/^row,error\n/);
    clock.advance(10_000);
    expect((await statusOf(sandbox, id)).status).toBe("failed");
  });

  it("completes with errors when the message carries [[complete-with-errors]]", async () => {
    const { clock, sandbox } = await startWithClock();
    const id = (
      await createBatch(sandbox, { message: "[[complete-with-errors]]", recipients: [{ id: "a" }, { id: "b" }] })
    ).json.data.id;
    clock.advance(1300);

    expect(await statusOf(sandbox, id)).toMatchObject({
      status: "completedWithErrors",
      totalCount: 2,
      errorsCsvUrl: expect.stringContaining("/errors.csv"),
      deliveryCsvUrl: expect.stringContaining("/delivery.csv"),
    });
  });
});

describe("listing batches", () => {
  it("pages newest first with meta and links when there are more batches than a page", async () => {
    const sandbox = await start({ rateLimitPerSecond: 1000 });
    for (let index = 0; index < 30; index++) {
      await createBatch(sandbox, { message: `message ${index}`, segments: [{ groupTag: "a" }] });
    }

    const first = await call(sandbox, "GET", "/api/v1/batches?type=walletMessaging");
    expect(first.status).toBe(200);
    expect(first.json.data).toHaveLength(25);
    expect(first.json.data[0].attributes.content).toBe("message 29");
    expect(first.json.meta).toEqual({ totalCount: 30, resultsPerPage: 25, currentPage: 1, totalPages: 2 });
    expect(first.json.links).toEqual({
      first: `${sandbox.url}/api/v1/batches?page=1&perPage=25&type=walletMessaging`,
      prev: null,
      next: `${sandbox.url}/api/v1/batches?page=2&perPage=25&type=walletMessaging`,
      last: `${sandbox.url}/api/v1/batches?page=2&perPage=25&type=walletMessaging`,
    });

    const second = await call(sandbox, "GET", "/api/v1/batches?page=2&perPage=25&type=walletMessaging");
    expect(second.json.data.map((batch: any) => batch.attributes.content)).toEqual(
      [4, 3, 2, 1, 0].map((n) => `message ${n}`),
    );
    expect(second.json.links.next).toBeNull();
    expect(second.json.links.prev).toBe(first.json.links.first);

    const small = await call(sandbox, "GET", "/api/v1/batches?page=3&perPage=7");
    expect(small.json.meta).toEqual({ totalCount: 30, resultsPerPage: 7, currentPage: 3, totalPages: 5 });
    expect(small.json.data[0].attributes.content).toBe("message 15");
  });

  it("lists nothing when there are no batches", async () => {
    const sandbox = await start();
    const answer = await call(sandbox, "GET", "/api/v1/batches");

    expect(answer.json.data).toEqual([]);
    expect(answer.json.meta).toMatchObject({ totalCount: 0, currentPage: 1 });
    expect(answer.json.links.next).toBeNull();
  });
});

describe("single-pass notifications", () => {
  it("answers the pass with notification status sent and records it", async () => {
    const clock = manualClock();
    const sandbox = await start({ now: clock.now });
    const answer = await call(sandbox, "POST", "/api/v1/passes/pass-42/notification", {
      body: { notification: { message: "Gate B" } },
    });

    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      data: { id: "pass-42", type: "pass", attributes: {} },
      meta: { notifications: { status: "sent" } },
    });
    expect(sandbox.notifications()).toEqual([{ passId: "pass-42", message: "Gate B", at: clock.now() }]);
  });

  it("answers 422 when the notification message is blank", async () => {
    const sandbox = await start();
    const answer = await call(sandbox, "POST", "/api/v1/passes/pass-42/notification", {
      body: { notification: { message: "" } },
    });

    expect(answer.status).toBe(422);
    expect(answer.json.errors[0]).toMatch(/message/);
    expect(sandbox.notifications()).toEqual([]);
  });
});

describe("rate limiting", () => {
  it("answers exactly 10 x 202 and 5 x 429 with a decimal retry-after when 15 creates arrive at once", async () => {
    const sandbox = await start();
    const answers = await Promise.all(Array.from({ length: 15 }, () => createBatch(sandbox)));

    const accepted = answers.filter((answer) => answer.status === 202);
    const limited = answers.filter((answer) => answer.status === 429);
    expect(accepted).toHaveLength(10);
    expect(limited).toHaveLength(5);
    expect(sandbox.batches()).toHaveLength(10);
    expect(sandbox.count429()).toBe(5);

    const retryAfters = limited.map((answer) => {
      expect(answer.json).toEqual({ errors: ["Too Many Requests"] });
      expect(answer.headers.get("x-rate-limit-remaining")).toBe("0");
      expectRateLimitHeaders(answer.headers, "/api/v1/entities/:id/messaging/wallet");
      const header = answer.headers.get("x-rate-limit-retry-after") ?? "";
      expect(header).toMatch(/^\d+\.\d+$/);
      return Number(header);
    });
    for (const seconds of retryAfters) {
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThanOrEqual(1);
    }

    await sleep(Math.max(...retryAfters) * 1000 + 20);
    expect((await createBatch(sandbox)).status).toBe(202);
  });

  it("keeps separate windows per endpoint and method when one endpoint is exhausted", async () => {
    const sandbox = await start({ rateLimitPerSecond: 2 });
    const creates = await Promise.all(Array.from({ length: 3 }, () => createBatch(sandbox)));
    expect(creates.map((answer) => answer.status).sort()).toEqual([202, 202, 429]);

    const list = await call(sandbox, "GET", "/api/v1/batches");
    expect(list.status).toBe(200);
    expect(list.headers.get("x-rate-limit-remaining")).toBe("1");
    expect(list.headers.get("x-rate-limit-limit")).toBe("2");
  });

  it("checks the rate limit before authentication", async () => {
    const sandbox = await start({ rateLimitPerSecond: 1 });
    expect((await createBatch(sandbox, DOCUMENTED_EXAMPLE.batch, { token: "wrong" })).status).toBe(401);
    expect((await createBatch(sandbox)).status).toBe(429);
  });
});

describe("scripted faults", () => {
  it("answers the scripted status and headers without any effect when a status fault is queued", async () => {
    const sandbox = await start();
    sandbox.injectNext(CREATE_ROUTE, [
      {
        kind: "status",
        status: 429,
        body: { errors: ["Too Many Requests"] },
        headers: { "x-rate-limit-retry-after": "0.25" },
      },
    ]);

    const limited = await createBatch(sandbox);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("x-rate-limit-retry-after")).toBe("0.25");
    expectRateLimitHeaders(limited.headers, "/api/v1/entities/:id/messaging/wallet");
    expect(sandbox.batches()).toEqual([]);
    expect(sandbox.count429()).toBe(1);

    expect((await createBatch(sandbox)).status).toBe(202);
  });

  it("sends a raw body when a scripted status fault has a string body", async () => {
    const sandbox = await start();
    sandbox.injectNext("*", [{ kind: "status", status: 502, body: "<html>Bad Gateway</html>" }]);

    const answer = await call(sandbox, "GET", "/api/v1/batches");
    expect(answer.status).toBe(502);
    expect(answer.text).toBe("<html>Bad Gateway</html>");
  });

  it("destroys the socket without any effect when a drop fault is queued", async () => {
    const sandbox = await start();
    sandbox.injectNext(CREATE_ROUTE, [{ kind: "drop" }]);

    await expect(createBatch(sandbox)).rejects.toThrow();
    expect(sandbox.batches()).toEqual([]);
    expect(sandbox.requests()[0]).toMatchObject({ method: "POST", path: CREATE_PATH, status: "dropped" });
  });

  it("creates the batch but gives the client a socket error when drop-after-create is queued", async () => {
    const sandbox = await start();
    sandbox.injectNext(CREATE_ROUTE, [{ kind: "drop-after-create" }]);

    await expect(createBatch(sandbox)).rejects.toThrow();
    expect(sandbox.batches()).toHaveLength(1);
    expect(sandbox.requests()[0]?.status).toBe("dropped");
  });

  it("delays the answer but still performs the request when a delay fault is queued", async () => {
    const sandbox = await start();
    sandbox.injectNext(CREATE_ROUTE, [{ kind: "delay", ms: 300 }]);

    await expect(createBatch(sandbox, DOCUMENTED_EXAMPLE.batch, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    expect(sandbox.batches()).toEqual([]);
    await waitFor(() => sandbox.batches().length === 1);
  });

  it("consumes faults in order, the route's own queue before the '*' queue", async () => {
    const sandbox = await start();
    sandbox.injectNext("*", [{ kind: "status", status: 503 }]);
    sandbox.injectNext(CREATE_ROUTE, [
      { kind: "status", status: 500 },
      { kind: "status", status: 502 },
    ]);

    const statuses = [];
    for (let index = 0; index < 4; index++) statuses.push((await createBatch(sandbox)).status);
    expect(statuses).toEqual([500, 502, 503, 202]);
  });

  it("throws when injectNext is given an unknown route key", async () => {
    const sandbox = await start();
    expect(() => sandbox.injectNext("POST /api/v1/nope", [{ kind: "drop" }])).toThrow(/Unknown sandbox route key/);
  });
});

describe("random faults", () => {
  it("answers 5xx with the documented error body and no effect when errorRate is 1", async () => {
    const sandbox = await start({ faults: { errorRate: 1 } });
    const answer = await createBatch(sandbox);

    expect([500, 502, 503]).toContain(answer.status);
    expect(answer.json).toEqual({ errors: ["Internal Server Error"] });
    expectRateLimitHeaders(answer.headers, "/api/v1/entities/:id/messaging/wallet");
    expect(sandbox.batches()).toEqual([]);
  });

  it("drops every request when dropRate is 1 and recovers when faults are cleared", async () => {
    const sandbox = await start();
    sandbox.setFaults({ dropRate: 1 });
    await expect(createBatch(sandbox)).rejects.toThrow();
    expect(sandbox.batches()).toEqual([]);

    sandbox.setFaults({});
    expect((await createBatch(sandbox)).status).toBe(202);
  });

  it("adds latency before answering when latencyMs is set", async () => {
    const sandbox = await start({ faults: { latencyMs: 150 } });
    const startedAt = Date.now();
    await call(sandbox, "GET", "/api/v1/batches");
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
  });
});

describe("robustness", () => {
  it("answers 404 JSON with rate-limit headers when the route or method is unknown", async () => {
    const sandbox = await start();
    const unknown = await call(sandbox, "GET", "/nope?x=1");
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ errors: ["Not Found"] });
    expect(unknown.headers.get("x-rate-limit-url")).toBe("/nope");

    const wrongMethod = await call(sandbox, "DELETE", CREATE_PATH);
    expect(wrongMethod.status).toBe(404);
    expect(wrongMethod.headers.get("x-rate-limit-url")).toBe("/api/v1/entities/:id/messaging/wallet");

    const badEncoding = await call(sandbox, "GET", "/api/v1/batches/%E0%A4%A");
    expect(badEncoding.status).toBe(404);
  });

  it("keeps serving when a client sends garbage over a raw socket", async () => {
    const sandbox = await start();
    const port = Number(new URL(sandbox.url).port);
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => socket.end("\x00\x01 NOT HTTP \r\n\r\n"));
      socket.on("error", () => resolve());
      socket.on("close", () => resolve());
      socket.resume();
    });
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.write(`POST ${CREATE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"batch"`);
        socket.destroy();
        resolve();
      });
    });

    expect((await createBatch(sandbox)).status).toBe(202);
  });

  it("forgets batches, logs, windows and scripted faults when reset", async () => {
    const sandbox = await start({ rateLimitPerSecond: 1 });
    await createBatch(sandbox);
    await call(sandbox, "POST", "/api/v1/passes/p/notification", { body: { notification: { message: "m" } } });
    sandbox.injectNext("*", [{ kind: "drop" }]);

    sandbox.reset();

    expect(sandbox.batches()).toEqual([]);
    expect(sandbox.requests()).toEqual([]);
    expect(sandbox.notifications()).toEqual([]);
    expect((await createBatch(sandbox)).status).toBe(202);
  });
});

describe("close()", () => {
  function countResources(kind: string): number {
    return process.getActiveResourcesInfo().filter((resource) => resource === kind).length;
  }

  it("closes promptly and leaves no server, socket or timer behind when keep-alive clients and delayed requests remain", async () => {
    const serversBefore = countResources("TCPServerWrap");
    const timersBefore = countResources("Timeout");
    const socketsBefore = countResources("TCPSocketWrap");
    const sandbox = await startSandbox();
    expect(countResources("TCPServerWrap")).toBe(serversBefore + 1);

    expect((await call(sandbox, "GET", "/api/v1/batches")).status).toBe(200); // leaves a keep-alive socket
    sandbox.injectNext("GET /api/v1/batches", [{ kind: "delay", ms: 10_000 }]);
    const pending = call(sandbox, "GET", "/api/v1/batches").then(
      () => "answered",
      () => "failed",
    );
    await waitFor(() => sandbox.requests().length === 2);

    const closingAt = Date.now();
    await sandbox.close();
    expect(Date.now() - closingAt).toBeLessThan(500);
    expect(await pending).toBe("failed");
    await expect(fetch(sandbox.url)).rejects.toThrow();
    await sandbox.close(); // idempotent

    expect(countResources("TCPServerWrap")).toBe(serversBefore);
    expect(countResources("Timeout")).toBeLessThanOrEqual(timersBefore);
    // Both ends of the keep-alive connection live in this process: they go once the server ends it.
    await waitFor(() => countResources("TCPSocketWrap") <= socketsBefore, 1000);
  });
});
