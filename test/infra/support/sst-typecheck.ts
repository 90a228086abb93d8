/**
 * Runs the same type-check as `scripts/check-infra.sh`: SST's own TypeScript (installed with the
 * platform) over `tsconfig.infra.json`, i.e. `sst.config.ts` + `infra/**` against SST's sources.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { projectRoot } from "./sst-bundle.js";

export const platformDir = path.join(projectRoot, ".sst", "platform");
export const sstTsc = path.join(platformDir, "node_modules", ".bin", "tsc");

export function platformInstalled(): boolean {
  return existsSync(path.join(platformDir, "config.d.ts")) && existsSync(sstTsc);
}

export interface TypecheckResult {
  status: number | null;
  output: string;
}

export function typecheck(dir: string): TypecheckResult {
  const run = spawnSync(sstTsc, ["-p", "tsconfig.infra.json", "--pretty", "false"], {
    cwd: dir,
    encoding: "utf8",
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/**
 * A throw-away copy of the infra sources (sst.config.ts, tsconfig.infra.json, infra/) that shares
 * the real `.sst` and `node_modules` through symlinks, so a test can break it on purpose.
 */
export function copyInfra(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "infra-typecheck-"));
  for (const entry of ["sst.config.ts", "tsconfig.infra.json", "infra"]) {
    cpSync(path.join(projectRoot, entry), path.join(dir, entry), { recursive: true });
  }
  // infra/ reads the application's promotions file, stage table and schemas: the copy sees the real ones.
  for (const entry of [".sst", "node_modules", "functions", "promotions.json", "stages.json"])
    symlinkSync(path.join(projectRoot, entry), path.join(dir, entry));
  return dir;
}
