/**
 * `npm start`: the whole pipeline on this machine, no AWS needed. One process serves the trigger
 * API, queues durably in SQLite under DATA_DIR, sends from in-process workers, and talks to the
 * PassEntry sandbox unless PASSENTRY_BASE_URL (and PASSENTRY_TOKEN) name a real PassEntry.
 */
import "dotenv/config";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { loadLocalConfig } from "../functions/config.js";
import { ConfigError } from "../functions/core/errors.js";
import { powertoolsLog } from "../functions/adapters/powertools-log.js";
import { prettyLog } from "../functions/adapters/pretty-log.js";
import { parseApiKeys } from "../functions/core/api-keys.js";
import { parseAutomations, type Automation } from "../functions/core/automations.js";
import { parsePromotionsFile, type Promotion } from "../functions/core/promotions.js";
import { parsePassEntryWebhookSecrets, parseSigningSecrets } from "../functions/core/webhook-signatures.js";
import { DEFAULT_SANDBOX_TOKEN, startSandbox, type Sandbox } from "./passentry-sandbox/sandbox.js";
import { DEFAULT_AUTH_FAILURE_LIMIT, DEFAULT_UNVERIFIED_BODY_LIMIT } from "./door.js";
import { privateDirectory } from "../functions/adapters/sqlite-database.js";
import { databasePath, startLocalStack } from "./stack.js";

/**
 * A development key kept in DATA_DIR, so it survives restarts and the printed curl keeps working.
 * It is an operator key (`operator:dev`): on this machine its holder is the operator, and the CLI,
 * which uses it by default, must see and cancel every caller's requests.
 */
