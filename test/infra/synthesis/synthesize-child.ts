/**
 * Runs `sst.config.ts` the way `sst deploy` runs it, but against Pulumi's mocks instead of AWS, and
 * writes every resource it would create to a JSON file. A process of its own: Pulumi's runtime is
 * global state, and the program must load the platform's own `@pulumi/pulumi` instance.
 *
 * What SST's CLI does (pkg/project/run.go, pkg/js/js.go in SST 4) and this reproduces:
 *   1. bundle sst.config.ts and call `app({ stage })` for `$app`;
 *   2. bundle an entry importing `.sst/platform/src/auto/run.ts` and the config, defining `$app`,
 *      `$cli` and `$dev`, injecting `.sst/platform/src/shim/run.js`, prepending the provider and
 *      `sst` imports to every user file, keeping `@pulumi/*` (and SST's other externals) external;
 *   3. run it with `SST_SERVER` pointing at a server that builds functions (sst-server.ts).
 *
 * usage: tsx test/infra/synthesis/synthesize-child.ts <request.json>
 */
import { build, type Plugin } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createMocks } from "./pulumi-mocks.js";
import { startSstServer } from "./sst-server.js";
import type { SynthesisRequest, Synthesis, SynthesizedResource } from "./types.js";

/** The part of the platform's `@pulumi/pulumi` used here (it is loaded from .sst/platform, untyped for this project). */
interface PulumiRuntime {
  runtime: {
    setMocks(mocks: unknown, project?: string, stack?: string, preview?: boolean): Promise<void>;
    runInPulumiStack(init: () => Promise<unknown>): Promise<unknown>;
  };
  Output: { isInstance(value: unknown): boolean };
}

const SST_EXTERNALS = [
  "@pulumi/*",
  "undici",
  "@pulumiverse/*",
  "@sst-provider/*",
  "@aws-sdk/*",
  "esbuild",
  "archiver",
  "glob",
  "vite",
];
const BANNER = [
  `import { createRequire as topLevelCreateRequire } from 'module';`,
  `const require = topLevelCreateRequire(import.meta.url);`,
  `import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"`,
  `const __filename = topLevelFileUrlToPath(import.meta.url)`,
  `const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))`,
  "",
].join("\n");

