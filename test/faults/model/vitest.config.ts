import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * `npm run test:model` runs this: issue 10's model run and its nine regressions (`*.model.ts`).
 * They are kept out of `npm test` while they fail on purpose (they were written before the send
 * ledger's rewrite, to judge it). To switch them on: add "test/faults/model/**\/*.model.ts" to the
 * root vitest.config.ts include (the short run, MODEL_RUNS default 40, then runs in `npm test`), and
 * make the long run part of the fault suite with `"test:faults": "MODEL_RUNS=3000 vitest run test/faults"`.
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../../..", import.meta.url)),
    include: ["test/faults/model/**/*.model.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
