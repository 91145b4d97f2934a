/**
 * Benchmark: how long a no-op re-converge takes per step against a lab VM.
 *   npx tsx scripts/bench-noop.ts [-i tests/lab/.state/inventory.yml] [--host mx1] [--runs 5]
 * Converges once (site roles + a synthetic 50-step role like the Ansible
 * reference play), then times N no-op runs in-process over one SSH connection
 * each, and prints steps, seconds, ms/step and fact round trips per run.
 * Goal (issue 2): at most 20 ms per step.
 */
import { parseArgs } from "node:util";
import { Host } from "../lib/host.js";
import { loadInventory, selectHosts } from "../lib/inventory/index.js";
import { transportFor } from "../lib/transport/index.js";
import { apt, directory, file, systemd } from "../lib/operations/index.js";
import type { Role } from "../lib/role.js";
import { run } from "../lib/runner.js";
import { allSettings, siteRoles } from "../roles/registry.js";

const { values } = parseArgs({
  options: {
    inventory: { type: "string", short: "i", default: "tests/lab/.state/inventory.yml" },
    host: { type: "string", default: "mx1" },
    runs: { type: "string", default: "5" },
  },
});
const runs = Number(values.runs);
const BENCH = "/var/lib/mailstead-bench";

/** 50 checks of the kinds a real play has: files, directories, services, packages. */
const synthetic: Role = {
  name: "bench50",
  settings: {},
  steps: () => [
    { title: "bench dir", action: directory({ path: BENCH }) },
    ...Array.from({ length: 9 }, (_, i) => ({ title: `dir ${i}`, action: directory({ path: `${BENCH}/d${i}`, mode: "0750" }) })),
    ...Array.from({ length: 20 }, (_, i) => ({ title: `file ${i}`, action: file({ path: `${BENCH}/f${i}.conf`, content: `# file ${i}\nkey${i} = value${i}\n`.repeat(20) }) })),
    ...Array.from({ length: 10 }, (_, i) => ({ title: `service ${i}`, action: systemd.service({ name: i % 2 ? "ssh" : "systemd-journald", running: true }) })),
    ...Array.from({ length: 10 }, (_, i) => ({ title: `package ${i}`, action: apt.packages({ present: [["sudo", "openssh-server", "iproute2", "ca-certificates", "dbus"][i % 5]!] }) })),
  ],
};

const inv = loadInventory(values.inventory!, { settings: allSettings(), roles: siteRoles });
const [spec] = selectHosts(inv, values.host);
if (!spec) throw new Error(`no host ${values.host}`);
const roles = [...siteRoles, synthetic];

async function once(): Promise<{ steps: number; changed: number; failed: number; ms: number; connectMs: number; trips: number }> {
  const host = new Host(spec!.name, spec!.vars, transportFor(spec!, false));
  const t0 = performance.now();
  await host.run("true"); // connect, so it can be reported apart
  const connectMs = performance.now() - t0;
  const t1 = performance.now();
  const out = await run([host], roles, { check: false, diff: false, noVerify: true });
  const ms = performance.now() - t1;
  const s = out.summaries[0]!;
  if (s.error) throw new Error(s.error);
  const steps = out.results.filter((r) => r.kind === "step" && r.status !== "skipped").length;
  return { steps, changed: s.changed, failed: s.failed, ms, connectMs, trips: s.factRoundTrips };
}

const warm = await once();
console.log(`warm-up converge: ${warm.steps} steps, changed=${warm.changed}, failed=${warm.failed}, ${(warm.ms / 1000).toFixed(2)} s`);
const rows = [];
for (let i = 0; i < runs; i++) {
  const r = await once();
  if (r.changed || r.failed) throw new Error(`run ${i + 1} was not a no-op: changed=${r.changed} failed=${r.failed}`);
  rows.push(r);
  console.log(`no-op run ${i + 1}: ${r.steps} steps in ${(r.ms / 1000).toFixed(3)} s = ${(r.ms / r.steps).toFixed(1)} ms/step (fact round trips ${r.trips}; connect ${r.connectMs.toFixed(0)} ms not included)`);
}
const med = [...rows].sort((a, b) => a.ms - b.ms)[Math.floor(rows.length / 2)]!;
console.log(`median: ${med.steps} steps, ${(med.ms / 1000).toFixed(3)} s, ${(med.ms / med.steps).toFixed(1)} ms/step — goal ≤ 20 ms/step: ${med.ms / med.steps <= 20 ? "met" : "NOT met"}`);
