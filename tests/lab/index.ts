/**
 * What e2e tests import: ensureLab() brings the lab up when it is not (idempotent, cheap when up),
 * plus the state loader, DNS helpers and SSH helpers.
 */
import { status, up, type UpOptions } from "./lab.ts";
import { loadLabState, type LabState } from "./state.ts";
import { selectHosts } from "./hosts.ts";

export { loadLabState, labHost, paths, type LabState, type LabHost, type TsigKey } from "./state.ts";
export { HOSTS, LAB_NET, type HostDef, type LabOs } from "./hosts.ts";
export { nsupdate, setRecord, deleteRecord, lookup, type KeyChoice } from "./dns.ts";
export { sshRun, sshArgs } from "./vm.ts";
export { memReport, formatMem, type MemReport } from "./mem.ts";
export { httpsGet } from "./acme.ts";
export { up, down, recreate, reboot, status, labSecrets } from "./lab.ts";

/** Bring the lab up unless it already is (every recorded PID alive); returns the state. */
export async function ensureLab(opts: UpOptions = {}): Promise<LabState> {
  const s = status();
  if (s.up) {
    const state = loadLabState();
    const wanted = selectHosts(opts.os).map((h) => h.name);
    if (wanted.every((n) => state.hosts.some((h) => h.name === n)) && !opts.rebuild) return state;
  }
  return up({ ...opts, quiet: false });
}
