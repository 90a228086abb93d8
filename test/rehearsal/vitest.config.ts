import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * `npm run rehearse:aws`: the AWS home rehearsed on this machine (test/rehearsal/README in the
 * project README's deploy section). Files are `*.rehearse.ts`, so `npm test` does not pick them up.
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/rehearsal/**/*.rehearse.ts"],
    environment: "node",
    globalSetup: ["test/rehearsal/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file runs a whole stack (stand-ins plus one process per Lambda environment): one at a time on two cores.
    fileParallelism: false,
  },
});
