/**
 * GET /api/v1/requests and dead letters as a state, from the outside: HTTP against a started local
 * stack, counting what the sandbox received.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { SqliteDeadLetterQueue } from "../../functions/adapters/sqlite-dead-letter-queue.js";
import { isMarkedFor } from "../../functions/core/batch-rules.js";
import { MAX_EXAMINED } from "../../functions/core/list-requests.js";
import { redriveDeadLetters } from "../../functions/core/dead-letters.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";

const CRM = "crm-key-0123456789";
const SHOP = "shop-key-0123456789";
const OPS = "ops-key-0123456789";
const TOKEN = "list-token";

let sandbox: Sandbox;
let stack: LocalStack;
let dataDir: string;
const log = new MemoryLog();

beforeAll(async () => {
  sandbox = await startSandbox({ tokens: [TOKEN], validatingMs: 20, scheduledMs: Infinity, sendingMs: 20 });
  dataDir = mkdtempSync(join(tmpdir(), "wm-list-"));
  stack = await startLocalStack({
    DATA_DIR: dataDir,
    PASSENTRY_BASE_URL: sandbox.url,
    PASSENTRY_TOKEN: TOKEN,
    API_KEYS: `crm:${CRM},shop:${SHOP},operator:ops:${OPS}`,
    log,
    idlePollMs: 20,
    // One receive: a message handed back once is dead-lettered on its next receive.
    MAX_RECEIVES: 1,
    timings: { followUps: { firstDelaySeconds: 0.05, maxDelaySeconds: 0.5 } },
  });
});
afterAll(async () => {
  await stack.stop();
  await sandbox.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const api = async (path: string, key: string | null, init: RequestInit = {}) => {
  const response = await fetch(stack.url + path, {
    ...init,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      "content-type": "application/json",
      ...(init.headers as Record<string, string>),
    },
  });
  return { status: response.status, body: (await response.json()) as any };
};
const send = async (key: string, entity: string, batch: Record<string, unknown>) => {
  const answer = await api(`/api/v1/entities/${entity}/messaging/wallet`, key, {
    method: "POST",
    body: JSON.stringify({ batch }),
  });
  expect(answer.status).toBe(202);
  return answer.body.data.id as string;
};
const ids = (body: any) => (body.data as any[]).map((entry) => entry.id);

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(25);
  }
}

describe("GET /api/v1/requests", () => {
  let crmSegment: string;
  let crmRecipients: string;
  let shopRequest: string;

  beforeAll(async () => {
    crmSegment = await send(CRM, "ent-a", {
      message: "Doors open",
      segments: [{ groupTag: "vip" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    crmRecipients = await send(CRM, "ent-b", {
      message: "Hi",
      recipients: [{ passId: "pass-7" }, { extId: "member-9" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    shopRequest = await send(SHOP, "ent-a", {
      message: "Sale",
      segments: [{ groupTag: "all" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    await stack.drained();
  });

  it("shows a caller its own requests newest first, with state and progress, and an operator everyone's", async () => {
    const crm = await api("/api/v1/requests", CRM);
    const ops = await api("/api/v1/requests", OPS);

    expect(crm.status).toBe(200);
    expect(ids(crm.body)).toEqual([crmRecipients, crmSegment]);
    expect(crm.body.data[1]).toMatchObject({
      id: crmSegment,
      attributes: { status: "submitted", entityId: "ent-a", caller: "key:crm", progress: { chunks: 1, sent: 1 } },
      links: { self: `/api/v1/requests/${crmSegment}` },
    });
    expect(ids(ops.body).slice(0, 3)).toEqual([shopRequest, crmRecipients, crmSegment]);
  });

  it("filters by state, source, entity, pass and since", async () => {
    await api(`/api/v1/requests/${crmSegment}`, CRM, { method: "DELETE" });
    await stack.drained();
    const since = new Date(Date.now() + 60_000).toISOString();

    expect(ids((await api("/api/v1/requests?state=cancelled", OPS)).body)).toEqual([crmSegment]);
    expect(ids((await api("/api/v1/requests?entity=ent-a&state=submitted", OPS)).body)).toEqual([shopRequest]);
    expect(ids((await api("/api/v1/requests?pass=member-9", OPS)).body)).toEqual([crmRecipients]);
    expect(ids((await api("/api/v1/requests?source=schedule", OPS)).body)).toEqual([]);
    expect(ids((await api(`/api/v1/requests?since=${encodeURIComponent(since)}`, OPS)).body)).toEqual([]);
    expect(ids((await api("/api/v1/requests?entity=ent-a", SHOP)).body)).toEqual([shopRequest]);
  });

  it("pages with links.next until every request was shown once", async () => {
    const seen: string[] = [];
    let path: string | null = "/api/v1/requests?limit=1&entity=ent-a";
    for (let page = 0; path && page < 10; page++) {
      const answer: { body: any } = await api(path, OPS);
      seen.push(...ids(answer.body));
      path = answer.body.links.next;
    }

    expect(seen).toEqual([shopRequest, crmSegment]);
  });

  it("refuses an unknown filter or value with 400 saying what is allowed, and a missing key with 401", async () => {
    const unknown = await api("/api/v1/requests?colour=red", OPS);
    const badState = await api("/api/v1/requests?state=lost", OPS);
    const badCursor = await api("/api/v1/requests?cursor=nonsense", OPS);

    expect(unknown.status).toBe(400);
    expect(unknown.body.errors.join(" ")).toMatch(
      /colour.*Filters: state \(queued, submitted, failed, unknown, cancelled, deadLettered\)/,
    );
    expect(badState.status).toBe(400);
    expect(badState.body.errors.join(" ")).toMatch(/state/);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.errors.join(" ")).toMatch(
      /^cursor must be the value of links.next from an earlier page, unchanged/,
    );
    expect((await api("/api/v1/requests", null)).status).toBe(401);
  });
});

describe("a dead-lettered request", () => {
  it("shows deadLettered with its last error in the list and the detail, logs an ERROR, and a redrive sends it once", async () => {
    // Prepare: PassEntry refuses our token (rotated there, not yet here), so the send fails and is handed back.
    sandbox.setTokens(["rotated-at-passentry"]);
    const id = await send(OPS, "ent-dl", {
      message: "Back soon",
      segments: [{ groupTag: "vip" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });

    // Act: its one receive fails; the queue dead-letters it on the next.
    await until("the message to be dead-lettered", async () => stack.queue.depth().dead === 1);
    const detail = await api(`/api/v1/requests/${id}`, OPS);
    const listed = await api("/api/v1/requests?state=deadLettered", OPS);

    // Assess
    expect(detail.body.data.attributes.status).toBe("deadLettered");
    expect(detail.body.data.attributes.deadLetter).toMatchObject({ kind: "send", receiveCount: 1 });
    expect(detail.body.data.attributes.deadLetter.lastError).toMatch(/token|401|authori/i);
    expect(detail.body.data.attributes.failureReason).toBe(detail.body.data.attributes.deadLetter.lastError);
    expect(ids(listed.body)).toEqual([id]);
    expect(
      log.lines.some(
        (l) => l.level === "error" && l.message.startsWith("message dead-lettered") && l.fields.requestId === id,
      ),
    ).toBe(true);
    expect(sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }))).toEqual([]);

    // Act: PassEntry takes our token again; the operator redrives (twice: a double click).
    sandbox.setTokens([TOKEN]);
    const dlq = new SqliteDeadLetterQueue(stack.queue);
    const deps = { dlq, store: stack.store, ledger: stack.ledger, log, clock: { now: Date.now } };
    const redriven = await redriveDeadLetters(deps);
    const cleared = await api(`/api/v1/requests/${id}`, OPS);
    await redriveDeadLetters(deps);
    await until(
      "the redriven request to be submitted",
      async () => (await api(`/api/v1/requests/${id}`, OPS)).body.data.attributes.status === "submitted",
    );
    await stack.drained();

    // Assess: the mark is gone at once, and PassEntry received one batch.
    expect(redriven).toMatchObject({ moved: 1, requestIds: [id] });
    expect(cleared.body.data.attributes.deadLetter).toBeNull();
    expect(["queued", "submitted"]).toContain(cleared.body.data.attributes.status);
    expect(sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }))).toHaveLength(1);
    expect(ids((await api("/api/v1/requests?state=deadLettered", OPS)).body)).toEqual([]);
  });
});

describe("a caller's list beside another caller's busy hour", () => {
  let older: string;
  let oldest: string;
  const shopTexts: string[] = [];

  beforeAll(async () => {
    oldest = await send(CRM, "ent-cursor", {
      message: "Older news",
      segments: [{ groupTag: "vip" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    older = await send(CRM, "ent-cursor", {
      message: "Old news",
      segments: [{ groupTag: "vip" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    await stack.drained();
    // More of the shop's requests, all newer, than one page may examine.
    const base = Date.now() + 1_000;
    for (let i = 0; i < MAX_EXAMINED + 5; i++) {
      const record = {
        requestId: `shop-busy-${String(i).padStart(5, "0")}`,
        entityId: "ent-cursor",
        source: "http",
        caller: "key:shop",
        createdAt: new Date(base + i).toISOString(),
        batch: { message: "Busy", segments: [{ groupTag: "all" }], scheduledAt: "2030-03-31T13:16:26Z" },
      } as const;
      await stack.store.create(record as any);
      shopTexts.push(record.requestId, record.createdAt);
    }
  }, 60_000);

  it("shows the caller its own requests on the first page, whatever the other caller's volume", async () => {
    const crm = await api("/api/v1/requests?limit=5&entity=ent-cursor", CRM);
    const ops = await api("/api/v1/requests?limit=5&entity=ent-cursor", OPS);

    expect(ids(crm.body)).toEqual([older, oldest]);
    expect(crm.body.links.next).toBeNull();
    expect(ids(ops.body)).toHaveLength(5);
    expect(ops.body.links.next).toEqual(expect.any(String));
  });

  it("gives a cursor that names nothing, pages on, and is refused to another key or when edited", async () => {
    const first = await api("/api/v1/requests?limit=1&entity=ent-cursor", CRM);
    const next: string = first.body.links.next;
    const cursor = new URL(next, stack.url).searchParams.get("cursor")!;
    const readable = [cursor, Buffer.from(cursor, "base64url").toString("latin1"), decodeURIComponent(cursor)].join(
      "\n",
    );

    expect(ids(first.body)).toEqual([older]);
    expect([older, oldest, ...shopTexts].filter((text) => readable.includes(text))).toEqual([]);
    expect(ids((await api(next, CRM)).body)).toEqual([oldest]);
    const borrowed = await api(next, SHOP);
    expect(borrowed.status).toBe(400);
    expect(borrowed.body.errors.join(" ")).toMatch(/links\.next/);
    const tampered = cursor.slice(0, -2) + (cursor.endsWith("AA") ? "BB" : "AA");
    expect((await api(`/api/v1/requests?limit=1&entity=ent-cursor&cursor=${tampered}`, CRM)).status).toBe(400);
  });
});
