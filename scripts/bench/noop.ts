/**
 * The no-op re-converge measured in-process (scripts/bench-noop.ts and `npm run bench`): the site
 * roles plus a synthetic 50-step role like the Ansible reference play, each run over one fresh
 * SSH connection (reported apart), no verify. A run that changes anything is not a no-op: an error.
 */
import { Host } from "../../lib/host.js";
import { loadInventory, selectHosts } from "../../lib/inventory/index.js";
import { transportFor } from "../../lib/transport/index.js";
import { apt, directory, file, systemd } from "../../lib/operations/index.js";
import type { Role } from "../../lib/role.js";
import { run } from "../../lib/runner.js";
import { allSettings, siteRoles } from "../../roles/registry.js";

const BENCH = "/var/lib/mailstead-bench";

/** 50 checks of the kinds a real play has: files, directories, services, packages. */
export const synthetic: Role = {
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

export interface NoopRun {
  steps: number;
  changed: number;
  failed: number;
  ms: number;
  connectMs: number;
  trips: number;
}

/** Converge once (warm-up), then `runs` timed no-op runs; returns the warm-up and the runs. */
export async function noopRuns(inventory: string, hostName: string, runs: number, onRun: (i: number, r: NoopRun) => void = () => {}): Promise<{ warm: NoopRun; runs: NoopRun[]; median: NoopRun }> {
  const inv = loadInventory(inventory, { settings: allSettings(), roles: siteRoles });
  const [spec] = selectHosts(inv, hostName);
  if (!spec) throw new Error(`no host ${hostName}`);
  const roles = [...siteRoles, synthetic];
  const once = async (): Promise<NoopRun> => {
    const host = new Host(spec.name, spec.vars, transportFor(spec, false));
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
  };
  const warm = await once();
  const rows: NoopRun[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once();
    if (r.changed || r.failed) throw new Error(`run ${i + 1} was not a no-op: changed=${r.changed} failed=${r.failed}`);
    rows.push(r);
    onRun(i, r);
  }
  const median = [...rows].sort((a, b) => a.ms - b.ms)[Math.floor(rows.length / 2)]!;
  return { warm, runs: rows, median };
}