function developmentApiKey(dataDir: string): string {
  const file = join(dataDir, "dev-api-key");
  privateDirectory(dataDir, ["dev-api-key", basename(databasePath(dataDir))]);
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return readFileSync(file, "utf8").trim();
  }
  const key = `dev_${randomBytes(18).toString("base64url")}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** automations.json (or AUTOMATIONS_FILE), checked at start: a typo stops npm start rather than a webhook later. */
function loadAutomations(file: string | undefined): { automations: Automation[]; from: string } {
  const path = resolve(file ?? "automations.json");
  if (file === undefined && !existsSync(path)) return { automations: [], from: "no automations.json" };
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConfigError(`AUTOMATIONS_FILE: ${path} could not be read as JSON (${(error as Error).message}).`);
  }
  try {
    return { automations: parseAutomations(document), from: path };
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
}

/** promotions.json beside the project, checked at start: a bad file stops npm start with every problem named. */
function loadPromotions(): { promotions: Promotion[]; from: string } {
  const path = resolve("promotions.json");
  if (!existsSync(path)) return { promotions: [], from: "no promotions.json" };
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConfigError(`${path} could not be read as JSON (${(error as Error).message}).`);
  }
  try {
    return { promotions: parsePromotionsFile(document), from: path };
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
}

/** Parses a secret variable once at start, so a malformed one is named now; the message never holds the value. */
function checkSecretFormat(
  variable: string,
  value: string | undefined,
  parse: (raw: string) => { size?: number; length?: number },
): number {
  if (value === undefined) return 0;
  try {
    const parsed = parse(value);
    return parsed.size ?? parsed.length ?? 0;
  } catch (error) {
    throw new ConfigError(`The configuration is not valid: ${variable}: ${(error as Error).message}`);
  }
}

/** Starts a server; a port already taken becomes a sentence saying what to do instead of a stack trace. */
async function listening<T>(variable: string, where: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    throw new ConfigError(
      `${where} is already in use (another npm start, or npm run sandbox?). Stop that process, or choose another port: ${variable}=<port> npm start (0 picks a free one).`,
    );
  }
}

/**
 * Whatever reads the logs may go away (`npm start | head -1`, a jq that stopped): the next log line
 * then meets EPIPE, which Node raises as an error on stdout and which would end the process. The
 * server is more use running without logs than stopped: it says so once on stderr and goes on.
 */
function keepServingWithoutStdout(): void {
  let told = false;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
    if (told) return;
    told = true;
    process.stderr.write(
      "The program reading the logs (stdout) went away: logs are no longer written; the server keeps running. Restart it to see them again.\n",
    );
  });
}

async function main(): Promise<void> {
  keepServingWithoutStdout();
  const config = loadLocalConfig();
  checkSecretFormat("API_KEYS", config.API_KEYS, parseApiKeys);
  const signers = checkSecretFormat("WEBHOOK_SIGNING_SECRETS", config.WEBHOOK_SIGNING_SECRETS, parseSigningSecrets);
  const passEntryWebhookSecrets = checkSecretFormat(
    "PASSENTRY_WEBHOOK_SECRETS",
    config.PASSENTRY_WEBHOOK_SECRETS,
    parsePassEntryWebhookSecrets,
  );
  const { automations, from: automationsFrom } = loadAutomations(config.AUTOMATIONS_FILE);
  const { promotions, from: promotionsFrom } = loadPromotions();
  const dataDir = resolve(config.DATA_DIR);
  // A person at a terminal gets one short line per event; a pipe (npm start --silent | jq) gets JSON lines.
  const log = process.stdout.isTTY ? prettyLog(undefined, { colour: true }) : powertoolsLog();

  let sandbox: Sandbox | undefined;
  let passEntryBaseUrl = config.PASSENTRY_BASE_URL;
  let passEntryToken = config.PASSENTRY_TOKEN;
  if (!passEntryBaseUrl) {
    sandbox = await listening("SANDBOX_PORT", `127.0.0.1:${config.SANDBOX_PORT}`, () =>
      startSandbox({
        host: "127.0.0.1",
        port: config.SANDBOX_PORT,
        tokens: [passEntryToken ?? DEFAULT_SANDBOX_TOKEN],
        clock: config.SANDBOX_CLOCK,
      }),
    );
    passEntryBaseUrl = sandbox.url;
    passEntryToken ??= DEFAULT_SANDBOX_TOKEN;
  }

  const generatedKey = config.API_KEYS ? undefined : developmentApiKey(dataDir);
  const apiKeys = config.API_KEYS ?? `operator:dev:${generatedKey}`;
  const stack = await listening("PORT", `${config.HOST}:${config.PORT}`, () =>
    startLocalStack({
      ...config,
      DATA_DIR: dataDir,
      PASSENTRY_BASE_URL: passEntryBaseUrl,
      PASSENTRY_TOKEN: passEntryToken!,
      API_KEYS: apiKeys,
      automations,
      promotions,
      startScheduler: true,
      rateLimit: { ratePerSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST },
      authFailureLimit: DEFAULT_AUTH_FAILURE_LIMIT,
      unverifiedBodyLimit: DEFAULT_UNVERIFIED_BODY_LIMIT,
      log,
      consoleSandbox: sandbox ? { url: sandbox.url, batches: () => sandbox!.batches() } : undefined,
    }),
  ).catch(async (error) => {
    await sandbox?.close();
    throw error;
  });

  const depth = stack.queue.depth();
  const keyForCurl = generatedKey ?? "<one of your API_KEYS>";
  // The banner goes to stderr: stdout carries only log lines, so `npm start --silent | jq` reads JSON alone.
  process.stderr.write(
    [
      "",
      `wallet-messaging is listening on ${stack.url}`,
      `  console:     ${stack.url}/ (sign in with the operator key below)`,
      `  PassEntry:   ${sandbox ? `${sandbox.url} (local sandbox: a simulator of PassEntry's documented API)` : passEntryBaseUrl}`,
      ...(sandbox
        ? [
            `  sandbox clock: ${config.SANDBOX_CLOCK === "real" ? "real time: a scheduled batch goes out at its scheduledAt, so it can be cancelled before (SANDBOX_CLOCK=fast sends 1.5 s after validation)" : "fast: scheduled batches start sending 1.5 s after validation, whatever their scheduledAt (SANDBOX_CLOCK=real waits for it)"}`,
          ]
        : []),
      `  data:        ${dataDir} (queue: ${depth.visible + depth.inFlight} waiting, ${depth.dead} dead-lettered)`,
      `  API key:     ${generatedKey ? `${generatedKey} (an operator key generated for development; set API_KEYS to choose your own)` : "from API_KEYS"}`,
      `  signed:      ${signers > 0 ? `${signers} Standard Webhooks signing secret(s) from WEBHOOK_SIGNING_SECRETS` : "off (set WEBHOOK_SIGNING_SECRETS to accept signed requests)"}`,
      `  PassEntry webhooks: ${passEntryWebhookSecrets > 0 ? `POST ${stack.url}/webhooks/passentry` : "off (set PASSENTRY_WEBHOOK_SECRETS)"}; automations: ${automations.filter((a) => a.enabled).length} of ${automations.length} enabled (${automationsFrom})`,
      `  promotions:  ${promotions.filter((p) => p.enabled).length} of ${promotions.length} enabled, triggered hourly (${promotionsFrom}; 'npm run cli -- promotions list' shows when)`,
      `  rate limit:  bursts of ${config.RATE_LIMIT_BURST}, then ${config.RATE_LIMIT_PER_SECOND}/s, per verified caller; ${DEFAULT_AUTH_FAILURE_LIMIT.burst} failed authentications, then ${DEFAULT_AUTH_FAILURE_LIMIT.ratePerSecond * 60}/min, per client address`,
      "",
      "Try PassEntry's own example request:",
      `  curl -s -X POST ${stack.url}/api/v1/entities/my-entity/messaging/wallet \\`,
      `    -H 'Authorization: Bearer ${keyForCurl}' -H 'Content-Type: application/json' \\`,
      `    -d '{"batch":{"message":"Hello, World!","segments":[{"groupTag":"summerPromotion"}],"scheduledAt":"2030-03-31T13:16:26Z"}}'`,
      "Then follow it with the links.self path it answers:",
      `  curl -s ${stack.url}/api/v1/requests/<id> -H 'Authorization: Bearer ${keyForCurl}'`,
      "",
      "",
    ].join("\n"),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping; in-flight sends finish or return to the queue...\n`);
    await stack.stop();
    await sandbox?.close();
    process.stderr.write("stopped.\n");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((error) => {
  const message =
    error instanceof ConfigError ? error.message : `wallet-messaging could not start: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
