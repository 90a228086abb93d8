/**
 * "The token never leaks", and neither do API keys or webhook secrets: the local stack runs with a
 * canary for every secret, every path (success and each failure) is driven through it and the
 * PassEntry sandbox, and then no canary may appear in any log line, console output, HTTP answer,
 * queue message (live or dead-lettered, with its last error), SQLite row or raw file under DATA_DIR.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PASSENTRY_EXAMPLE_BODY } from "../support/events.js";
import {
  CANARY_FORMS,
  CANARIES,
  secretFoundIn,
  startSecuredStack,
  type SecuredStack,
  type SecuredStackOptions,
} from "./stack-support.js";
import { nowSeconds, passEntryEventBody, passEntrySignature, standardWebhookHeaders } from "./webhook-support.js";

const TRIGGER = "/api/v1/entities/ent-42/messaging/wallet";
const EXAMPLE = JSON.stringify(PASSENTRY_EXAMPLE_BODY);
const JSON_TYPE = { "content-type": "application/json" };
const POST_BATCH = "POST /api/v1/entities/:id/messaging/wallet";

let env: SecuredStack | undefined;
let consoleOutput: string[];
beforeEach(() => {
  consoleOutput = [];
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console);
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      consoleOutput.push(
        args
          .map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : typeof a === "string" ? a : JSON.stringify(a)))
          .join(" "),
      );
      original(...args);
    });
  }
});
afterEach(async () => {
  vi.restoreAllMocks();
  await env?.stop();
  env = undefined;
});

async function start(options: SecuredStackOptions = {}): Promise<SecuredStack> {
  env = await startSecuredStack(options);
  return env;
}

/** The assertion every test ends with. */
function expectNoCanaryAnywhere(stack: SecuredStack): void {
  const written = `${stack.everythingWritten()}\n${consoleOutput.join("\n")}`;
  for (const canary of CANARY_FORMS) expect(secretFoundIn(written, canary), `found ${canary}`).toBeUndefined();
}

const bearer = (key: string) => ({ ...JSON_TYPE, authorization: `Bearer ${key}` });

/** Read with the operator key: the signed request belongs to the signer, not to the key crm. */
async function requestState(stack: SecuredStack, id: string): Promise<string> {
  const answer = await stack.request("GET", `/api/v1/requests/${id}`, undefined, bearer(stack.operatorKey));
  return JSON.parse(answer.text).data.attributes.status;
}