async function main(): Promise<void> {
  const request = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as SynthesisRequest;
  const { root, stage } = request;
  const platform = path.join(root, ".sst", "platform");
  const work = request.workDir;
  mkdirSync(work, { recursive: true });
  const errors: string[] = [];
  // A program that throws inside an `apply` (SST's SecretMissingError, our own checks) can leave
  // outputs that never resolve, and the wait for them would hang: give it a moment, then report.
  let report: (() => void) | undefined;
  process.on("unhandledRejection", (reason) => {
    errors.push(String((reason as Error)?.stack ?? reason));
    setTimeout(() => {
      if (report) report();
      else
        writeFileSync(
          request.outFile,
          JSON.stringify({
            app: { name: "", stage, ...request.account },
            resources: [],
            outputs: {},
            builds: [],
            errors,
          }),
        );
      process.exit(1);
    }, 3_000).unref();
  });

  // 1. `$app`: the config's app() for this stage, as SST's CLI evaluates it before the program.
  const configShim = path.join(work, "config-shim.mjs");
  writeFileSync(configShim, "export const $config = (input) => input;\n");
  const appOut = path.join(work, "app.mjs");
  await build({
    stdin: {
      contents: `import mod from ${JSON.stringify(path.join(root, "sst.config.ts"))};\nexport default mod;`,
      resolveDir: root,
      sourcefile: "app.ts",
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "node",
    outfile: appOut,
    inject: [configShim],
    external: SST_EXTERNALS,
    banner: { js: BANNER },
    logLevel: "silent",
  });
  const config = (await import(pathToFileURL(appOut).href)).default as {
    app(input: { stage: string }): Record<string, unknown> | Promise<Record<string, unknown>>;
  };
  const appInput = await config.app({ stage });
  // The AWS provider's region, as the config pins it (stages.json); the mocks answer in it, as AWS would.
  const pinnedRegion = (appInput.providers as { aws?: { region?: string } } | undefined)?.aws?.region;
  const account = { ...request.account, ...(pinnedRegion ? { region: pinnedRegion } : {}) };
  const app: Record<string, unknown> & { name: string } = {
    ...appInput,
    name: String(appInput.name),
    stage,
    providers: appInput.providers ?? { aws: {} },
  };

  // 2. The program, bundled as SST bundles it.
  const cli = {
    command: "deploy",
    dev: false,
    paths: { home: path.join(work, "home"), root, work: path.join(work, "sst-work"), platform },
    state: { version: {} },
  };
  const globals = `import * as aws from "@pulumi/aws";\nimport * as sst from ${JSON.stringify(path.join(platform, "src", "components"))};\n`;
  const injectGlobals: Plugin = {
    name: "InjectGlobals",
    setup(b) {
      b.onLoad({ filter: /\.(js|ts|jsx|tsx)$/ }, (args) => {
        const contents = readFileSync(args.path, "utf8");
        return { contents: args.path.includes(".sst") ? contents : `${globals}\n${contents}`, loader: "default" };
      });
    },
  };
  const programOut = path.join(platform, `sst.config.rehearsal.${process.pid}.${Date.now()}.mjs`);
  await build({
    stdin: {
      contents: `import { run } from ${JSON.stringify(path.join(platform, "src", "auto", "run.ts"))};\nimport mod from ${JSON.stringify(path.join(root, "sst.config.ts"))};\nconst result = await run(mod.run);\nexport default result;\n`,
      resolveDir: root,
      sourcefile: "eval.ts",
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "node",
    outfile: programOut,
    sourcemap: "linked",
    mainFields: ["module", "main"],
    nodePaths: [path.join(platform, "node_modules")],
    plugins: [injectGlobals],
    external: SST_EXTERNALS,
    define: { $app: JSON.stringify(app), $cli: JSON.stringify(cli), $dev: "false" },
    inject: [path.join(platform, "src", "shim", "run.js")],
    banner: { js: BANNER },
    logLevel: "silent",
  });

  // 3. Run it under mocks, with the platform's own Pulumi instance (the one the program imports).
  const requireFromPlatform = createRequire(path.join(platform, "package.json"));
  const pulumi = requireFromPlatform("@pulumi/pulumi") as PulumiRuntime;
  const settings = requireFromPlatform("@pulumi/pulumi/runtime/settings") as {
    getMonitor(): any;
    disconnect(): Promise<void>;
  };
  const sstServer = await startSstServer({ root, bundlesDir: request.bundlesDir });
  process.env.SST_SERVER = sstServer.url;
  const { mocks, resources } = createMocks(account);
  await pulumi.runtime.setMocks(mocks as any, app.name, stage, false);
  // The mocks are not told a resource's parent; the monitor's request is, and its answer holds the URN.
  const placement = new Map<string, { urn: string; parent: string }[]>();
  const monitor = settings.getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: (err: unknown, resp: any) => void) =>
    register(req, (err: unknown, resp: any) => {
      if (!err && resp) {
        const key = `${req.getType()}::${req.getName()}`;
        placement.set(key, [...(placement.get(key) ?? []), { urn: resp.getUrn(), parent: req.getParent() }]);
      }
      callback(err, resp);
    });

  let outputs: Record<string, unknown> = {};
  report = () => writeFileSync(request.outFile, JSON.stringify(result(), null, 1));
  const result = (): Synthesis => {
    const taken = new Map<string, number>();
    const synthesized: SynthesizedResource[] = resources.map((r) => {
      const key = `${r.type}::${r.name}`;
      const index = taken.get(key) ?? 0;
      taken.set(key, index + 1);
      const where = placement.get(key)?.[index];
      return {
        urn: where?.urn ?? "",
        parent: where?.parent || undefined,
        type: r.type,
        name: r.name,
        custom: r.custom,
        id: r.id,
        inputs: r.inputs,
        state: r.state,
      };
    });
    return {
      app: { name: String(app.name), stage, ...account },
      resources: synthesized,
      outputs,
      builds: sstServer.builds,
      errors,
    };
  };
  try {
    const stackOutputs = await pulumi.runtime.runInPulumiStack(
      async () => (await import(pathToFileURL(programOut).href)).default,
    );
    outputs = (await resolveDeep(pulumi, stackOutputs ?? {})) as Record<string, unknown>;
    // Waits for every outstanding registration, including those started inside `apply` callbacks.
    await settings.disconnect();
  } catch (error) {
    errors.push(String((error as Error)?.stack ?? error));
  } finally {
    await sstServer.close();
    if (!process.env.SYNTHESIS_KEEP_PROGRAM) {
      rmSync(programOut, { force: true });
      rmSync(`${programOut}.map`, { force: true });
    }
  }

  report();
  process.exit(errors.length > 0 ? 1 : 0);
}

/** Unwraps Outputs (and promises) nested anywhere in a value. */
async function resolveDeep(pulumi: PulumiRuntime, value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value))
    return resolveDeep(pulumi, await new Promise((resolve) => (value as any).apply(resolve)));
  if (value instanceof Promise) return resolveDeep(pulumi, await value);
  if (Array.isArray(value)) return Promise.all(value.map((v) => resolveDeep(pulumi, v)));
  if (value && typeof value === "object") {
    const entries = await Promise.all(
      Object.entries(value).map(async ([k, v]) => [k, await resolveDeep(pulumi, v)] as const),
    );
    return Object.fromEntries(entries);
  }
  return value;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
