/**
 * The part of SST's CLI that components call while the program runs (`SST_SERVER`, JSON-RPC over
 * HTTP at `/rpc`): `Runtime.Build` bundles a function's handler, `Provider.Aws.Bootstrap` names
 * the asset bucket. `Runtime.Build` bundles exactly as `sst deploy` would (test/infra/support/sst-bundle.ts
 * lists the options) into `<bundlesDir>/<function id>/`, SST's output layout: `<file>.mjs` beside its
 * source map, and the handler `<file>.<export>`. So the rehearsal later runs the very files a deploy
 * would upload.
 *
 * A method the server does not know answers an error naming it, so a component that starts
 * needing more of the CLI fails the synthesis instead of being half-answered.
 */
import { build } from "esbuild";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { findHandlerFile, projectRoot, sstEsbuildOptions } from "../support/sst-bundle.js";

export interface BuildRecord {
  /** The SST component name of the function (`functionID` in SST's build request). */
  functionId: string;
  /** The handler as the program gave it, relative to the project: `functions/handlers/sender.handler`. */
  sourceHandler: string;
  /** Directory that becomes the Lambda's code. */
  out: string;
  /** The handler Lambda is configured with, relative to `out`: `sender.handler`. */
  handler: string;
  runtime: string;
  architecture: string | undefined;
}

interface BuildRequest {
  functionID: string;
  handler: string;
  bundle?: string;
  runtime: string;
  isContainer?: boolean;
  dev?: boolean;
  copyFiles?: unknown[];
  properties?: {
    minify?: boolean;
    sourcemap?: boolean;
    esbuild?: unknown;
    install?: string[];
    loader?: unknown;
    banner?: string;
    format?: string;
    splitting?: boolean;
    architecture?: string;
  };
}

/** Options our bundler does not reproduce: the synthesis refuses them rather than bundling differently from SST. */
const UNSUPPORTED_NODEJS_OPTIONS = ["esbuild", "install", "loader", "banner", "splitting"] as const;

export async function startSstServer(options: { root?: string; bundlesDir: string }) {
  const root = options.root ?? projectRoot;
  const builds: BuildRecord[] = [];

  async function runtimeBuild(input: BuildRequest) {
    if (input.bundle)
      throw new Error(
        `Function ${input.functionID} ships a prebuilt bundle (${input.bundle}); the rehearsal builds from handlers only.`,
      );
    if (input.isContainer)
      throw new Error(`Function ${input.functionID} is a container image; the rehearsal runs zip functions only.`);
    if (input.copyFiles && input.copyFiles.length > 0)
      throw new Error(
        `Function ${input.functionID} uses copyFiles, which the rehearsal's build does not reproduce yet.`,
      );
    const properties = input.properties ?? {};
    for (const option of UNSUPPORTED_NODEJS_OPTIONS) {
      const value = properties[option];
      if (value !== undefined && value !== false && !(Array.isArray(value) && value.length === 0)) {
        throw new Error(
          `Function ${input.functionID} sets nodejs.${option}, which the rehearsal's build does not reproduce yet (test/infra/synthesis/sst-server.ts).`,
        );
      }
    }
    if (properties.format === "cjs")
      throw new Error(
        `Function ${input.functionID} asks for CommonJS output, which the rehearsal's build does not reproduce yet.`,
      );
    const entry = findHandlerFile(input.handler, root);
    if (!entry)
      return { handler: input.handler, out: "", errors: [`Handler not found: ${input.handler}`], sourcemaps: [] };
    // SST: `<file>.mjs` named after the handler's file (dots become dashes), handler `<file>.<export>`.
    const fileName = path.basename(entry, path.extname(entry)).replaceAll(".", "-");
    const exportName = input.handler.slice(input.handler.lastIndexOf(".") + 1);
    const out = path.join(options.bundlesDir, input.functionID);
    mkdirSync(out, { recursive: true });
    const outfile = path.join(out, `${fileName}.mjs`);
    const esbuildOptions = sstEsbuildOptions(entry, out, input.runtime);
    const minify = properties.minify === true;
    const result = await build({
      ...esbuildOptions,
      outfile,
      minifyWhitespace: minify,
      minifySyntax: minify,
      minifyIdentifiers: minify,
      // SST writes a linked map always; without `sourcemap: true` it is left out of the zip (we keep it for stack traces).
      absWorkingDir: root,
    });
    if (result.errors.length > 0) return { handler: "", out, errors: result.errors.map((e) => e.text), sourcemaps: [] };
    const handler = `${fileName}.${exportName}`;
    builds.push({
      functionId: input.functionID,
      sourceHandler: input.handler,
      out,
      handler,
      runtime: input.runtime,
      architecture: properties.architecture,
    });
    return { handler, out, errors: [], sourcemaps: properties.sourcemap ? [] : [`${outfile}.map`] };
  }

  async function dispatch(method: string, args: any): Promise<unknown> {
    switch (method) {
      case "Runtime.Build":
        return runtimeBuild(args as BuildRequest);
      case "Provider.Aws.Bootstrap":
        return {
          asset: `sst-asset-${args?.region ?? "region"}`,
          assetEcrRegistryId: "",
          assetEcrUrl: "",
          state: `sst-state-${args?.region ?? "region"}`,
          appsyncHttp: "",
          appsyncRealtime: "",
        };
      default:
        throw new Error(
          `rpc: the synthesis's SST server does not answer ${method}; add it to test/infra/synthesis/sst-server.ts.`,
        );
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        let answer: { result?: unknown; error?: string };
        try {
          const { method, params } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
            method: string;
            params: unknown[];
          };
          answer = { result: await dispatch(method, params?.[0]) };
        } catch (error) {
          answer = { error: (error as Error).message };
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(answer));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    builds,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
