import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores on CI machines: keep worker count modest so timing-sensitive
    // suites (rate limits, visibility timeouts) are not starved.
    maxWorkers: 2,
  },
});
