/**
 * `npm run sandbox`: runs the PassEntry simulator on its own. Configured by environment variables
 * (see README.md); stops cleanly on SIGINT/SIGTERM.
 */
import { ConfigError } from "../../functions/core/errors.js";
import { DEFAULT_SANDBOX_TOKEN, startSandbox } from "./sandbox.js";

function readNumber(name: string, fallback: number, { min, max }: { min: number; max: number }): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a number between ${min} and ${max} (got "${raw}")`);
  }
  return value;
}

function readTokens(): string[] {
  const tokens = (process.env.SANDBOX_TOKENS ?? DEFAULT_SANDBOX_TOKEN)
    .split(",")
    .map((token) => token.trim())
    .filter((token) => token.length > 0);
  if (tokens.length === 0) throw new ConfigError("SANDBOX_TOKENS must list at least one token");
  return tokens;
}

/** SANDBOX_CLOCK: `real` (default) sends a scheduled batch at its scheduledAt; `fast` 1.5 s (SANDBOX_SCHEDULED_MS) after validation. */
function readClock(): "real" | "fast" {
  const raw = (process.env.SANDBOX_CLOCK ?? "real").trim();
  if (raw !== "real" && raw !== "fast") throw new ConfigError(`SANDBOX_CLOCK must be real or fast (got "${raw}")`);
  return raw;
}

function readOptions() {
  const anyMs = { min: 0, max: 86_400_000 };
  const share = { min: 0, max: 1 };
  return {
    host: process.env.SANDBOX_HOST?.trim() || "127.0.0.1",
    port: readNumber("SANDBOX_PORT", 4010, { min: 0, max: 65_535 }),
    tokens: readTokens(),
    rateLimitPerSecond: readNumber("SANDBOX_RATE_LIMIT", 10, { min: 1, max: 1_000_000 }),
    validatingMs: readNumber("SANDBOX_VALIDATING_MS", 300, anyMs),
    scheduledMs: readNumber("SANDBOX_SCHEDULED_MS", 1500, anyMs),
    sendingMs: readNumber("SANDBOX_SENDING_MS", 500, anyMs),
    clock: readClock(),
    faults: {
      errorRate: readNumber("SANDBOX_ERROR_RATE", 0, share),
      latencyMs: readNumber("SANDBOX_LATENCY_MS", 0, anyMs),
      dropRate: readNumber("SANDBOX_DROP_RATE", 0, share),
    },
  };
}

async function main(): Promise<void> {
  const options = readOptions();
  let sandbox;
  try {
    sandbox = await startSandbox(options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    throw new ConfigError(
      `${options.host}:${options.port} is already in use (npm start runs its own sandbox there). Stop that process, or choose another port: SANDBOX_PORT=<port> npm run sandbox (0 picks a free one).`,
    );
  }
  const { errorRate, latencyMs, dropRate } = options.faults;
  console.log(
    `PassEntry sandbox (a simulator built from PassEntry's public docs, not PassEntry) listening on ${sandbox.url}`,
  );
  console.log(`  base URL: ${sandbox.url}   header: Authorization: Bearer ${options.tokens[0]}`);
  console.log(
    `  rate limit ${options.rateLimitPerSecond}/s per endpoint+method; faults: errorRate=${errorRate} latencyMs=${latencyMs} dropRate=${dropRate}`,
  );
  console.log(
    options.clock === "real"
      ? "  clock: real time: a scheduled batch starts sending at its scheduledAt (SANDBOX_CLOCK=fast: 1.5 s after validation)"
      : `  clock: fast: scheduled batches start sending ${options.scheduledMs} ms after validation, whatever their scheduledAt (SANDBOX_CLOCK=real waits for it)`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the sandbox`);
    void sandbox.close().then(() => {
      process.exitCode = 0;
    });
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `Sandbox: ${error.message}` : error);
  process.exit(1);
});
