import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * `npm run check:infra` runs this: the tests that need esbuild bundles of every handler, SST's
 * installed platform, or a synthesis of the stage under Pulumi's mocks (`*.infra.ts`).
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    // wiring.test.ts already runs in `npm test`; here only what needs bundles or SST's platform.
    include: ["test/infra/**/*.infra.ts"],
    environment: "node",
    // Each type-check runs SST's tsc over the platform sources: ~10 s on two cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});
