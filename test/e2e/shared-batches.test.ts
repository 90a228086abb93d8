/**
 * Sharing PassEntry batches keeps every guarantee per request (issue 14): one caller's one-recipient requests that differ only in their
 * recipients share PassEntry batches, and every guarantee stays per request. Driven over loopback
 * HTTP against the embedded home with its workers stopped while requests pile up (as a burst
 * would), then counted at the sandbox.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { parseBatchMarker } from "../../functions/core/batch-rules.js";
import type { WalletMessageEvent } from "../../functions/core/schemas.js";
import { REFUSED_RECIPIENT_MARKER, startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../local/stack.js";

const CRM = "crm-key-0123456789";
const SHOP = "shop-key-0123456789";
const OPS = "ops-key-0123456789";
const TEMPLATE = { message: "Hi %{name}, thanks for your order", scheduledAt: "2030-03-31T13:16:26Z" };
const CREATE = "POST /api/v1/entities/:id/messaging/wallet";

let sandbox: Sandbox;
let stack: LocalStack;
let dataDir: string;
let log: MemoryLog;
const published: WalletMessageEvent[] = [];

beforeEach(async () => {
  sandbox = await startSandbox({
    tokens: ["shared-token"],
    rateLimitPerSecond: 1000,
    validatingMs: 50,
    scheduledMs: Infinity,
  });
  dataDir = mkdtempSync(join(tmpdir(), "wm-shared-"));
  published.length = 0;
});
afterEach(async () => {
  await stack?.stop();
  await sandbox.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function start(overrides: Partial<LocalStackOptions> = {}) {
  log = new MemoryLog();
  stack = await startLocalStack({
    DATA_DIR: dataDir,
    PASSENTRY_BASE_URL: sandbox.url,
    PASSENTRY_TOKEN: "shared-token",
    API_KEYS: `crm:${CRM},shop:${SHOP},operator:ops:${OPS}`,
    log,
    idlePollMs: 20,
    PASSENTRY_RATE_PER_SECOND: 200,
    SENDER_WORKERS: 1,
    SHARE_GATHER_MS: 100,
    startWorkers: false,
    timings: { followUps: { firstDelaySeconds: 0.05, maxDelaySeconds: 0.5 } },
    ...overrides,
  });
  stack.events.subscribe((event) => published.push(event.detail as WalletMessageEvent));
}

async function post(body: object, key = CRM): Promise<string> {
  const answer = await fetch(`${stack.url}/api/v1/entities/ent-1/messaging/wallet`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ batch: body }),
  });
  expect(answer.status).toBe(202);
  return ((await answer.json()) as { data: { id: string } }).data.id;
}

const one = (i: number, extra: object = {}) => ({
  ...TEMPLATE,
  recipients: [{ passId: `pass-${i}`, variables: { name: `Member ${i}` } }],
  ...extra,
});
const view = async (id: string, key = CRM) =>
  (
    (await (
      await fetch(`${stack.url}/api/v1/requests/${id}`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as any
  ).data.attributes;
const cancel = (id: string, key = CRM) =>
  fetch(`${stack.url}/api/v1/requests/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${key}` } });
const creates = () => sandbox.requests().filter((r) => r.routeKey === CREATE);

async function run(): Promise<void> {
  stack.runner.start();
  await stack.drained(20_000);
}

describe("shared batches", () => {
  it("sends a caller's one-recipient requests as one PassEntry batch, each recipient with its own variables, each request with its own status", async () => {
    await start();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await post(one(i)));

    await run();

    const batches = sandbox.batches();
    expect(batches).toHaveLength(1);
    expect(creates()).toHaveLength(1);
    expect(batches[0]!.body.batch.recipients).toEqual(
      ids.map((_, i) => ({ passId: `pass-${i}`, variables: { name: `Member ${i}` } })),
    );
    expect(batches[0]!.body.batch).not.toHaveProperty("coalesce");
    expect(parseBatchMarker(batches[0]!.name)?.requestId).toMatch(/^grp-/);
    for (const id of ids) {
      const attributes = await view(id);
      expect(attributes).toMatchObject({ status: "submitted", batchId: batches[0]!.id });
      expect(attributes.batches[0]).toMatchObject({
        state: "sent",
        totalCount: 1,
        status: expect.any(String),
        sharedBatch: { groupId: expect.stringMatching(/^grp-/), requests: 30 },
      });
    }
    // Each request hears about its own part, under its own id.
    expect(
      published
        .filter((e) => e.type === "WalletMessageBatchCreated")
        .map((e) => e.requestId)
        .sort(),
    ).toEqual([...ids].sort());
  });

  it("never shares across callers, messages or schedules, nor with a request that opts out or targets segments", async () => {
    await start();
    const crm = [await post(one(1)), await post(one(2))];
    const shop = [await post(one(3), SHOP), await post(one(4), SHOP)];
    const otherMessage = [
      await post(one(5, { message: "Another message" })),
      await post(one(6, { message: "Another message" })),
    ];
    const optedOut = await post(one(7, { coalesce: false }));
    const segments = await post({ ...TEMPLATE, segments: [{ groupTag: "vip" }] });

    await run();

    const batchOf = async (id: string, key = CRM) => (await view(id, key)).batchId as string;
    expect(await batchOf(crm[0]!)).toBe(await batchOf(crm[1]!));
    expect(await batchOf(shop[0]!, SHOP)).toBe(await batchOf(shop[1]!, SHOP));
    expect(await batchOf(shop[0]!, SHOP)).not.toBe(await batchOf(crm[0]!));
    expect(await batchOf(otherMessage[0]!)).toBe(await batchOf(otherMessage[1]!));
    expect(await batchOf(otherMessage[0]!)).not.toBe(await batchOf(crm[0]!));
    expect((await view(optedOut)).batches[0].sharedBatch).toBeNull();
    expect((await view(segments)).batches[0].sharedBatch).toBeNull();
    expect(sandbox.batches()).toHaveLength(5);
  });

  it("never puts two requests naming the same pass in one batch: each pass gets each message it was sent", async () => {
    await start();
    const first = await post(one(1));
    const again = await post({ ...one(1), recipients: [{ passId: "pass-1", variables: { name: "Again" } }] });
    const other = await post(one(2));

    await run();

    expect((await view(first)).batchId).not.toBe((await view(again)).batchId);
    expect((await view(first)).batchId).toBe((await view(other)).batchId);
    expect(
      sandbox
        .batches()
        .flatMap((b) => b.body.batch.recipients.map((r: { passId: string }) => r.passId))
        .filter((p: string) => p === "pass-1"),
    ).toHaveLength(2);
  });

  it("splits a shared batch PassEntry refuses, until only the request to blame fails, with PassEntry's reason", async () => {
    await start();
    const good: string[] = [];
    for (let i = 0; i < 6; i++) good.push(await post(one(i)));
    const bad = await post({
      ...TEMPLATE,
      recipients: [{ passId: `${REFUSED_RECIPIENT_MARKER}-gone`, variables: { name: "Nobody" } }],
    });
    for (let i = 6; i < 9; i++) good.push(await post(one(i)));

    await run();

    expect(await view(bad)).toMatchObject({
      status: "failed",
      failureReason: expect.stringMatching(/names a pass that does not exist/),
    });
    for (const id of good) expect((await view(id)).status).toBe("submitted");
    const delivered = sandbox
      .batches()
      .flatMap((b) => b.body.batch.recipients.map((r: { passId: string }) => r.passId));
    expect(delivered.sort()).toEqual(Array.from({ length: 9 }, (_, i) => `pass-${i}`).sort());
    // Halving: 10 requests, one bad: far fewer calls than sending each alone would need twice over.
    expect(creates().length).toBeLessThanOrEqual(9);
    expect(published.filter((e) => e.type === "WalletMessageBatchFailed").map((e) => e.requestId)).toEqual([bad]);
  });

  it("leaves a request cancelled before its shared batch is posted out of it, exactly", async () => {
    await start();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await post(one(i)));
    // The cancel lands after the requests joined their group and before its POST (when the group is stored).
    const store = stack.store;
    const create = store.create.bind(store);
    let cancelled = false;
    store.create = async (record) => {
      if (record.source === "group" && !cancelled) {
        cancelled = true;
        expect((await cancel(ids[2]!)).status).toBe(202);
      }
      return create(record);
    };

    await run();

    expect(cancelled).toBe(true);
    const [batch] = sandbox.batches();
    expect(batch!.body.batch.recipients.map((r: { passId: string }) => r.passId)).toEqual([
      "pass-0",
      "pass-1",
      "pass-3",
      "pass-4",
    ]);
    expect(await view(ids[2]!)).toMatchObject({ status: "cancelled", batchId: null });
    expect((await view(ids[0]!)).status).toBe("submitted");
  });

  it("cancels a posted shared batch only when every request in it asked, and says why not until then", async () => {
    await start();
    const ids = [await post(one(1)), await post(one(2)), await post(one(3))];
    await run();
    const batchId = (await view(ids[0]!)).batchId;

    await cancel(ids[0]!);
    await stack.drained(20_000);

    expect(sandbox.batches().find((b) => b.id === batchId)!.status).not.toBe("cancelled");
    expect((await view(ids[0]!)).batches[0].note).toMatch(
      /shares PassEntry batch .* with 2 other request\(s\), 2 of which were not cancelled/,
    );

    await cancel(ids[1]!);
    await cancel(ids[2]!);
    await stack.drained(20_000);

    expect(sandbox.batches().find((b) => b.id === batchId)!.status).toBe("cancelled");
    for (const id of ids) expect((await view(id)).batches[0].status).toBe("cancelled");
  });

  it("refuses to cancel a shared batch by its own id (409 saying to cancel its requests), and changes nothing", async () => {
    await start();
    const ids = [await post(one(1)), await post(one(2)), await post(one(3))];
    await run();
    const { batchId, batches } = await view(ids[0]!);
    const groupId = batches[0].sharedBatch.groupId as string;

    for (const key of [CRM, OPS]) {
      const answer = await cancel(groupId, key);
      expect(answer.status).toBe(409);
      expect(((await answer.json()) as { errors: string[] }).errors.join(" ")).toMatch(
        /cancel the requests it carries/,
      );
    }
    await stack.drained(20_000);

    expect(sandbox.batches().find((b) => b.id === batchId)!.status).not.toBe("cancelled");
    for (const id of ids) expect(await view(id)).toMatchObject({ status: "submitted", cancelledBy: null });
  });

  it("sends nothing new when a member's message comes again: it finds its shared batch", async () => {
    await start();
    const ids = [await post(one(1)), await post(one(2))];
    await run();
    stack.runner.stop();
    for (const id of ids)
      await stack.queue.send({ requestId: id, entityId: "ent-1", batch: one(ids.indexOf(id) + 1), source: "http" });

    stack.runner.start();
    await stack.drained(20_000);

    expect(creates()).toHaveLength(1);
    for (const id of ids) expect((await view(id)).status).toBe("submitted");
  });

  it("finishes a shared batch whose worker died after posting it: a member's next delivery finds the batch and settles every member", async () => {
    await start({ SEND_LEASE_MS: 300 });
    const ids = [await post(one(1)), await post(one(2)), await post(one(3))];
    // The worker dies right after PassEntry created the shared batch, before recording it.
    const ledger = stack.ledger;
    const write = ledger.write.bind(ledger);
    let died = false;
    ledger.write = async (move) => {
      if (!died && move.key.requestId.startsWith("grp-") && move.next.state === "sent") {
        died = true;
        throw new Error("the worker died");
      }
      return write(move);
    };

    await run();

    expect(died).toBe(true);
    expect(creates()).toHaveLength(1);
    for (const id of ids)
      expect(await view(id)).toMatchObject({ status: "submitted", batchId: sandbox.batches()[0]!.id });
  });
});
