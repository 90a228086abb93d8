/**
 * `npm run lint`: Biome's check (biome.jsonc: the formatter, and its lint rules with focused and
 * skipped tests as errors, warnings too) over the tree or the paths given, then the layering check (scripts/check-layers.mjs) over
 * the tree. Exits 1 if either fails.
 *
 *   npm run lint
 *   node scripts/lint.mjs test/unit/some.test.ts   # Biome on these paths only
 * `--report <file>` also writes a vitest-shaped JSON report (one test per check), so `.ci/run`'s
 * `N passed, N failed` line counts the lint.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const reportAt = args.indexOf("--report");
const report = reportAt === -1 ? undefined : args.splice(reportAt, 2)[1];
const paths = args.length > 0 ? args : ["."];
const checks = [
  {
    name: "biome check",
    command: join(ROOT, "node_modules", ".bin", "biome"),
    args: ["check", "--error-on-warnings", ...paths],
  },
  { name: "layering", command: process.execPath, args: [join(ROOT, "scripts", "check-layers.mjs")] },
];

const results = checks.map((check) => {
  console.log(`› ${check.name}`);
  const run = spawnSync(check.command, check.args, { cwd: ROOT, stdio: "inherit" });
  return { name: check.name, passed: run.status === 0 };
});

if (report) {
  const failed = results.filter((r) => !r.passed);
  writeFileSync(
    report,
    JSON.stringify({
      numPassedTests: results.length - failed.length,
      numFailedTests: failed.length,
      success: failed.length === 0,
      testResults: results.map((r) => ({ name: r.name, status: r.passed ? "passed" : "failed" })),
    }),
  );
}
for (const r of results) if (!r.passed) console.error(`lint: ${r.name} failed.`);
process.exit(results.every((r) => r.passed) ? 0 : 1);
