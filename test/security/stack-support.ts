/**
 * The embedded home (`npm start`'s pipeline) for the security suites: a PassEntry sandbox, the
 * local stack with every kind of secret configured, and ways to see everything the stack wrote:
 * log lines, queue messages (live and dead), SQLite rows and the raw files under DATA_DIR.
 *
 * @example
 *   const env = await startSecuredStack({ canaries: true });
 *   await env.post("/api/v1/entities/e/messaging/wallet", body, { authorization: `Bearer ${env.apiKey}` });
 *   expect(env.everythingWritten()).not.toContain(env.secrets.passEntryToken);
 *   await env.stop();
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryLog } from "../../functions/adapters/memory-log.js";
import { parseAutomations, type Automation } from "../../functions/core/automations.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../local/stack.js";

/** Secrets nobody would choose, so finding one anywhere is certainly a leak. */
export const CANARIES = {
  passEntryToken: "canary-passentry-token-Q7d2Lx9",
  apiKey: "canary-api-key-Vb81mZ3p",
  /** An operator key: sees every caller's requests. */
  operatorKey: "canary-operator-key-Hs4q0Wt7",
  /** Standard Webhooks secret: `whsec_` + base64 of these bytes; both forms are searched for. */
  signingSecretBytes: "canary-signing-secret-kW3",
  passEntryWebhookSecret: "canary-pe-webhook-secret-u5T",
} as const;
export const CANARY_SIGNING_SECRET = `whsec_${Buffer.from(CANARIES.signingSecretBytes).toString("base64")}`;

/** Every form in which a configured secret could show up. */
export const CANARY_FORMS: readonly string[] = [
  CANARIES.passEntryToken,
  CANARIES.apiKey,
  CANARIES.operatorKey,
  CANARIES.signingSecretBytes,
  CANARY_SIGNING_SECRET,
  CANARY_SIGNING_SECRET.slice("whsec_".length),
  CANARIES.passEntryWebhookSecret,
];

/**
 * Where `secret` shows up in `text` in any spelling we know of: as is in any letter case, with its
 * characters percent-encoded, or base64-encoded (standard or URL-safe, at any position in a longer
 * encoded text, e.g. a whole `Authorization: Bearer …` header). It decodes what it finds rather than
 * encoding the secret, so it does not share the production code's method. Returns the spelling
 * found, or undefined.
 */
export function secretFoundIn(text: string, secret: string): string | undefined {
  const wanted = secret.toLowerCase();
  if (text.toLowerCase().includes(wanted)) return "as is (any case)";
  const percentDecoded = text.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  if (percentDecoded.toLowerCase().includes(wanted)) return "percent-encoded";
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}/g) ?? []) {
    const standard = run.replace(/-/g, "+").replace(/_/g, "/");
    for (let offset = 0; offset < 4; offset++) {
      const decoded = Buffer.from(standard.slice(offset), "base64").toString("latin1").toLowerCase();
      if (decoded.includes(wanted)) return `base64 (${run.slice(0, 12)}…)`;
    }
  }
  return undefined;
}

export const WELCOME: Automation = parseAutomations({
  automations: [
    {
      id: "welcome",
      on: "passInstalled",
      entityId: "ent-auto",
      message: "Welcome, %{fullName}!",
      variableDefaults: { fullName: "friend" },
    },
  ],
})[0]!;

export interface HttpExchange {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface SecuredStack {
  sandbox: Sandbox;
  stack: LocalStack;
  log: MemoryLog;
  dataDir: string;
  apiKey: string;
  /** The `operator:ops` key (configured unless `apiKeys` is overridden). */
  operatorKey: string;
  signingSecret: string;
  passEntryWebhookSecret: string;
  /** Every answer received through `request`, kept for leak checks. */
  exchanges: HttpExchange[];
  request(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<HttpExchange>;
  /** Log lines, queue messages (live and dead with their last errors), every SQLite row, every raw file under DATA_DIR, every answer. */
  everythingWritten(): string;
  waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SecuredStackOptions
  extends Partial<Omit<LocalStackOptions, "log" | "DATA_DIR" | "PASSENTRY_BASE_URL">> {
  sandboxRateLimitPerSecond?: number;
  /** Sandbox lifecycle timings, e.g. `{ scheduledMs: Infinity }` to keep batches cancellable. */
  sandbox?: Pick<SandboxOptions, "validatingMs" | "scheduledMs" | "sendingMs">;
}

/** Starts a sandbox and a local stack whose every secret is a canary. Always `await stop()`. */
export async function startSecuredStack(options: SecuredStackOptions = {}): Promise<SecuredStack> {
  const sandbox = await startSandbox({
    tokens: [CANARIES.passEntryToken],
    rateLimitPerSecond: options.sandboxRateLimitPerSecond ?? 1000,
    validatingMs: 50,
    scheduledMs: 100,
    sendingMs: 50,
    ...options.sandbox,
  });
  const dataDir = mkdtempSync(join(tmpdir(), "wm-security-"));
  const log = new MemoryLog();
  const { sandbox: _sandboxOptions, sandboxRateLimitPerSecond: _rate, ...stackOptions } = options;
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      DATA_DIR: dataDir,
      PASSENTRY_BASE_URL: sandbox.url,
      PASSENTRY_TOKEN: CANARIES.passEntryToken,
      API_KEYS: `crm:${CANARIES.apiKey},operator:ops:${CANARIES.operatorKey}`,
      WEBHOOK_SIGNING_SECRETS: `shop:${CANARY_SIGNING_SECRET}`,
      PASSENTRY_WEBHOOK_SECRETS: CANARIES.passEntryWebhookSecret,
      automations: [WELCOME],
      log,
      idlePollMs: 20,
      SENDER_WORKERS: 1,
      PASSENTRY_RATE_PER_SECOND: 50,
      ...stackOptions,
    });
  } catch (error) {
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const exchanges: HttpExchange[] = [];
  return {
    sandbox,
    stack,
    log,
    dataDir,
    apiKey: CANARIES.apiKey,
    operatorKey: CANARIES.operatorKey,
    signingSecret: CANARY_SIGNING_SECRET,
    passEntryWebhookSecret: CANARIES.passEntryWebhookSecret,
    exchanges,
    async request(method, path, body, headers = {}) {
      const answer = await fetch(stack.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : new Uint8Array(typeof body === "string" ? Buffer.from(body) : body),
      });
      const exchange = {
        status: answer.status,
        headers: Object.fromEntries(answer.headers),
        text: await answer.text(),
      };
      exchanges.push(exchange);
      return exchange;
    },
    everythingWritten() {
      const tables = (
        stack.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
      ).map((t) => t.name);
      const rows = tables.map((table) => JSON.stringify(stack.db.prepare(`SELECT * FROM "${table}"`).all()));
      const files = readdirSync(dataDir).map((file) => readFileSync(join(dataDir, file)).toString("latin1"));
      return [
        log.text(),
        JSON.stringify(stack.queue.peek()),
        JSON.stringify(stack.queue.deadLetters()),
        ...rows,
        ...files,
        JSON.stringify(exchanges),
      ].join("\n");
    },
    async waitFor(condition, what, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      while (!(await condition())) {
        if (Date.now() > until) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async stop() {
      await stack.stop().catch(() => undefined);
      await sandbox.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
