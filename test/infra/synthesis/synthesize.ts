/**
 * Synthesizes a stage offline: runs the real `sst.config.ts` under Pulumi's mocks (in a child
 * process, see synthesize-child.ts) and answers every resource `sst deploy` would create, with the
 * bundles SST would upload. Needs `.sst/platform` (scripts/install-sst-platform.sh).
 *
 * @example
 *   const synthesis = await synthesize({ stage: "rehearsal" });
 *   lambdaFunctions(synthesis).map((f) => f.label); // ["WalletApiRouteHtwrfmHandler (functions/handlers/accept.handler)", …]
 *   roles(synthesis).flatMap(statementsOf);        // every IAM statement the stage's roles hold (stack-model.ts)
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { projectRoot } from "../support/sst-bundle.js";
import type { Synthesis, SynthesisRequest } from "./types.js";

export type { Synthesis, SynthesizedResource } from "./types.js";

/** An account and region no real stage uses, so nothing synthesized can be mistaken for a deploy. */
export const SYNTHESIS_ACCOUNT = { accountId: "123456789012", region: "eu-west-1" } as const;

export class SynthesisError extends Error {
  override name = "SynthesisError";
}

export interface SynthesizeOptions {
  /** Project directory (default: this repository). */
  root?: string;
  stage?: string;
  /** Where bundles and the JSON go (default: a new temporary directory). */
  workDir?: string;
  /** Stage secrets (`sst secret set <name> <value>`), as SST hands them to the program: SST_SECRET_<name>. */
  secrets?: Record<string, string>;
  /** The deploying shell's other variables (e.g. AWS_REGION), to prove the program does not read them. */
  shell?: Record<string, string>;
}

export async function synthesize(options: SynthesizeOptions = {}): Promise<Synthesis> {
  const root = options.root ?? projectRoot;
  if (!existsSync(path.join(root, ".sst", "platform", "config.d.ts"))) {
    throw new SynthesisError(
      `SST's platform is not installed in ${root}/.sst/platform; run scripts/install-sst-platform.sh (npm run check:infra and npm run rehearse:aws do it).`,
    );
  }
  const workDir = options.workDir ?? mkdtempSync(path.join(tmpdir(), "synthesis-"));
  mkdirSync(workDir, { recursive: true });
  const request: SynthesisRequest = {
    root,
    stage: options.stage ?? "rehearsal",
    account: { ...SYNTHESIS_ACCOUNT },
    bundlesDir: path.join(workDir, "bundles"),
    workDir: path.join(workDir, "work"),
    outFile: path.join(workDir, "synthesis.json"),
  };
  const requestFile = path.join(workDir, "request.json");
  writeFileSync(requestFile, JSON.stringify(request));
  const tsx = createRequire(path.join(projectRoot, "package.json")).resolve("tsx/cli");
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), "synthesize-child.ts");
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    // The stage must not inherit the caller's AWS settings: the program may read process.env.
    const env: Record<string, string | undefined> = {
      ...process.env,
      SST_TELEMETRY_DISABLED: "1",
      AWS_REGION: request.account.region,
      AWS_DEFAULT_REGION: request.account.region,
      ...options.shell,
    };
    for (const name of Object.keys(env)) if (name.startsWith("SST_SECRET_")) delete env[name];
    for (const [name, value] of Object.entries(options.secrets ?? {})) env[`SST_SECRET_${name}`] = value;
    const proc = spawn(process.execPath, [tsx, child, requestFile], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    proc.stderr.on("data", (chunk: Buffer) => output.push(chunk));
    proc.on("error", reject);
    proc.on("close", resolve);
  });
  if (!existsSync(request.outFile)) {
    throw new SynthesisError(
      `The synthesis of ${root} failed (exit ${code}):\n${Buffer.concat(output).toString("utf8").slice(-6000)}`,
    );
  }
  const synthesis = JSON.parse(readFileSync(request.outFile, "utf8")) as Synthesis;
  if (synthesis.errors.length > 0 || code !== 0) {
    throw new SynthesisError(
      `The synthesis of ${root} raised errors:\n${synthesis.errors.join("\n").slice(0, 6000)}\n${Buffer.concat(output).toString("utf8").slice(-3000)}`,
    );
  }
  return synthesis;
}
