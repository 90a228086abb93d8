import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * `npm run test:model` runs this: issue 10's model run and its nine regressions (`*.model.ts`).
 * They are kept out of `npm test` while they fail on purpose (they were written before the send
 * ledger's rewrite, to judge it); to switch them on, add "test/faults/model/**\/*.model.ts" to the
 * root vitest.config.ts include.
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
