/**
 * status.ts's checks of the host itself (issue 16, first slice): the services the inventory turns
 * on are running and listening, the mail queue, the disk, the mail services' memory against the
 * budget, fail2ban's bans (an admin address among them is a warning), a reboot the kernel waits
 * for, and the last backup. The facts are read in one round trip with the engine's fact system;
 * `judgeHost` is pure (tests/unit/status.test.ts runs it on recorded outputs).
 */
import { commandOutput, listeningSockets, systemdUnit, tcpListeners, type ListeningSocket, type UnitState } from "../lib/facts/system.js";
import { ref, type FactRef } from "../lib/facts/types.js";
import { BlockList, isIP } from "node:net";
import { quote } from "../lib/shell.js";
import { STATE_DIR as BACKUP_STATE } from "../roles/backup/index.js";
import { bytes } from "../roles/budget/index.js";
import type { CheckResult } from "../dns/checks.js";

/** The settings the checks read (all have role defaults by the time the inventory is loaded). */
export interface StatusVars {
  mailbox_root: string;
  fail2ban_enabled?: boolean;
  opendkim_enabled?: boolean;
  opendmarc_enabled?: boolean;
  web_enabled?: boolean;
  webmail_enabled?: boolean;
  backup_enabled?: boolean;
  budget_enabled?: boolean;
  budget_slice?: string;
  budget_memory_max?: string;
  firewall_admin_addresses?: string[];
  firewall_enabled?: boolean;
}

export interface Service {
  unit: string;
  /** The unit that really runs the daemon where it exists (Debian 12's postfix.service is a oneshot wrapper of postfix@-.service). */
  instance?: string;
  why: string;
  /** TCP ports it must listen on. */
  ports: number[];
}

/** The units the inventory turns on, each with the ports it serves. */
export function servicesOf(v: StatusVars): Service[] {
  const s: Service[] = [
    { unit: "postfix.service", instance: "postfix@-.service", why: "mail in (25) and submission (465, 587)", ports: [25, 465, 587] },
    { unit: "dovecot.service", why: "IMAP (993), ManageSieve (4190), delivery (LMTP)", ports: [993, 4190] },
  ];
  if (v.opendkim_enabled !== false) s.push({ unit: "opendkim.service", why: "DKIM signing of outgoing mail", ports: [] });
  if (v.opendmarc_enabled !== false) s.push({ unit: "opendmarc.service", why: "SPF and DMARC checks of incoming mail", ports: [] });
  if (v.fail2ban_enabled !== false) s.push({ unit: "fail2ban.service", why: "bans of password guessers", ports: [] });
  if (v.firewall_enabled !== false) s.push({ unit: "mailstead-firewall.service", why: "the firewall (nftables table inet mailstead)", ports: [] });
  if (v.web_enabled) s.push({ unit: "lighttpd.service", why: "MTA-STS policy, autoconfig and the webmail", ports: [80, 443] });
  if (v.webmail_enabled) s.push({ unit: "mailstead-webmail.socket", why: "the webmail's socket (PHP starts on demand)", ports: [] });
  return s;
}

export const QUEUE_CMD = "postqueue -j 2>/dev/null || true";
export const DF_CMD = (root: string) => `df -P -B1 ${quote(root)} / 2>/dev/null | tail -n +2`;
export const BANS_CMD = "fail2ban-client banned 2>/dev/null || true";
export const REBOOT_CMD = "if [ -f /run/reboot-required ]; then echo yes; cat /run/reboot-required.pkgs 2>/dev/null; else echo no; fi";
export const BACKUP_CMD = `cat ${BACKUP_STATE}/last.json 2>/dev/null || true`;
export const MEMORY_CMD = (slice: string) => `systemctl show -P MemoryCurrent ${quote(slice)} 2>/dev/null || true`;
export const NOW_CMD = "date +%s";

export function statusFacts(v: StatusVars): FactRef[] {
  return [
    ...servicesOf(v).flatMap((s) => [s.unit, ...(s.instance ? [s.instance] : [])].map((u) => ref(systemdUnit, u))),
    ref(listeningSockets, undefined),
    ref(commandOutput, QUEUE_CMD),
    ref(commandOutput, DF_CMD(v.mailbox_root)),
    ref(commandOutput, BANS_CMD),
    ref(commandOutput, REBOOT_CMD),
    ref(commandOutput, BACKUP_CMD),
    ref(commandOutput, MEMORY_CMD(v.budget_slice ?? "mail.slice")),
    ref(commandOutput, NOW_CMD),
  ];
}

export interface HostFacts {
  units: Record<string, UnitState>;
  sockets: ListeningSocket[];
  queue: string;
  df: string;
  bans: string;
  reboot: string;
  backup: string;
  memory: string;
  now: number;
}

