/**
 * `lab mem NAME`: PSS per systemd unit inside a VM (recipe §7): sum /proc/<pid>/smaps_rollup Pss
 * over the processes of each unit, found through the `name=systemd` line of /proc/<pid>/cgroup.
 * Runs inside the VM over SSH (python3 is in the base image).
 * Note: in a minbase image SSH sessions run inside ssh.service, so ssh.service includes
 * this measurement's own processes.
 */
import type { LabHost } from "./state.ts";
import { sshRun } from "./vm.ts";

export interface UnitMem {
  unit: string;
  pssKiB: number;
  processes: number;
}
export interface MemReport {
  host: string;
  units: UnitMem[];
  totalKiB: number;
}

/**
 * Python: `pss_by_unit()`, PSS summed per systemd unit with the slice the unit runs in, largest
 * first. Shared with `npm run bench`'s sampler (scripts/bench/remote.ts).
 */
export const PSS_BY_UNIT_PY = String.raw`
import json, os, re
def pss_by_unit():
    units = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            cg = open('/proc/%s/cgroup' % pid).read()
            pss = 0
            for line in open('/proc/%s/smaps_rollup' % pid):
                if line.startswith('Pss:'):
                    pss = int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue
        path = None
        for line in cg.splitlines():
            parts = line.split(':', 2)
            if len(parts) == 3 and parts[1] == 'name=systemd':
                path = parts[2]
        if path is None:
            for line in cg.splitlines():
                if line.startswith('0::'):
                    path = line[3:]
        if path is None:
            continue
        segs = [s for s in path.split('/') if s]
        unit, sl = None, '-'
        for i in range(len(segs) - 1, -1, -1):
            if re.search(r'\.(service|scope|socket|mount|swap)$', segs[i]):
                unit = segs[i]
                sl = next((s for s in reversed(segs[:i]) if s.endswith('.slice')), '-')
                break
        if unit is None:
            unit = 'init.scope' if pid == '1' else (path or '/')
        u = units.setdefault(unit, [sl, 0, 0])
        u[1] += pss
        u[2] += 1
    return [{'unit': k, 'slice': v[0], 'pssKiB': v[1], 'processes': v[2]} for k, v in sorted(units.items(), key=lambda kv: -kv[1][1])]
`;

const SCRIPT = `${PSS_BY_UNIT_PY}
print(json.dumps([[u['unit'], u['pssKiB'], u['processes']] for u in pss_by_unit()]))
`;

export async function memReport(h: LabHost): Promise<MemReport> {
  const r = await sshRun(h, "sudo python3 -", { input: SCRIPT, timeoutMs: 30_000 });
  const rows = JSON.parse(r.stdout) as [string, number, number][];
  const units = rows.map(([unit, pssKiB, processes]) => ({ unit, pssKiB, processes }));
  return { host: h.name, units, totalKiB: units.reduce((a, u) => a + u.pssKiB, 0) };
}

export function formatMem(m: MemReport): string {
  const w = Math.max(20, ...m.units.map((u) => u.unit.length));
  const mib = (k: number) => (k / 1024).toFixed(1).padStart(8);
  return [
    `PSS per systemd unit on ${m.host} (MiB; ssh.service includes this measurement's session):`,
    `  ${"unit".padEnd(w)}  ${"PSS MiB".padStart(8)}  procs`,
    ...m.units.map((u) => `  ${u.unit.padEnd(w)}  ${mib(u.pssKiB)}  ${String(u.processes).padStart(5)}`),
    `  ${"total".padEnd(w)}  ${mib(m.totalKiB)}`,
  ].join("\n");
}
