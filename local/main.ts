/**
 * `npm start`: the whole pipeline on this machine, no AWS needed. One process serves the trigger
 * API, queues durably in SQLite under DATA_DIR, sends from in-process workers, and talks to the
 * PassEntry sandbox unless PASSENTRY_BASE_URL (and PASSENTRY_TOKEN) name a real PassEntry.
 */
import "dotenv/config";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, loadLocalConfig } from "../functions/config.js";
import { powertoolsLog } from "../functions/adapters/powertools-log.js";
import { DEFAULT_SANDBOX_TOKEN, startSandbox, type Sandbox } from "./passentry-sandbox/sandbox.js";
import { startLocalStack } from "./stack.js";

/** A development key kept in DATA_DIR, so it survives restarts and the printed curl keeps working. */
function developmentApiKey(dataDir: string): string {
  const file = join(dataDir, "dev-api-key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const key = `dev_${randomBytes(18).toString("base64url")}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

async function main(): Promise<void> {
  const config = loadLocalConfig();
  const dataDir = resolve(config.DATA_DIR);
  const log = powertoolsLog();

  let sandbox: Sandbox | undefined;
  let passEntryBaseUrl = config.PASSENTRY_BASE_URL;
  let passEntryToken = config.PASSENTRY_TOKEN;
  if (!passEntryBaseUrl) {
    sandbox = await startSandbox({ host: "127.0.0.1", port: config.SANDBOX_PORT, tokens: [passEntryToken ?? DEFAULT_SANDBOX_TOKEN] });
    passEntryBaseUrl = sandbox.url;
    passEntryToken ??= DEFAULT_SANDBOX_TOKEN;
  }

  const generatedKey = config.API_KEYS ? undefined : developmentApiKey(dataDir);
  const apiKeys = config.API_KEYS ?? `dev:${generatedKey}`;
  const stack = await startLocalStack({
    host: config.HOST,
    port: config.PORT,
    dataDir,
    passEntryBaseUrl,
    passEntryToken: passEntryToken!,
    apiKeys,
    log,
    workers: config.SENDER_WORKERS,
    visibilityTimeoutSeconds: config.VISIBILITY_TIMEOUT_SECONDS,
    maxReceives: config.MAX_RECEIVES,
    ratePerSecond: config.PASSENTRY_RATE_PER_SECOND,
    passEntryTimeoutMs: config.PASSENTRY_TIMEOUT_MS,
    leaseMs: config.SEND_LEASE_MS,
    reconcilePages: config.RECONCILE_PAGES,
  });

  const depth = stack.queue.depth();
  const keyForCurl = generatedKey ?? "<one of your API_KEYS>";
  process.stdout.write(
    [
      "",
      `wallet-messaging is listening on ${stack.url}`,
      `  PassEntry:   ${sandbox ? `${sandbox.url} (local sandbox: a simulator of PassEntry's documented API)` : passEntryBaseUrl}`,
      `  data:        ${dataDir} (queue: ${depth.visible + depth.inFlight} waiting, ${depth.dead} dead-lettered)`,
      `  API key:     ${generatedKey ? `${generatedKey} (generated for development; set API_KEYS to choose your own)` : "from API_KEYS"}`,
      "",
      "Try PassEntry's own example request:",
      `  curl -s -X POST ${stack.url}/api/v1/entities/my-entity/messaging/wallet \\`,
      `    -H 'Authorization: Bearer ${keyForCurl}' -H 'Content-Type: application/json' \\`,
      `    -d '{"batch":{"message":"Hello, World!","segments":[{"groupTag":"summerPromotion"}],"scheduledAt":"2030-03-31T13:16:26Z"}}'`,
      "Then follow it with the links.self path it answers:",
      `  curl -s ${stack.url}/api/v1/requests/<id> -H 'Authorization: Bearer ${keyForCurl}'`,
      "",
    ].join("\n") + "\n",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping; in-flight sends finish or return to the queue...\n`);
    await stack.stop();
    await sandbox?.close();
    process.stdout.write("stopped.\n");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((error) => {
  const message = error instanceof ConfigError ? error.message : `wallet-messaging could not start: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
