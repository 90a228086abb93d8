/**
 * The embedded home (`npm start`'s pipeline) in a temporary directory, against its own PassEntry
 * sandbox, for fault tests that need the real queue runner: visibility timeouts, receive counts,
 * dead letters and redrives. Everything is asserted by what the sandbox received and by
 * `GET /api/v1/requests/{id}` over loopback.
 *
 * @example
 *   const rig = await startStackRig({ stack: { MAX_RECEIVES: 3 } });
 *   const id = await rig.accept();
 *   await rig.stack.drained();
 *   expect((await rig.status(id)).status).toBe("submitted");
 *   await rig.close();
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryLog } from "../../../functions/adapters/memory-log.js";
import { isMarkedFor } from "../../../functions/core/batch-rules.js";
import {
  startSandbox,
  type Sandbox,
  type SandboxBatch,
  type SandboxOptions,
} from "../../../local/passentry-sandbox/sandbox.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../../local/stack.js";
import { CREATE_ROUTE, runningClock, SANDBOX_TOKEN } from "./sender-rig.js";

export const STACK_API_KEY = "faults-key-0123456789";

export interface StackRigOptions {
  sandbox?: Omit<SandboxOptions, "tokens" | "now">;
  stack?: Partial<LocalStackOptions>;
}

export interface StackRig {
  sandbox: Sandbox;
  stack: LocalStack;
  log: MemoryLog;
  /** POSTs PassEntry's example (with a distinct message) to the trigger API; returns our request id. */
  accept(entityId?: string): Promise<string>;
  /** The `data.attributes` of GET /api/v1/requests/{id}. */
  status(requestId: string): Promise<any>;
  batchesFor(requestId: string, chunk?: number): SandboxBatch[];
  /** Create POSTs the sandbox answered 202. */
  acceptedPosts(): number;
  close(): Promise<void>;
}

export async function startStackRig(options: StackRigOptions = {}): Promise<StackRig> {
  const clock = runningClock();
  // Batches validate at once, so the sender's status follow-ups (which drained() waits for) end at their first look.
  const sandbox = await startSandbox({
    rateLimitPerSecond: 1000,
    validatingMs: 0,
    ...options.sandbox,
    tokens: [SANDBOX_TOKEN],
    now: clock.now,
  });
  const dataDir = mkdtempSync(join(tmpdir(), "wm-faults-"));
  const log = new MemoryLog();
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      DATA_DIR: dataDir,
      PASSENTRY_BASE_URL: sandbox.url,
      PASSENTRY_TOKEN: SANDBOX_TOKEN,
      API_KEYS: `faults:${STACK_API_KEY}`,
      log,
      clock,
      idlePollMs: 20,
      PASSENTRY_RATE_PER_SECOND: 50,
      PASSENTRY_TIMEOUT_MS: 3_000,
      // Status tracking is not under test here: look once, soon (2030 lies beyond the tracking horizon).
      ...options.stack,
      timings: { ...options.stack?.timings, followUps: { firstDelaySeconds: 0.05 } },
    });
  } catch (error) {
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  let counter = 0;

  return {
    sandbox,
    stack,
    log,
    async accept(entityId = "ent-faults") {
      counter += 1;
      const answer = await fetch(`${stack.url}/api/v1/entities/${entityId}/messaging/wallet`, {
        method: "POST",
        headers: { authorization: `Bearer ${STACK_API_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          batch: {
            message: `Hello, World! #${counter}`,
            segments: [{ groupTag: "summerPromotion" }],
            scheduledAt: "2030-03-31T13:16:26Z",
          },
        }),
      });
      const document = (await answer.json()) as any;
      if (answer.status !== 202)
        throw new Error(`The trigger API answered ${answer.status}: ${JSON.stringify(document)}`);
      return document.data.id as string;
    },
    async status(requestId) {
      const answer = await fetch(`${stack.url}/api/v1/requests/${encodeURIComponent(requestId)}`, {
        headers: { authorization: `Bearer ${STACK_API_KEY}` },
      });
      return ((await answer.json()) as any).data.attributes;
    },
    batchesFor: (requestId, chunk = 0) => sandbox.batches().filter((b) => isMarkedFor(b.name, { requestId, chunk })),
    acceptedPosts: () => sandbox.requests().filter((r) => r.routeKey === CREATE_ROUTE && r.status === 202).length,
    async close() {
      await stack.stop().catch(() => undefined);
      await sandbox.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
