/**
 * The infra type-check (SST's TypeScript over sst.config.ts + infra/ against SST's own component
 * sources) passes, and fails when infra passes an argument SST does not know. The second half is
 * what makes the first worth anything. Needs `.sst/platform` (check:infra installs it).
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { copyInfra, platformInstalled, typecheck, type TypecheckResult } from "./support/sst-typecheck.js";

/** Mistakes a person could make in infra/, each of which the type-check must refuse. */
const mistakes = [
  {
    mistake: "an unknown Queue argument",
    file: "infra/queue.ts",
    edit: (source: string) => `${source}\nnew sst.aws.Queue("Q", { bogus: true });\n`,
    error: /infra\/queue\.ts\(\d+,\d+\): error TS2353: .*'bogus' does not exist in type 'QueueArgs'/,
  },
  {
    mistake: "a misspelt batch option on the sender's subscription",
    file: "infra/sender.ts",
    edit: (source: string) => source.replace("partialResponses:", "partialResponse:"),
    error: /infra\/sender\.ts\(\d+,\d+\): error TS\d+: .*'partialResponse' does not exist/,
  },
  {
    mistake: "a misspelt field in the event source mapping transform",
    file: "infra/sender.ts",
    edit: (source: string) => source.replace("maximumConcurrency:", "maximumConcurency:"),
    error: /infra\/sender\.ts\(\d+,\d+\): error TS\d+: .*'maximumConcurency' does not exist/,
  },
  {
    mistake: "a Lambda runtime SST does not offer",
    file: "infra/manifest.ts",
    edit: (source: string) =>
      source.replace('export const RUNTIME = "nodejs24.x"', 'export const RUNTIME = "nodejs16.x"'),
    error: /infra\/lambda\.ts\(\d+,\d+\): error TS\d+: Type '"nodejs16\.x"' is not assignable/,
  },
];

let unchanged: TypecheckResult;
let broken: TypecheckResult;

beforeAll(() => {
  if (!platformInstalled()) {
    throw new Error(
      "SST's platform is not installed (.sst/platform/config.d.ts). Run `npm run check:infra`, which installs it offline.",
    );
  }
  // Two tsc runs in all (~10 s each): one on a faithful copy, one with every mistake applied.
  unchanged = typecheck(copyInfra());
  const dir = copyInfra();
  for (const { file, edit } of mistakes) {
    const target = path.join(dir, file);
    const before = readFileSync(target, "utf8");
    const after = edit(before);
    if (after === before)
      throw new Error(`The edit for ${file} changed nothing: fix the test, it would prove nothing.`);
    writeFileSync(target, after);
  }
  broken = typecheck(dir);
});

describe("infra type-check", () => {
  it("passes on an unchanged copy of the infra sources", () => {
    expect(unchanged.output).toBe("");
    expect(unchanged.status).toBe(0);
  });

  it("exits non-zero when infra holds mistakes", () => {
    expect(broken.status).not.toBe(0);
  });

  it.each(mistakes)("reports $mistake", ({ error }) => {
    expect(broken.output).toMatch(error);
  });
});
