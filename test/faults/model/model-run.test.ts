/**
 * The send ledger's invariants (never two batches for a key, nothing lost, a cancel never lost,
 * each request decided; model-world.ts) hold under random interleavings (issue 10's model run) of deliveries, redeliveries, duplicate copies, crashes
 * at every port call, lease and visibility expiry, cancels at every point, dead-lettering and
 * redrives, and PassEntry's 429s, 5xx (before and after the effect), timeouts, dropped answers and
 * slow list pages — against three sender instances and a canceller sharing one virtual clock (see
 * model-rig.ts for the machinery and model-world.ts for the invariants). Since issue 14 a delivery
 * holds up to 5 messages, so one caller's one-recipient requests share PassEntry batches (refused
 * ones are halved) under all of the above, and every invariant is judged per member request.
 *
 * It was written before the send ledger's rewrite (and found four kinds of failure in the ledger
 * of the time). `npm test` runs it short (MODEL_RUNS default 40); `npm run test:faults` runs it
 * with 3,000 runs. MODEL_SEED replays a seed that fast-check printed; MODEL_TRACE=full shows a
 * counterexample's whole run. `npm run model:survey` counts what thousands of runs find.
 */
import fc from "fast-check";
import { describe, it } from "vitest";
import { modelProperty } from "./model-world.js";

const RUNS = Number(process.env.MODEL_RUNS ?? 40);
const SEED = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED);
describe("the send ledger under the model run (issues 10 and 14)", () => {
  it(`keeps every invariant over ${RUNS} random runs`, async () => {
    const startedAt = performance.now();
    const details = await fc.check(modelProperty(), { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) });
    const seconds = (performance.now() - startedAt) / 1000;
    const runs = details.numRuns + details.numShrinks;
    console.log(
      `model run: ${details.numRuns} run(s) before ${details.failed ? "the first failure" : "the end"}, ${details.numShrinks} shrink run(s), ${seconds.toFixed(1)} s, ${(runs / seconds).toFixed(1)} runs/s`,
    );
    if (details.failed) {
      // fast-check's report names the shrunk command list; the violation (with the run's last steps) is the error it threw.
      const violation =
        details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      throw new Error(`${fc.defaultReportMessage(details) ?? "The model run failed."}\n\n${violation}`);
    }
  }, 3_600_000);
});
