/**
 * PassEntryHttpClient's send-now and cancel, against the sandbox: the same classification, pacing
 * per endpoint and method, circuit breaker and token hygiene as creating a batch.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import {
  PassEntryHttpClient,
  ROUTE_CANCEL_BATCH,
  ROUTE_CREATE_BATCH,
  ROUTE_SEND_NOW,
  ROUTE_SHOW_BATCH,
} from "../../functions/adapters/passentry-http-client.js";
import { StaticSecretStore } from "../../functions/adapters/static-secret-store.js";
import { CircuitBreaker } from "../../functions/core/circuit-breaker.js";
import { PassEntryError } from "../../functions/core/errors.js";
import type { Pacer } from "../../functions/core/pacer.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "../../local/passentry-sandbox/sandbox.js";

const TOKEN = "canary-token-batch-actions";
const BATCH = {
  message: "Happy hour starts at 5pm",
  segments: [{ groupTag: "summerPromotion" }],
  scheduledAt: "2030-03-31T13:16:26Z",
};

const sandboxes: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.close()));
});

async function start(options: SandboxOptions = {}): Promise<Sandbox> {
  // Validation is quick and nothing leaves `scheduled` on its own: send-now and cancel decide.
  const sandbox = await startSandbox({
    tokens: [TOKEN],
    validatingMs: 20,
    scheduledMs: Infinity,
    sendingMs: 20,
    ...options,
  });
  sandboxes.push(sandbox);
  return sandbox;
}

const clientFor = (sandbox: Sandbox, extra: { pacer?: Pacer; breaker?: CircuitBreaker } = {}) =>
  new PassEntryHttpClient({
    baseUrl: sandbox.url,
    secrets: new StaticSecretStore({ "passentry-token": TOKEN }),
    timeoutMs: 5_000,
    ...extra,
  });

async function scheduledBatch(sandbox: Sandbox, client: PassEntryHttpClient): Promise<string> {
  const created = await client.createBatch({ entityId: "ent-1", batch: BATCH });
  while (sandbox.batches().find((b) => b.id === created.data.id)?.status !== "scheduled") await sleep(5);
  return created.data.id;
}

async function failureOf(call: Promise<unknown>): Promise<PassEntryError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PassEntryError);
  return error as PassEntryError;
}

describe("PassEntryHttpClient.sendNow", () => {
  it("sends a scheduled batch at once: PassEntry moves it to sending", async () => {
    // Sending lasts long enough to be seen: with 20 ms a busy CI machine reads it already successful.
    const sandbox = await start({ sendingMs: 60_000 });
    const client = clientFor(sandbox);
    const batchId = await scheduledBatch(sandbox, client);

    await client.sendNow(batchId);

    expect(sandbox.batches()[0]).toMatchObject({ id: batchId, status: "sending", sentNowAt: expect.any(String) });
    expect(sandbox.requests().at(-1)).toMatchObject({
      method: "POST",
      path: `/api/v1/batches/${batchId}/send-now`,
      status: 200,
      authorized: true,
    });
  });

  it("is a permanent failure when the batch is not scheduled (still validating)", async () => {
    const sandbox = await start({ validatingMs: 60_000 });
    const client = clientFor(sandbox);
    const created = await client.createBatch({ entityId: "ent-1", batch: BATCH });

    const error = await failureOf(client.sendNow(created.data.id));

    expect(error.kind).toBe("permanent");
    expect(error.details.status).toBe(422);
    expect(sandbox.batches()[0]?.status).toBe("validating");
  });

  it("is retryable with an unknown outcome on a 5xx, since send-now may have taken effect", async () => {
    const sandbox = await start();
    const client = clientFor(sandbox);
    const batchId = await scheduledBatch(sandbox, client);
    sandbox.injectNext(ROUTE_SEND_NOW, [{ kind: "status", status: 502 }]);

    const error = await failureOf(client.sendNow(batchId));

    expect(error.kind).toBe("retryable");
    expect(error.details).toMatchObject({ status: 502, outcomeKnown: false });
  });

  it("never puts the token in its error, even when PassEntry's text echoes it", async () => {
    const sandbox = await start();
    const client = clientFor(sandbox);
    const batchId = await scheduledBatch(sandbox, client);
    sandbox.injectNext(ROUTE_SEND_NOW, [
      { kind: "status", status: 403, body: { errors: [`Bearer ${TOKEN} may not send now`] } },
    ]);

    const error = await failureOf(client.sendNow(batchId));

    expect(error.kind).toBe("authentication");
    expect(`${error.message} ${JSON.stringify(error.details)} ${error.stack}`).not.toContain(TOKEN);
  });
});

describe("PassEntryHttpClient.cancelBatch", () => {
  it("cancels a scheduled batch and answers the batch, now cancelled", async () => {
    const sandbox = await start();
    const client = clientFor(sandbox);
    const batchId = await scheduledBatch(sandbox, client);

    const answer = await client.cancelBatch(batchId);

    expect(answer.data).toMatchObject({ id: batchId, attributes: { status: "cancelled" } });
    expect(sandbox.batches()[0]?.status).toBe("cancelled");
    expect(sandbox.requests().at(-1)).toMatchObject({
      method: "PATCH",
      path: `/api/v1/batches/${batchId}/cancel`,
      status: 200,
    });
  });

  it("is a permanent failure once the batch is sending", async () => {
    const sandbox = await start({ sendingMs: 60_000 });
    const client = clientFor(sandbox);
    const batchId = await scheduledBatch(sandbox, client);
    await client.sendNow(batchId);

    const error = await failureOf(client.cancelBatch(batchId));

    expect(error.kind).toBe("permanent");
    expect(sandbox.batches()[0]?.status).toBe("sending");
  });
});

describe("pacing and circuit breaking of send-now and cancel", () => {
  it("paces each call under its own endpoint and method", async () => {
    const sandbox = await start();
    const keys: string[] = [];
    const pacer = { acquire: async (key: string) => void keys.push(key) } as unknown as Pacer;
    const client = clientFor(sandbox, { pacer });
    const batchId = await scheduledBatch(sandbox, client);

    await client.getBatch(batchId);
    await client.sendNow(batchId);
    await client.cancelBatch(batchId).catch(() => undefined);

    expect(keys).toEqual([ROUTE_CREATE_BATCH, ROUTE_SHOW_BATCH, ROUTE_SEND_NOW, ROUTE_CANCEL_BATCH]);
    expect(ROUTE_SEND_NOW).toBe("POST /api/v1/batches/:id/send-now");
    expect(ROUTE_CANCEL_BATCH).toBe("PATCH /api/v1/batches/:id/cancel");
  });

  it("does not call PassEntry while the circuit is open after outage signs", async () => {
    const sandbox = await start();
    const client = clientFor(sandbox, { breaker: new CircuitBreaker({ threshold: 1, cooldownMs: 60_000 }) });
    const batchId = await scheduledBatch(sandbox, client);
    sandbox.injectNext(ROUTE_SEND_NOW, [{ kind: "status", status: 503 }]);
    await failureOf(client.sendNow(batchId));
    const before = sandbox.requests().length;

    const error = await failureOf(client.cancelBatch(batchId));

    expect(error.details).toMatchObject({ circuitOpen: true, outcomeKnown: true });
    expect(sandbox.requests()).toHaveLength(before);
    expect(sandbox.batches()[0]?.status).toBe("scheduled");
  });
});
