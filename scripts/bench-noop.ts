/**
 * Benchmark: how long a no-op re-converge takes per step against a lab VM.
 *   npx tsx scripts/bench-noop.ts [-i tests/lab/.state/inventory.yml] [--host mx1] [--runs 5]
 * Converges once (site roles + a synthetic 50-step role like the Ansible
 * reference play), then times N no-op runs in-process over one SSH connection
 * each, and prints steps, seconds, ms/step and fact round trips per run
 * (scripts/bench/noop.ts; `npm run bench` reports the same median).
 * Goal (issue 2): at most 20 ms per step.
 */
import { parseArgs } from "node:util";
import { noopRuns } from "./bench/noop.js";

const { values } = parseArgs({
  options: {
    inventory: { type: "string", short: "i", default: "tests/lab/.state/inventory.yml" },
    host: { type: "string", default: "mx1" },
    runs: { type: "string", default: "5" },
  },
});

const { warm, median: med } = await noopRuns(values.inventory!, values.host!, Number(values.runs), (i, r) =>
  console.log(`no-op run ${i + 1}: ${r.steps} steps in ${(r.ms / 1000).toFixed(3)} s = ${(r.ms / r.steps).toFixed(1)} ms/step (fact round trips ${r.trips}; connect ${r.connectMs.toFixed(0)} ms not included)`),
);
console.log(`warm-up converge: ${warm.steps} steps, changed=${warm.changed}, failed=${warm.failed}, ${(warm.ms / 1000).toFixed(2)} s`);
console.log(`median: ${med.steps} steps, ${(med.ms / 1000).toFixed(3)} s, ${(med.ms / med.steps).toFixed(1)} ms/step — goal ≤ 20 ms/step: ${med.ms / med.steps <= 20 ? "met" : "NOT met"}`);
