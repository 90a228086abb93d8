/**
 * What the model run finds, in numbers: `npm run model:survey` (or with `-- --runs 2000 --seed 7`).
 *
 * 1. Runs the model `--runs` times (default 500) with fresh random commands, records which
 *    invariant each run broke first, and prints the tally and the rate in runs per second.
 * 2. For each invariant that broke (or those named with `--only 1,2a`), lets fast-check find and
 *    shrink a counterexample that breaks that invariant, and prints it with the violation.
 *
 * `--ledger dynamodb` runs it on the DynamoDB ledger (dynalite on 127.0.0.1, a table per run; far
 * slower) instead of SQLite: a shared batch's member writes are separate conditional writes there,
 * so a crash can leave a group half joined or half settled.
 *
 * A measuring tool, not a test: it never fails. `npm test` (40 runs) and `npm run test:faults` (3,000) are the test.
 */
import { parseArgs } from "node:util";
import fc from "fast-check";
import { commandArbitrary, defaultIntents, modelRun, ModelViolation, type Coverage } from "./model-world.js";
import type { HomeName, ModelRigOptions } from "./model-rig.js";
import { startLocalDynamoDb } from "../../adapters/support/local-dynamodb.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string" },
    seed: { type: "string" },
    only: { type: "string" },
    "shrink-runs": { type: "string" },
    ledger: { type: "string" },
  },
});
const runs = Number(values.runs ?? 500);
const seed = Number(values.seed ?? 1);
const shrinkRuns = Number(values["shrink-runs"] ?? 3000);
if (values.ledger !== undefined && values.ledger !== "sqlite" && values.ledger !== "dynamodb")
  throw new Error(`--ledger must be sqlite or dynamodb, not ${values.ledger}.`);
const dynamo = values.ledger === "dynamodb" ? await startLocalDynamoDb() : undefined;
const ledger: ModelRigOptions["ledger"] = dynamo ? { kind: "dynamodb", dynamo } : undefined;

const intents = defaultIntents();
const command = commandArbitrary({ workers: ["w0", "w1", "w2"], canceller: "canceller", intents });
const input = fc.tuple(
  fc.constantFrom<HomeName>("aws", "local"),
  fc.shuffledSubarray(
    intents.map((i) => i.label),
    { minLength: 1 },
  ),
  fc.commands([command], { maxCommands: 80, size: "max" }),
);

/** "2a (cancel acknowledged before a POST)" → "2a". */
const classOf = (error: unknown) =>
  error instanceof ModelViolation
    ? error.invariant.split(" ")[0]!
    : `not a violation: ${(error as Error).message.split("\n")[0]}`;

const tally = new Map<string, number>();
// Shared batches (issue 14): how many runs exercised each thing at least once, and how often in all.
const exercised = new Map<keyof Coverage, { runs: number; total: number }>();
const count = (coverage: Coverage) => {
  for (const [key, n] of Object.entries(coverage) as [keyof Coverage, number][]) {
    const seen = exercised.get(key) ?? { runs: 0, total: 0 };
    exercised.set(key, { runs: seen.runs + (n > 0 ? 1 : 0), total: seen.total + n });
  }
};
const startedAt = performance.now();
for (const [home, submitted, commands] of fc.sample(input, { numRuns: runs, seed })) {
  let outcome = "held";
  try {
    await modelRun(home, submitted, commands, count, ledger);
  } catch (error) {
    outcome = classOf(error);
  }
  tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
}
const seconds = (performance.now() - startedAt) / 1000;
console.log(
  `${runs} runs in ${seconds.toFixed(1)} s: ${(runs / seconds).toFixed(1)} runs/s (seed ${seed}, ${dynamo ? "DynamoDB" : "SQLite"} ledger)`,
);
console.log("first invariant each run broke:");
for (const [outcome, n] of [...tally].sort((a, b) => b[1] - a[1]))
  console.log(`  ${outcome.padEnd(8)} ${n} (${((100 * n) / runs).toFixed(1)} %)`);
console.log("shared batches exercised (runs with at least one / in all):");
for (const [key, seen] of exercised)
  console.log(`  ${key.padEnd(30)} ${String(seen.runs).padStart(6)} runs  ${String(seen.total).padStart(7)} in all`);

const wanted = values.only
  ? values.only.split(",")
  : [...tally.keys()].filter((k) => k !== "held" && !k.startsWith("not a"));
for (const invariant of wanted) {
  // Only this invariant counts as a failure, so the shrinker keeps the counterexample about it.
  const property = fc.asyncProperty(input, async ([home, submitted, commands]) => {
    try {
      await modelRun(home, submitted, commands, undefined, ledger);
    } catch (error) {
      if (classOf(error) === invariant) throw error;
    }
  });
  const details = await fc.check(property, { numRuns: shrinkRuns, seed });
  console.log(`\n=== invariant ${invariant} ===`);
  if (!details.failed) {
    console.log(`not broken in ${details.numRuns} runs`);
    continue;
  }
  console.log(`found after ${details.numRuns} run(s), shrunk ${details.numShrinks} time(s):`);
  console.log(fc.stringify(details.counterexample));
  console.log((details.errorInstance as Error).message);
}
await dynamo?.close();