describe("secrets never leak", () => {
  it("is noticed when planted: the search covers log lines, SQLite rows and answers (control)", async () => {
    const s = await start();
    s.log.info("oops", { token: CANARIES.passEntryToken });
    s.stack.db.prepare("CREATE TABLE planted (value TEXT)").run();
    s.stack.db.prepare("INSERT INTO planted VALUES (?)").run(CANARIES.passEntryWebhookSecret);

    expect(s.everythingWritten()).toContain(CANARIES.passEntryToken);
    expect(s.everythingWritten()).toContain(CANARIES.passEntryWebhookSecret);
  });

  it("is noticed in other spellings: base64 at any offset, URL-safe, percent-encoded, upper case (control)", () => {
    const token = CANARIES.passEntryToken;
    const spellings = [
      Buffer.from(`Authorization: Bearer ${token}`).toString("base64"),
      Buffer.from(`x${token}`).toString("base64url"),
      Buffer.from(`xy${token}!`).toString("base64"),
      encodeURIComponent(`Bearer ${token}`).replace(/[a-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`),
      `BEARER ${token.toUpperCase()}`,
    ];

    for (const spelling of spellings)
      expect(secretFoundIn(`{"errors":["${spelling}"]}`, token), spelling).toBeDefined();
    expect(
      secretFoundIn(Buffer.from("an unrelated sentence of some length").toString("base64"), token),
    ).toBeUndefined();
  });

  it("through successful sends: by API key, by signed request and by PassEntry webhook automation", async () => {
    const s = await start();

    const byKey = await s.request("POST", TRIGGER, EXAMPLE, bearer(s.apiKey));
    const signed = await s.request("POST", TRIGGER, EXAMPLE, {
      ...JSON_TYPE,
      ...standardWebhookHeaders(s.signingSecret, "msg_ok_1", nowSeconds(), EXAMPLE),
    });
    const event = JSON.stringify(passEntryEventBody());
    const webhook = await s.request("POST", "/webhooks/passentry", event, {
      ...JSON_TYPE,
      "x-webhook-signature": passEntrySignature(s.passEntryWebhookSecret, event),
    });
    await s.stack.drained();
    const ids = [JSON.parse(byKey.text).data.id, JSON.parse(signed.text).data.id];
    for (const id of ids) expect(await requestState(s, id)).toBe("submitted");

    expect([byKey.status, signed.status, webhook.status]).toEqual([202, 202, 202]);
    expect(s.sandbox.batches()).toHaveLength(3);
    expectNoCanaryAnywhere(s);
  });

  it("through refused callers: keys and signatures that contain or misuse the real secrets, and invalid bodies", async () => {
    const s = await start();
    const event = JSON.stringify(passEntryEventBody());

    const answers = [
      // A key that contains the real one: an echo of the offered key would reveal it.
      await s.request("POST", TRIGGER, EXAMPLE, bearer(`${s.apiKey}-x`)),
      await s.request("POST", TRIGGER, EXAMPLE, {
        ...JSON_TYPE,
        authorization: `Basic ${Buffer.from(`crm:${s.apiKey}`).toString("base64")}x`,
      }),
      // Signatures built wrongly from the real secret, or the secret itself sent as a signature.
      await s.request("POST", TRIGGER, EXAMPLE, {
        ...JSON_TYPE,
        ...standardWebhookHeaders(s.signingSecret, "msg_bad", nowSeconds() - 3600, EXAMPLE),
      }),
      await s.request("POST", TRIGGER, EXAMPLE, {
        ...JSON_TYPE,
        "webhook-id": "m",
        "webhook-timestamp": String(nowSeconds()),
        "webhook-signature": `v1,${s.signingSecret}`,
      }),
      await s.request("POST", "/webhooks/passentry", event, {
        ...JSON_TYPE,
        "x-webhook-signature": s.passEntryWebhookSecret,
      }),
      await s.request("POST", "/webhooks/passentry", event, {
        ...JSON_TYPE,
        "x-webhook-signature": passEntrySignature(`${s.passEntryWebhookSecret}x`, event),
      }),
      // Valid callers, invalid requests.
      await s.request("POST", TRIGGER, JSON.stringify({ batch: { message: " ", segments: [] } }), bearer(s.apiKey)),
      await s.request("POST", TRIGGER, "{not json", bearer(s.apiKey)),
      await s.request("POST", TRIGGER, EXAMPLE, { ...bearer(s.apiKey), "idempotency-key": "bad key with spaces" }),
      await s.request("GET", "/api/v1/requests/does-not-exist", undefined, bearer(s.apiKey)),
      await s.request("GET", "/api/v1/requests/anything", undefined, bearer(`${s.apiKey}0`)),
    ];

    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401, 401, 422, 400, 400, 404, 401]);
    expect(s.stack.queue.peek()).toEqual([]);
    expectNoCanaryAnywhere(s);
  });

  it("through PassEntry refusing the token, failing with 5xx and timing out, each echoing the token in its error text", async () => {
    const s = await start({
      PASSENTRY_TIMEOUT_MS: 400,
      SEND_LEASE_MS: 3_000,
      VISIBILITY_TIMEOUT_SECONDS: 10,
      timings: { timeoutSettleMs: 1_500 },
    });
    const echo = `Bearer ${CANARIES.passEntryToken} was refused (token ${CANARIES.passEntryToken})`;
    s.sandbox.injectNext(POST_BATCH, [
      { kind: "status", status: 401, body: { errors: [echo] } },
      {
        kind: "status",
        status: 500,
        body: `Internal error while handling Authorization: Bearer ${CANARIES.passEntryToken}`,
      },
      { kind: "delay", ms: 1_000 },
    ]);

    const answer = await s.request("POST", TRIGGER, EXAMPLE, bearer(s.apiKey));
    const id = JSON.parse(answer.text).data.id;
    await s.waitFor(
      async () => (await requestState(s, id)) === "submitted",
      "the request to be submitted after the failures",
    );

    const posts = s.sandbox
      .requests()
      .filter((r) => r.routeKey === POST_BATCH)
      .map((r) => r.status);
    expect(posts.slice(0, 2)).toEqual([401, 500]);
    expect(s.sandbox.batches()).toHaveLength(1);
    // PassEntry's echoes really were recorded somewhere we search, redacted: otherwise this test would prove nothing.
    expect(s.everythingWritten()).toContain("[redacted]");
    expectNoCanaryAnywhere(s);
  });

  it("through PassEntry echoing the token in other spellings in a refusal: base64, URL-safe base64, upper and lower case, URL-encoded, after `Bearer `", async () => {
    const s = await start();
    const token = CANARIES.passEntryToken;
    const echoes = [
      `token ${Buffer.from(token).toString("base64")}`,
      `header ${Buffer.from(`Authorization: Bearer ${token}`).toString("base64")}`,
      `basic ${Buffer.from(`user:${token}`).toString("base64url")}`,
      `upper ${token.toUpperCase()}`,
      `lower ${token.toLowerCase()}`,
      `encoded ${encodeURIComponent(`Bearer ${token}`)}`,
      `Bearer ${token}`,
      `Mixed bEaReR ${token.slice(0, 10).toUpperCase()}${token.slice(10)}`,
    ];
    s.sandbox.injectNext(POST_BATCH, [{ kind: "status", status: 422, body: { errors: echoes } }]);

    const answer = await s.request("POST", TRIGGER, EXAMPLE, bearer(s.apiKey));
    const id = JSON.parse(answer.text).data.id;
    await s.waitFor(
      async () => (await requestState(s, id)) === "failed",
      "the request to fail with PassEntry's refusal",
    );
    const failed = await s.request("GET", `/api/v1/requests/${id}`, undefined, bearer(s.apiKey));

    // Each echo really was recorded and answered (redacted): otherwise this test would prove nothing.
    const reason: string = JSON.parse(failed.text).data.attributes.failureReason;
    for (const label of ["token", "header", "basic", "upper", "lower", "encoded"])
      expect(reason).toContain(`${label} [redacted]`);
    expectNoCanaryAnywhere(s);
  });

  it("through a poison message and a request dead-lettered after repeated 5xx answers", async () => {
    const s = await start({
      PASSENTRY_TIMEOUT_MS: 400,
      SEND_LEASE_MS: 500,
      MAX_RECEIVES: 2,
      VISIBILITY_TIMEOUT_SECONDS: 5,
      timings: { serverErrorSettleMs: 50 },
    });
    // Each receive answers up to four 5xx in a row (one POST, then three after short settles) before handing the message back.
    s.sandbox.injectNext(
      POST_BATCH,
      Array.from({ length: 12 }, () => ({
        kind: "status" as const,
        status: 503,
        body: { errors: [`upstream rejected ${CANARIES.passEntryToken}`] },
      })),
    );

    await s.stack.queue.send({ hello: "world", note: "not a wallet message request" });
    await s.request("POST", TRIGGER, EXAMPLE, bearer(s.apiKey));
    await s.waitFor(() => s.stack.queue.deadLetters().length === 1, "the request to be dead-lettered", 30_000);

    expect(s.stack.queue.deadLetters()[0]!.lastError).toContain("upstream rejected [redacted]");
    expect(s.log.text()).toContain("queue message rejected");
    expect(s.sandbox.batches()).toHaveLength(0);
    expectNoCanaryAnywhere(s);
  });
});
