/**
 * One rehearsed stage for a test file: the synthesis from the global setup (optionally changed, to
 * prove the rehearsal fails on a broken resource set), the PassEntry sandbox behind the stage's
 * PassEntry URL, the rehearsal, and the secrets an operator puts after the first deploy
 * (docs/deploy.md): the PassEntry token, an API key, PassEntry's webhook secret.
 */
import { readFileSync } from "node:fs";
import { inject } from "vitest";
import { isMarkedFor } from "../../../functions/core/batch-rules.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "../../../local/passentry-sandbox/sandbox.js";
import type { Synthesis } from "../../infra/synthesis/types.js";
import { startRehearsal, type Rehearsal } from "./rehearsal.js";

export const CREATE_ROUTE = "POST /api/v1/entities/:id/messaging/wallet";

/** Canary values: none may appear in any log line a function writes. */
export const SECRETS = {
  passEntryToken: "rehearsal-passentry-token-7f3a9c",
  apiKey: "rehearsal-api-key-5d1e88b2c4",
  /** An operator's key (issue 11): sees every request, promotions' and automations' included. */
  operatorKey: "rehearsal-operator-key-9a7c31e0f2",
  passEntryWebhookSecret: "rehearsal-webhook-secret-0123456789abcdef",
};

export function loadSynthesis(): Synthesis {
  return JSON.parse(readFileSync(inject("synthesisFile"), "utf8")) as Synthesis;
}

export interface Stage {
  rehearsal: Rehearsal;
  sandbox: Sandbox;
  /** A fetch against the rehearsed API, with the API key unless `key: null`. */
  api(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  /** The sandbox's batches for one request chunk (by the marker the sender puts in each batch's name). */
  batchesFor(requestId: string, chunk?: number): ReturnType<Sandbox["batches"]>;
  /** Create POSTs PassEntry answered 202, for one request chunk. */
  postsFor(requestId: string, chunk?: number): number;
  close(): Promise<void>;
}

export async function startStage(options: { synthesis?: Synthesis; sandbox?: SandboxOptions } = {}): Promise<Stage> {
  const synthesis = options.synthesis ?? loadSynthesis();
  // Batches stay `scheduled` until sent now or cancelled, whatever their scheduledAt says.
  const sandbox = await startSandbox({
    tokens: [SECRETS.passEntryToken],
    validatingMs: 200,
    scheduledMs: Infinity,
    ...options.sandbox,
  });
  // The stage's PassEntry URL (from its functions' configuration) leads to the sandbox.
  const passEntryUrls = new Set(
    synthesis.resources.flatMap((r) =>
      r.type === "aws:lambda/function:Function" && r.inputs.environment?.variables?.PASSENTRY_BASE_URL
        ? [new URL(r.inputs.environment.variables.PASSENTRY_BASE_URL).origin]
        : [],
    ),
  );
  const rehearsal = await startRehearsal(synthesis, {
    outbound: Object.fromEntries([...passEntryUrls].map((origin) => [origin, sandbox.url])),
  });
  const outputs = synthesis.outputs as Record<string, string>;
  const put = (outputName: string, value: string) => {
    if (outputs[outputName]) rehearsal.secretsManager.put(outputs[outputName], value);
  };
  put("PassEntryTokenSecretArn", SECRETS.passEntryToken);
  put(
    "ApiKeysSecretArn",
    JSON.stringify({ rehearsal: SECRETS.apiKey, ops: { operator: true, keys: [SECRETS.operatorKey] } }),
  );
  put("PassEntryWebhookSecretsSecretArn", JSON.stringify([SECRETS.passEntryWebhookSecret]));
  put("WebhookSigningSecretsSecretArn", JSON.stringify({}));

  return {
    rehearsal,
    sandbox,
    api(path, init = {}) {
      const { key = SECRETS.apiKey, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key) headers.set("authorization", `Bearer ${key}`);
      return fetch(`${rehearsal.apiUrl}${path}`, { ...rest, headers });
    },
    batchesFor: (requestId, chunk = 0) => sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId, chunk })),
    postsFor(requestId, chunk = 0) {
      const ids = new Set(
        sandbox
          .batches()
          .filter((b) => isMarkedFor(b.name, { requestId, chunk }))
          .map((b) => b.id),
      );
      return ids.size;
    },
    async close() {
      await rehearsal.close();
      await sandbox.close();
    },
  };
}

/** Polls until `check` holds; fails naming what it waited for, with what the rehearsal saw. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  stage: Stage,
  timeoutMs = 20_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${what}.\n${describe(stage)}`);
}

/** What the rehearsal saw, for failure messages: problems, failed AWS calls, function errors in logs. */
export function describe(stage: Stage): string {
  const { rehearsal } = stage;
  const errorLogs = rehearsal.host.logs
    .filter((l) => /"level":"(ERROR|WARN)"|Error|error/.test(l.line))
    .slice(-15)
    .map((l) => `  ${l.function}: ${l.line.slice(0, 400)}`);
  return [
    `problems:\n${
      rehearsal
        .problems()
        .map((p) => `  ${p}`)
        .join("\n") || "  none"
    }`,
    `failed AWS calls:\n${
      rehearsal.gateway
        .describeErrors()
        .slice(-15)
        .map((e) => `  ${e}`)
        .join("\n") || "  none"
    }`,
    `function errors and warnings (last 15):\n${errorLogs.join("\n") || "  none"}`,
  ].join("\n");
}
