/**
 * Protects what `npm run lint` (and so `.ci/run`) refuses: a focused test, a skipped test, an
 * unformatted file, and an
 * import across the layers the design names (core imports no adapter, handler, home or infra;
 * handlers reach adapters only through their wiring). Runs the real linter on small fixtures.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkLayers } from "../../scripts/check-layers.mjs";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs `npm run lint`'s script on one fixture file, written inside the project so biome.jsonc applies. */
function lint(name: string, text: string): { code: number | null; output: string } {
  // A dot directory: vitest's test glob never collects it, even if a run stopped before cleaning up.
  const dir = mkdtempSync(join("test", ".lint-proof-"));
  dirs.push(dir);
  writeFileSync(join(dir, name), text);
  const run = spawnSync(process.execPath, ["scripts/lint.mjs", dir], { encoding: "utf8" });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("npm run lint", () => {
  it("fails on a focused test", () => {
    const { code, output } = lint(
      "focused.test.ts",
      'import { it } from "vitest";\n\nit.only("runs alone", () => {});\n',
    );
    expect(code).toBe(1);
    expect(output).toContain("lint/suspicious/noFocusedTests");
  });

  it("fails on a skipped test", () => {
    const { code, output } = lint(
      "skipped.test.ts",
      'import { describe, it } from "vitest";\n\ndescribe.skip("never runs", () => {\n  it("hides", () => {});\n});\n',
    );
    expect(code).toBe(1);
    expect(output).toContain("lint/suspicious/noSkippedTests");
  });

  it("fails on an unformatted file", () => {
    const { code, output } = lint("unformatted.ts", "export const limits = {recipients:500,calls : 10}\n");
    expect(code).toBe(1);
    expect(output).toContain("Formatter would have printed");
  });

  it("passes a clean file", () => {
    const { code } = lint(
      "clean.test.ts",
      'import { expect, it } from "vitest";\n\nit("adds", () => {\n  expect(1 + 1).toBe(2);\n});\n',
    );
    expect(code).toBe(0);
  });
});

describe("the layering check", () => {
  it("refuses core importing an adapter, a handler or the embedded home, and a handler importing an adapter", () => {
    const problems = checkLayers([
      {
        path: "functions/core/example.ts",
        text: 'import { SqsMessageQueue } from "../adapters/sqs-message-queue.js";\nimport { json } from "../handlers/http.js";\nimport type { LocalStack } from "../../local/stack.js";',
      },
      {
        path: "functions/handlers/example.ts",
        text: 'import { DynamoDbSendLedger } from "../adapters/dynamodb-send-ledger.js";',
      },
    ]);
    expect(problems).toEqual([
      expect.stringMatching(
        /^functions\/core\/example\.ts imports \.\.\/adapters\/sqs-message-queue\.js: core is pure/,
      ),
      expect.stringMatching(/^functions\/core\/example\.ts imports \.\.\/handlers\/http\.js: core is pure/),
      expect.stringMatching(/^functions\/core\/example\.ts imports \.\.\/\.\.\/local\/stack\.js: core is pure/),
      expect.stringMatching(
        /^functions\/handlers\/example\.ts imports \.\.\/adapters\/dynamodb-send-ledger\.js: a handler reaches adapters only through/,
      ),
    ]);
  });

  it("allows what the layers allow: core within core, a handler through its wiring", () => {
    expect(
      checkLayers([
        {
          path: "functions/core/example.ts",
          text: 'import type { Clock } from "./ports.js";\nimport * as z from "./zod.js";',
        },
        {
          path: "functions/handlers/example.ts",
          text: 'import { awsSenderDeps } from "../wiring/sender.js";\nimport { handleQueueRecords } from "../core/queue-record.js";',
        },
      ]),
    ).toEqual([]);
  });

  it("finds nothing across the layers in the tree", () => {
    const run = spawnSync(process.execPath, ["scripts/check-layers.mjs"], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });
});
