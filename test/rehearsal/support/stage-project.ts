/**
 * A copy of the project as an operator would deploy it for the rehearsal: the real infra, functions
 * and configuration, except `promotions.json` and `automations.json`, which are the operator's data
 * (the shipped samples are disabled or point at `my-entity`). The rehearsal's files enable one
 * promotion and one automation, so the scenarios have something to trigger. `node_modules` and
 * `.sst` are shared through symlinks.
 */
import { cpSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { projectRoot } from "../../infra/support/sst-bundle.js";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures");

export function stageProject(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "rehearsal-stage-"));
  for (const entry of ["sst.config.ts", "infra", "functions", "package.json", "tsconfig.json", "stages.json"]) {
    cpSync(path.join(projectRoot, entry), path.join(dir, entry), { recursive: true });
  }
  for (const entry of ["node_modules", ".sst"]) symlinkSync(path.join(projectRoot, entry), path.join(dir, entry));
  for (const data of ["promotions.json", "automations.json"]) cpSync(path.join(FIXTURES, data), path.join(dir, data));
  return dir;
}
