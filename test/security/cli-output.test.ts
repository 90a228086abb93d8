/**
 * The operator CLIs print what others wrote: PassEntry's error sentences, entity ids an earlier
 * version stored, dead-lettered messages' last errors. Printed raw, ESC sequences clear the screen
 * or retitle the terminal, CR and LF forge lines, and a right-to-left override disguises text.
 * Driven over loopback against the embedded home, as an operator runs them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../local/cli.js";
import type { CliContext } from "../../local/cli/command.js";
import { runDlqCli } from "../../local/cli/dlq.js";
import { startSecuredStack, type SecuredStack } from "./stack-support.js";

const POST_BATCH = "POST /api/v1/entities/:id/messaging/wallet";
/** Clears the screen, paints a reassuring green line, and forges a line of our own output. */
const FORGED = "\u001b[2J\u001b[1;32mAll good\r\nrequest 00000000-0000-0000-0000-000000000000: submitted\u202e";
/** Anything a terminal acts on: controls but \t and \n, DEL, C1, bidi controls and isolates, zero-width marks, separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what this test looks for.
const TERMINAL_ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;

let s: SecuredStack;
beforeAll(async () => {
  // One receive before dead-lettering, and short waits, so a failing send reaches the dead-letter queue quickly.
  s = await startSecuredStack({
    MAX_RECEIVES: 1,
    VISIBILITY_TIMEOUT_SECONDS: 1,
    PASSENTRY_TIMEOUT_MS: 400,
    SEND_LEASE_MS: 1_000,
    timings: { serverErrorSettleMs: 20 },
  });
});
afterAll(async () => {
  await s.stop();
});

async function cli(args: string[]) {
  const lines: string[] = [];
  const context: CliContext = {
    io: { out: (l) => lines.push(l), err: (l) => lines.push(l) },
    env: { WALLET_API_URL: s.stack.url, WALLET_API_KEY: s.operatorKey },
    cwd: s.dataDir,
    now: Date.now,
  };
  const code = await runCli(args, context);
  return { code, out: lines.join("\n") };
}

const requestIdIn = (text: string) => /request ([0-9a-f-]{36})/.exec(text)?.[1] ?? "";

describe("CLI output", () => {
  it("escapes what PassEntry said when it refused a batch", async () => {
    // Prepare
    s.sandbox.injectNext(POST_BATCH, [{ kind: "status", status: 422, body: { errors: [FORGED] } }]);
    const id = requestIdIn(
      (
        await cli([
          "send",
          "--entity",
          "ent-42",
          "--message",
          "Sale",
          "--segment",
          "vip",
          "--at",
          "2030-03-31T13:16:26Z",
        ])
      ).out,
    );
    await s.waitFor(
      async () => /^request \S+: failed/.test((await cli(["status", id])).out),
      "the refusal to be recorded",
    );

    // Act
    const status = await cli(["status", id]);

    // Assess
    expect(status.code).toBe(0);
    expect(status.out).not.toMatch(TERMINAL_ACTIVE);
    expect(status.out).not.toMatch(/^request 00000000/m);
    expect(status.out).toContain("\\u001b[2J\\u001b[1;32mAll good\\u000d\\u000arequest 00000000");
  });

  it("escapes an entity id an earlier version stored, in the summary and in --json (which still parses to the stored value)", async () => {
    // Prepare
    const entityId = "ent\u001b]0;pwned\u0007\u202egnp.exe\u007f";
    await s.stack.store.ensure({
      requestId: "legacy-hostile-entity",
      entityId,
      source: "http",
      createdAt: "2026-01-01T00:00:00.000Z",
      caller: "key:crm",
      batch: { message: "Old", segments: [{ groupTag: "vip" }] },
    });

    // Act
    const summary = await cli(["status", "legacy-hostile-entity"]);
    const json = await cli(["status", "legacy-hostile-entity", "--json"]);

    // Assess
    for (const printed of [summary, json]) {
      expect(printed.code).toBe(0);
      expect(printed.out).not.toMatch(TERMINAL_ACTIVE);
    }
    expect(summary.out).toContain("entity ent\\u001b]0;pwned\\u0007\\u202egnp.exe\\u007f,");
    expect(JSON.parse(json.out).data.attributes.entityId).toBe(entityId);
  });

  it("escapes a dead letter's last error in `npm run dlq -- list`", async () => {
    // Prepare: PassEntry fails with the forged text until the request is dead-lettered (each receive
    // meets up to four 5xx in a row: one POST, then three after short settles).
    s.sandbox.injectNext(
      POST_BATCH,
      Array.from({ length: 12 }, () => ({ kind: "status" as const, status: 503, body: { errors: [FORGED] } })),
    );
    await cli([
      "send",
      "--entity",
      "ent-42",
      "--message",
      "Doomed",
      "--segment",
      "vip",
      "--at",
      "2030-03-31T13:16:26Z",
    ]);
    await s.waitFor(
      () => s.stack.queue.deadLetters().some((l) => l.lastError?.includes("All good")),
      "the request to be dead-lettered",
      30_000,
    );

    // Act
    const lines: string[] = [];
    const code = await runDlqCli(
      ["list", "--data-dir", s.dataDir],
      { out: (l) => lines.push(l), err: (l) => lines.push(l) },
      {},
    );

    // Assess
    expect(code).toBe(0);
    expect(lines.join("\n")).toContain("\\u001b[2J");
    expect(lines.join("\n")).not.toMatch(TERMINAL_ACTIVE);
  });
});