/** Read the gathered facts back into one record (a Host's `get`). */
export function readFacts(v: StatusVars, get: <T>(r: FactRef<T>) => T): HostFacts {
  return {
    units: Object.fromEntries(servicesOf(v).flatMap((s) => [s.unit, ...(s.instance ? [s.instance] : [])]).map((u) => [u, get(ref(systemdUnit, u))])),
    sockets: get(ref(listeningSockets, undefined)),
    queue: get(ref(commandOutput, QUEUE_CMD)),
    df: get(ref(commandOutput, DF_CMD(v.mailbox_root))),
    bans: get(ref(commandOutput, BANS_CMD)),
    reboot: get(ref(commandOutput, REBOOT_CMD)),
    backup: get(ref(commandOutput, BACKUP_CMD)),
    memory: get(ref(commandOutput, MEMORY_CMD(v.budget_slice ?? "mail.slice"))),
    now: Number(get(ref(commandOutput, NOW_CMD))),
  };
}

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const ago = (s: number) => (s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} days`);

/** Thresholds the checks use (docs/operations.md explains each). */
export const LIMITS = {
  queueWarn: 20,
  queueAgeWarnS: 3600,
  queueAgeFailS: 86400,
  diskWarn: 0.8,
  diskFail: 0.95,
  memoryWarn: 0.9,
  backupWarnS: 36 * 3600,
  backupFailS: 72 * 3600,
};

/** Parse `fail2ban-client banned`: [{'sshd': ['1.2.3.4']}, {'dovecot': []}] (Python's repr). */
export function parseBans(out: string): Record<string, string[]> {
  const res: Record<string, string[]> = {};
  for (const m of out.matchAll(/'([^']+)':\s*\[([^\]]*)\]/g)) res[m[1]!] = [...m[2]!.matchAll(/'([^']+)'/g)].map((x) => x[1]!);
  return res;
}

/** An address inside one of the admin's addresses/CIDRs (IPv4 and IPv6, node's BlockList). */
export function coveredBy(addr: string, cidrs: string[]): boolean {
  const family = isIP(addr);
  if (!family) return false;
  const list = new BlockList();
  for (const c of cidrs) {
    const [net = "", bits] = c.split("/");
    const f = isIP(net);
    if (!f) continue;
    const type = f === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(net, type);
    else list.addSubnet(net, Number(bits), type);
  }
  return list.check(addr, family === 6 ? "ipv6" : "ipv4");
}

/** JSON of a host's file, or undefined when it is not JSON (a truncated write). */
function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Every check of the host, pass/warn/fail with the fix. */
export function judgeHost(v: StatusVars, f: HostFacts): CheckResult[] {
  const out: CheckResult[] = [];
  const push = (check: string, record: string, status: CheckResult["status"], detail: string, fix?: string) => out.push({ check, record, status, detail, ...(fix && status !== "pass" ? { fix } : {}) });

  for (const s of servicesOf(v)) {
    const inst = s.instance ? f.units[s.instance] : undefined;
    // a wrapper that only "exited" (Debian 12) says nothing of the daemon: its instance does
    const name = inst?.load === "loaded" && f.units[s.unit]?.sub === "exited" ? s.instance! : s.unit;
    const u = f.units[name];
    const ok = u?.active === "active";
    push("service", name, ok ? "pass" : "fail", `${s.why}: ${u ? `${u.active} (${u.sub})` : "unknown"}`, `start it and read why it stopped: systemctl start ${name}; journalctl -u ${name} -n 50`);
    for (const p of s.ports) {
      const on = tcpListeners(f.sockets, p);
      push("port", `${p}/tcp (${s.unit})`, on.length ? "pass" : "fail", on.length ? `listening on ${on.join(" ")}` : "nothing listens", `the service does not listen on ${p}: systemctl restart ${s.unit}; journalctl -u ${s.unit} -n 50`);
    }
  }

  // The queue: what waits, and for how long.
  const msgs = f.queue.split("\n").filter((l) => l.startsWith("{")).flatMap((l) => parseJson<{ arrival_time?: number; recipients?: { delay_reason?: string }[] }>(l) ?? []);
  if (msgs.length === 0) push("queue", "mail queue", "pass", "empty");
  else {
    const oldest = msgs.reduce((o, m) => Math.max(o, f.now - (m.arrival_time ?? f.now)), 0);
    const reasons = new Map<string, number>();
    for (const m of msgs) for (const r of m.recipients ?? []) if (r.delay_reason) reasons.set(r.delay_reason.slice(0, 100), (reasons.get(r.delay_reason.slice(0, 100)) ?? 0) + 1);
    const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([r, n]) => `${n}× ${r}`).join("; ");
    const status = oldest > LIMITS.queueAgeFailS ? "fail" : oldest > LIMITS.queueAgeWarnS || msgs.length >= LIMITS.queueWarn ? "warn" : "pass";
    push("queue", "mail queue", status, `${msgs.length} message(s), the oldest waiting ${ago(oldest)}${top ? `; deferred: ${top}` : ""}`, "read why with `postqueue -p`; once the cause is fixed, `postqueue -f` retries now (Postfix gives up and bounces after 5 days)");
  }

  // Disk: the Maildirs' filesystem and /.
  const seen = new Set<string>();
  for (const line of f.df.split("\n").filter(Boolean)) {
    const [fs, size, used, avail, , mount] = line.trim().split(/\s+/);
    if (!mount || seen.has(mount)) continue;
    seen.add(mount);
    // as df's Capacity: of what non-root writers (Postfix, Dovecot) can use, the reserved blocks left out
    const share = Number(used) / (Number(used) + Number(avail));
    const status = share >= LIMITS.diskFail ? "fail" : share >= LIMITS.diskWarn ? "warn" : "pass";
    push("disk", mount, status, `${Math.round(share * 100)}% used of ${mib(Number(size))} (${fs})`, "free space (journalctl --vacuum-size=100M, apt-get clean), lower dovecot_autoexpunge's ages or the quotas, or grow the volume: Postfix stops accepting mail when the disk is nearly full");
  }

  // Memory of the mail services against the budget.
  if (v.budget_enabled !== false && v.budget_memory_max) {
    const cur = Number(f.memory);
    const max = bytes(v.budget_memory_max);
    if (Number.isFinite(cur) && cur > 0 && Number.isFinite(max)) {
      push("memory", v.budget_slice ?? "mail.slice", cur >= max * LIMITS.memoryWarn ? "warn" : "pass", `${mib(cur)} of ${v.budget_memory_max} (page cache included)`, "see which service grew: systemd-cgtop; docs/memory.md");
    }
  }

  // fail2ban: what is banned now, and never an admin.
  if (v.fail2ban_enabled !== false && !f.bans.trim()) {
    push("fail2ban", "bans", "warn", "fail2ban-client answered nothing: the bans are unknown", "systemctl status fail2ban; fail2ban-client status");
  } else if (v.fail2ban_enabled !== false) {
    const bans = parseBans(f.bans);
    const all = Object.entries(bans).flatMap(([j, ips]) => ips.map((ip) => ({ j, ip })));
    const admins = all.filter((b) => coveredBy(b.ip, v.firewall_admin_addresses ?? []));
    if (admins.length) push("fail2ban", "bans", "warn", `an admin address is banned: ${admins.map((b) => `${b.ip} (${b.j})`).join(", ")}`, `unban it: ${admins.map((b) => `fail2ban-client set ${b.j} unbanip ${b.ip}`).join("; ")} (admin addresses are ignored by the jails: the ban was set by hand or before the address was listed)`);
    else push("fail2ban", "bans", "pass", all.length ? `${all.length} banned: ${[...new Set(all.map((b) => b.j))].map((j) => `${j} ${bans[j]!.length}`).join(", ")}` : "nothing banned");
  }

  // A reboot the updates wait for.
  const [reboot = "no", ...pkgs] = f.reboot.split("\n");
  push("updates", "reboot", reboot.trim() === "yes" ? "warn" : "pass", reboot.trim() === "yes" ? `a reboot is required${pkgs.length ? ` (${pkgs.join(", ")})` : ""}` : "no reboot required", "reboot at a quiet hour: sudo systemctl reboot (mail is queued by the sending servers meanwhile)");

  // The last backup.
  if (v.backup_enabled) {
    if (!f.backup) push("backup", "last backup", "fail", "no backup has run yet", "run one now: npx tsx playbooks/backup.ts -i <inventory> --limit <host>, and read its output");
    else {
      const b = parseJson<{ result?: string; message?: string; ended?: number; snapshot?: string }>(f.backup) ?? { result: "unreadable", message: `${BACKUP_STATE}/last.json is not JSON` };
      const age = f.now - (b.ended ?? 0);
      const status = b.result !== "ok" || age > LIMITS.backupFailS ? "fail" : age > LIMITS.backupWarnS ? "warn" : "pass";
      push("backup", "last backup", status, `${b.result === "ok" ? `snapshot ${b.snapshot}` : `failed: ${b.message}`}, ${ago(age)} ago`, "read why: journalctl -u mailstead-backup.service -n 50; then npx tsx playbooks/backup.ts -i <inventory> --limit <host>");
    }
  }
  return out;
}
