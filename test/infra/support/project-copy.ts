/**
 * A copy of the project's deployable part (sst.config.ts, infra/, functions/, the data files),
 * optionally edited, to prove a check fails when the infra input regresses. `node_modules` and
 * `.sst` are shared through symlinks, so a copy costs milliseconds.
 */
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { projectRoot } from "./sst-bundle.js";

export const DEPLOYED_ENTRIES = [
  "sst.config.ts",
  "infra",
  "functions",
  "package.json",
  "tsconfig.json",
  "promotions.json",
  "automations.json",
  "stages.json",
];

/** Each edit maps a project-relative file to a function of its text; an edit that changes nothing throws (it would prove nothing). */
export function copyProject(edits: Record<string, (text: string) => string> = {}, prefix = "project-copy-"): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  for (const entry of DEPLOYED_ENTRIES)
    cpSync(path.join(projectRoot, entry), path.join(dir, entry), { recursive: true });
  for (const entry of ["node_modules", ".sst"]) symlinkSync(path.join(projectRoot, entry), path.join(dir, entry));
  for (const [file, edit] of Object.entries(edits)) {
    const target = path.join(dir, file);
    const before = readFileSync(target, "utf8");
    const after = edit(before);
    if (after === before) throw new Error(`The edit of ${file} changed nothing: fix the test, it would prove nothing.`);
    writeFileSync(target, after);
  }
  return dir;
}
