/**
 * Bundles a handler the way `sst deploy` does, so size and resolution problems show up here and
 * not halfway through a deploy.
 *
 * The options mirror SST 4's Node runtime builder (Go, `pkg/runtime/node/build.go` in the SST
 * repository; the banner below is verbatim in the `sst` 4.17 binary) for a deploy (not `sst dev`)
 * with `nodejs: { minify: true, sourcemap: true }` and no `esbuild`/`install`/`loader` overrides:
 *   - format esm, platform node, bundle, keepNames, metafile, outfile `bundle.mjs`
 *   - target by runtime: nodejs24.x -> es2024, nodejs22.x and nodejs20.x -> es2023
 *   - mainFields ["module", "main"], no extra conditions
 *   - external only "sharp" and "pg-native": @aws-sdk/* is bundled, not taken from the runtime
 *   - sourcemap "linked" (SST always writes one; with `sourcemap: true` it ships in the zip)
 *   - minifyWhitespace + minifySyntax + minifyIdentifiers (only because we pass `minify: true`:
 *     SST's builder defaults it to false despite the docs)
 *   - a banner defining require/__filename/__dirname for CommonJS dependencies inside ESM
 */
import { build, type BuildOptions, type Metafile } from "esbuild";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

const TARGET_BY_RUNTIME: Record<string, string> = {
  "nodejs24.x": "es2024",
  "nodejs22.x": "es2023",
  "nodejs20.x": "es2023",
  "nodejs18.x": "es2022",
};

const SST_BANNER = [
  `import { createRequire as topLevelCreateRequire } from 'module';`,
  `const require = topLevelCreateRequire(import.meta.url);`,
  `import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"`,
  `const __filename = topLevelFileUrlToPath(import.meta.url)`,
  `const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))`,
  "",
].join("\n");

/** SST's handler lookup: `dir/file.export` -> the first of these extensions that exists. */
const NODE_EXTENSIONS = [".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"];

/** The source file SST would bundle for a `file.export` handler string, or undefined. */
export function findHandlerFile(handler: string, root: string = projectRoot): string | undefined {
  const dir = path.dirname(handler);
  const base = path.basename(handler).split(".").slice(0, -1).join(".");
  for (const ext of NODE_EXTENSIONS) {
    const file = path.join(root, dir, base + ext);
    if (existsSync(file)) return file;
  }
  return undefined;
}

export function sstEsbuildOptions(entry: string, outdir: string, runtime: string): BuildOptions {
  const target = TARGET_BY_RUNTIME[runtime];
  if (!target) throw new Error(`No esbuild target known for runtime ${runtime}.`);
  return {
    entryPoints: [entry],
    platform: "node",
    format: "esm",
    target,
    bundle: true,
    splitting: false,
    keepNames: true,
    metafile: true,
    write: true,
    outfile: path.join(outdir, "bundle.mjs"),
    sourcemap: "linked",
    mainFields: ["module", "main"],
    external: ["sharp", "pg-native"],
    banner: { js: SST_BANNER },
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: true,
    logLevel: "silent",
  };
}

export interface BundleReport {
  bytes: number;
  gzipBytes: number;
  sourceMapBytes: number;
  sourceMapGzipBytes: number;
  /** What the bundle still imports at run time (Node built-ins and SST's forced externals). */
  externalImports: string[];
  metafile: Metafile;
}

/** Bundles `handler` with SST's options into a temp dir and measures the result. */
export async function bundleLikeSst(handler: string, runtime: string): Promise<BundleReport> {
  const entry = findHandlerFile(handler);
  if (!entry) throw new Error(`Handler file for ${handler} not found.`);
  const outdir = mkdtempSync(path.join(tmpdir(), "sst-bundle-"));
  const result = await build({ ...sstEsbuildOptions(entry, outdir, runtime), absWorkingDir: projectRoot });
  const code = readFileSync(path.join(outdir, "bundle.mjs"));
  const map = readFileSync(path.join(outdir, "bundle.mjs.map"));
  const externalImports = new Set<string>();
  for (const output of Object.values(result.metafile!.outputs)) {
    for (const imported of output.imports) if (imported.external) externalImports.add(imported.path);
  }
  return {
    bytes: code.length,
    gzipBytes: gzipSync(code).length,
    sourceMapBytes: map.length,
    sourceMapGzipBytes: gzipSync(map).length,
    externalImports: [...externalImports].sort(),
    metafile: result.metafile!,
  };
}
