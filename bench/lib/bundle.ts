/**
 * Builds a handler exactly as `sst deploy` would (the options live in test/infra/support/sst-bundle.ts,
 * which `npm run check:infra` also uses), keeping the output on disk so a fresh process can run it.
 */
import { build, type Plugin } from "esbuild";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { projectRoot, sstEsbuildOptions } from "../../test/infra/support/sst-bundle.js";

export interface BuiltBundle {
  file: string;
  bytes: number;
  gzipBytes: number;
  /** Minified bytes in the bundle by origin (npm package, or "our code"), largest first. */
  composition: { origin: string; bytes: number }[];
}

/** `node_modules/@aws-sdk/client-sqs/dist-es/x.js` -> `@aws-sdk/client-sqs`; project files -> "our code". */
function originOf(input: string): string {
  const at = input.lastIndexOf("node_modules/");
  if (at < 0) return "our code";
  const parts = input.slice(at + "node_modules/".length).split("/");
  return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/**
 * Bundles `entry` (a path from the project root) into `outdir/bundle.mjs` with SST's settings for
 * `runtime`. `dataFiles` swaps a bundled data file for another (project-relative paths), as an
 * operator's own promotions.json would be bundled instead of the shipped sample.
 */
export async function bundleEntry(
  entry: string,
  outdir: string,
  runtime: string,
  dataFiles: Record<string, string> = {},
): Promise<BuiltBundle> {
  mkdirSync(outdir, { recursive: true });
  const options = sstEsbuildOptions(path.resolve(projectRoot, entry), outdir, runtime);
  const swaps = new Map(
    Object.entries(dataFiles).map(([from, to]) => [path.resolve(projectRoot, from), path.resolve(projectRoot, to)]),
  );
  const swapData: Plugin = {
    name: "swap-data-files",
    setup(esbuild) {
      esbuild.onResolve({ filter: /\.json$/ }, (args) => {
        const swapped = swaps.get(path.resolve(args.resolveDir, args.path));
        return swapped ? { path: swapped } : undefined;
      });
    },
  };
  const result = await build({
    ...options,
    absWorkingDir: projectRoot,
    plugins: [...(options.plugins ?? []), ...(swaps.size > 0 ? [swapData] : [])],
  });
  const file = path.join(outdir, "bundle.mjs");
  const code = readFileSync(file);
  const byOrigin = new Map<string, number>();
  for (const output of Object.values(result.metafile?.outputs ?? {})) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs))
      byOrigin.set(originOf(input), (byOrigin.get(originOf(input)) ?? 0) + bytesInOutput);
  }
  const composition = [...byOrigin].map(([origin, bytes]) => ({ origin, bytes })).sort((a, b) => b.bytes - a.bytes);
  return { file, bytes: code.length, gzipBytes: gzipSync(code).length, composition };
}
