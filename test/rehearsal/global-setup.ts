/**
 * Synthesizes the stage once for every rehearsal file: the real sst.config.ts under Pulumi's mocks,
 * with the functions bundled as SST bundles them (test/infra/synthesis/). Each file reads the JSON
 * and starts its own stand-ins from it.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { synthesize } from "../infra/synthesis/synthesize.js";
import { stageProject } from "./support/stage-project.js";

declare module "vitest" {
  export interface ProvidedContext {
    synthesisFile: string;
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const root = stageProject();
  const workDir = path.join(root, ".rehearsal");
  const synthesis = await synthesize({ root, stage: "rehearsal", workDir });
  console.log(
    `synthesized ${synthesis.resources.length} resources and ${synthesis.builds.length} function bundles in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  project.provide("synthesisFile", path.join(workDir, "synthesis.json"));
  return () => rmSync(root, { recursive: true, force: true });
}
