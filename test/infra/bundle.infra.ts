/**
 * Every handler named in the manifest exists and bundles the way `sst deploy` bundles it
 * (support/sst-bundle.ts lists the options), and the package stays small. Prints each bundle's
 * size. Run by `npm run check:infra` only.
 */
import { builtinModules } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { functions, RUNTIME, type FunctionSpec } from "../../infra/manifest.js";
import { bundleLikeSst, findHandlerFile } from "./support/sst-bundle.js";

/** Lambda rejects packages above 50 MB zipped; stay an order of magnitude below for cold starts. */
const MAX_PACKAGE_GZIP_BYTES = 5 * 1024 * 1024;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`.padStart(11);
const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);

describe("handler bundles (SST's esbuild settings)", () => {
  it.each(Object.values(functions) as FunctionSpec[])(
    "$name: $handler exists, bundles with @aws-sdk inside and exports its handler",
    async (spec) => {
      // Prepare
      const [file, exportName] = [spec.handler.slice(0, spec.handler.lastIndexOf(".")), spec.handler.split(".").pop()];
      if (!findHandlerFile(spec.handler)) {
        expect.fail(
          `${spec.handler}: no ${file}.{ts,js,mjs,…} exists. The handler has not been written yet, ` +
            `or it was renamed without updating infra/manifest.ts.`,
        );
      }

      // Act
      const report = await bundleLikeSst(spec.handler, RUNTIME);
      console.log(
        `${spec.name.padEnd(17)} bundle ${kib(report.bytes)}  gzip ${kib(report.gzipBytes)}` +
          `  | source map ${kib(report.sourceMapBytes)}  gzip ${kib(report.sourceMapGzipBytes)}`,
      );

      // Assess
      const nonBuiltin = report.externalImports.filter((name) => !builtins.has(name));
      expect(nonBuiltin, "only Node built-ins may stay external: SST ships no node_modules").toEqual([]);
      expect(report.gzipBytes + report.sourceMapGzipBytes).toBeLessThan(MAX_PACKAGE_GZIP_BYTES);
      const entry = Object.values(report.metafile.outputs).find((output) => output.entryPoint);
      expect(entry?.exports, `${path.basename(file)} must export \`${exportName}\``).toContain(exportName);
    },
  );
});
