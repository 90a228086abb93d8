// biome-ignore-all lint/performance/useDomNodeTextContent: innerText is what the operator sees (hidden text excluded), which is what these tests check.
/**
 * The operator console in a real browser (headless Chromium): a request sent over the API appears
 * with its batch; a dead letter is redriven from the page and sent once; a page without a key
 * shows nothing; what callers wrote is shown as text, never run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { isMarkedFor } from "../../functions/core/batch-rules.js";
import { startSandbox, type Sandbox } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";
import { launchChromium, type LaunchedBrowser } from "./support/browser.js";

const OPS = "ops-console-key-0123456789";
const CRM = "crm-console-key-0123456789";
const TOKEN = "console-token";

let sandbox: Sandbox;
let stack: LocalStack;
let chromium: LaunchedBrowser;
let dataDir: string;

beforeAll(async () => {
  sandbox = await startSandbox({ tokens: [TOKEN], validatingMs: 20, scheduledMs: Infinity, sendingMs: 20 });
  dataDir = mkdtempSync(join(tmpdir(), "wm-console-"));
  stack = await startLocalStack({
    DATA_DIR: dataDir,
    PASSENTRY_BASE_URL: sandbox.url,
    PASSENTRY_TOKEN: TOKEN,
    API_KEYS: `crm:${CRM},operator:ops:${OPS}`,
    log: new MemoryLog(),
    idlePollMs: 20,
    MAX_RECEIVES: 1,
    timings: { followUps: { firstDelaySeconds: 0.05, maxDelaySeconds: 0.5 } },
    consoleSandbox: { url: sandbox.url, batches: () => sandbox.batches() },
  });
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await stack?.stop();
  await sandbox?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function send(batch: Record<string, unknown>): Promise<string> {
  const answer = await fetch(`${stack.url}/api/v1/entities/ent-console/messaging/wallet`, {
    method: "POST",
    headers: { authorization: `Bearer ${CRM}`, "content-type": "application/json" },
    body: JSON.stringify({ batch }),
  });
  expect(answer.status).toBe(202);
  return ((await answer.json()) as any).data.id;
}

async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(50);
  }
}

async function signIn(page: Page, key: string) {
  await chromium.context.clearCookies();
  await page.goto(`${stack.url}/`);
  await page.fill('input[name="key"]', key);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/console/sign-in")),
    page.click('button:has-text("Sign in")'),
  ]);
  await page.waitForLoadState("load");
}

describe("the console", () => {
  it("shows nothing without a key: the sign-in form only, and no request through any page", async () => {
    const id = await send({
      message: "Private <b>offer</b>",
      segments: [{ groupTag: "vip" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    const page = await chromium.context.newPage();

    await page.goto(`${stack.url}/`);
    const home = await page.content();
    const detail = await page.goto(`${stack.url}/console/requests/${id}`);
    const afterDetail = await page.content();
    await signIn(page, CRM);
    const plainKey = await page.content();

    expect(home).toContain("Sign in");
    expect(home).not.toContain(id);
    expect(detail?.url()).toBe(`${stack.url}/`);
    expect(afterDetail).not.toContain(id);
    expect(afterDetail).not.toContain("Private");
    expect(plainKey).toContain("not an operator");
    expect(plainKey).not.toContain(id);
    expect(await chromium.context.cookies()).toEqual([]);
    await page.close();
  });

  it("shows a request sent over the API with its batch, escaped, and never renders the key", async () => {
    const id = await send({
      message: "Doors open <script>document.title='pwned'</script>",
      segments: [{ groupTag: "vip" }],
    });
    await until("the batch to finish", () =>
      sandbox.batches().some((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }) && b.status === "successful"),
    );
    await stack.drained();
    const batchId = sandbox.batches().find((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }))!.id;
    const page = await chromium.context.newPage();

    await signIn(page, OPS);
    const cookie = (await chromium.context.cookies()).find((c) => c.name === "wm_console");
    await page.click(`a[href="/console/requests/${id}"]`);
    const detail = await page.content();
    const text = await page.innerText("main");

    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(cookie!.value).not.toContain(OPS);
    expect(text).toContain(`Request ${id}`);
    expect(text).toContain(batchId);
    expect(text).toMatch(/successful/);
    expect(text).toContain("<script>document.title='pwned'</script>");
    expect(await page.title()).not.toBe("pwned");
    expect(await page.locator("main script").count()).toBe(0);
    expect(await page.locator('a:has-text("delivery CSV")').count()).toBe(1);
    expect(detail).not.toContain(OPS);
    expect(detail).not.toContain(TOKEN);
    await chromium.context.clearCookies();
    await page.close();
  });

  it("redrives a dead letter from the page: the request is sent once, and a second press sends nothing more", async () => {
    sandbox.setTokens(["rotated-at-passentry"]);
    const id = await send({
      message: "Back soon",
      segments: [{ groupTag: "vip" }],
      scheduledAt: "2030-03-31T13:16:26Z",
    });
    await until("the message to be dead-lettered", () => stack.queue.depth().dead === 1);
    const page = await chromium.context.newPage();
    await signIn(page, OPS);
    const before = await page.innerText("#dead-letters");
    const row = await page.innerText(`#requests tr:has(a[href="/console/requests/${id}"])`);

    sandbox.setTokens([TOKEN]);
    const csrf = await page.inputValue('form[action="/console/redrive"] input[name="csrf"]');
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/console/redrive")),
      page.click('button:has-text("Redrive all dead letters")'),
    ]);
    await page.waitForLoadState("load");
    const after = await page.innerText("main");
    await until("the redriven request to reach PassEntry", () =>
      sandbox.batches().some((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 })),
    );
    // The same form again (a double click, or the back button): nothing is left to move, and the ledger would stop a second send.
    const again = await page.request.post(`${stack.url}/console/redrive`, { form: { csrf }, maxRedirects: 0 });
    await stack.drained();

    expect(before).toContain(id);
    expect(before).toMatch(/401|token|authori/i);
    expect(row).toContain("deadLettered");
    expect(after).toContain("1 message(s) moved back to the queue.");
    expect(again.status()).toBe(303);
    expect(sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId: id, chunk: 0 }))).toHaveLength(1);
    await page.close();
  });

  it("refuses an action whose form carries no valid CSRF token", async () => {
    const page = await chromium.context.newPage();
    await signIn(page, OPS);

    // The page's own cookie (page.request shares the browser's), but a forged token.
    const forged = await page.request.post(`${stack.url}/console/redrive`, {
      form: { csrf: "forged" },
      maxRedirects: 0,
    });
    const noToken = await page.request.post(`${stack.url}/console/redrive`, { form: {}, maxRedirects: 0 });

    expect(forged.status()).toBe(403);
    expect(noToken.status()).toBe(403);
    await page.close();
  });
});
