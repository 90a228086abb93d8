import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * `npm run test:browser`: the console in a real browser (headless Chromium from Debian's package,
 * driven by playwright-core). Files are `*.browser.ts`, so `npm test` runs on a machine without a
 * browser; `.ci/run` installs Chromium and runs these too.
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/browser/**/*.browser.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
