/**
 * status.ts's checks of the host itself (issue 16, first slice): the services the inventory turns
 * on are running and listening, the mail queue, the disk, the mail services' memory against the
 * budget, fail2ban's bans (an admin address among them is a warning), a reboot the kernel waits
 * for, and the last backup. The facts are read in one round trip with the engine's fact system;
 * `judgeHost` is pure (tests/unit/status.test.ts runs it on recorded outputs).
 */
import { mailDomain } from "../roles/mailbox/model.js";
import { commandOutput, listeningSockets, systemdUnit, tcpListeners, type ListeningSocket, type UnitState } from "../lib/facts/system.js";
import { ref, type FactRef } from "../lib/facts/types.js";
import { BlockList, isIP } from "node:net";
import { quote } from "../lib/shell.js";
import { DRILL_RUN, STATE_DIR as BACKUP_STATE } from "../roles/backup/index.js";
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
  postfix_postscreen_enabled?: boolean;
  postfix_postscreen_dnsbl_sites?: string[];
  status_admin_email?: string;
  status_push_url?: string;
  mailbox_domain?: string;
  base_domain?: string;
}

/** Where the watchdog's alerts go: status_admin_email, or postmaster@ of the mail domain. */
export const adminEmail = (v: Pick<StatusVars, "status_admin_email" | "mailbox_domain" | "base_domain">) =>
  v.status_admin_email || `postmaster@${mailDomain({ mailbox_domain: v.mailbox_domain ?? "", base_domain: v.base_domain ?? "" })}`;

export interface Service {
  unit: string;
  /** The unit that really runs the daemon where it exists (Debian 12's postfix.service is a oneshot wrapper of postfix@-.service). */
  instance?: string;
  why: string;
  /** TCP ports it must listen on. */
  ports: number[];
  /** The daemon's PID file (Debian's default), where the watchdog (roles/status) finds its process; none for a socket or a oneshot. */
  pidfile?: string;
}

/** The units the inventory turns on, each with the ports it serves. */
export function servicesOf(v: StatusVars): Service[] {
  const s: Service[] = [
    { unit: "postfix.service", instance: "postfix@-.service", why: "mail in (25) and submission (465, 587)", ports: [25, 465, 587], pidfile: "/var/spool/postfix/pid/master.pid" },
    { unit: "dovecot.service", why: "IMAP (993), ManageSieve (4190), delivery (LMTP)", ports: [993, 4190], pidfile: "/run/dovecot/master.pid" },
  ];
  if (v.opendkim_enabled !== false) s.push({ unit: "opendkim.service", why: "DKIM signing of outgoing mail", ports: [], pidfile: "/run/opendkim/opendkim.pid" });
  if (v.opendmarc_enabled !== false) s.push({ unit: "opendmarc.service", why: "SPF and DMARC checks of incoming mail", ports: [], pidfile: "/run/opendmarc/opendmarc.pid" });
  if (v.fail2ban_enabled !== false) s.push({ unit: "fail2ban.service", why: "bans of password guessers", ports: [], pidfile: "/run/fail2ban/fail2ban.pid" });
  if (v.firewall_enabled !== false) s.push({ unit: "mailstead-firewall.service", why: "the firewall (nftables table inet mailstead)", ports: [] });
  if (v.web_enabled) s.push({ unit: "lighttpd.service", why: "MTA-STS policy, autoconfig and the webmail", ports: [80, 443], pidfile: "/run/lighttpd.pid" });
  if (v.webmail_enabled) s.push({ unit: "mailstead-webmail.socket", why: "the webmail's socket (PHP starts on demand)", ports: [] });
  return s;
}

export const QUEUE_CMD = "postqueue -j 2>/dev/null || true";
export const DF_CMD = (root: string) => `df -P -B1 ${quote(root)} / 2>/dev/null | tail -n +2`;
export const BANS_CMD = "fail2ban-client banned 2>/dev/null || true";
export const REBOOT_CMD = "if [ -f /run/reboot-required ]; then echo yes; cat /run/reboot-required.pkgs 2>/dev/null; else echo no; fi";
export const BACKUP_CMD = `cat ${BACKUP_STATE}/last.json 2>/dev/null || true`;
/** The last restore drill's record (playbooks/drill.ts, mailstead-drill.timer). */
export const DRILL_CMD = `cat ${DRILL_RUN} 2>/dev/null || true`;
/** When the backup role first ran here (its state directory's birth; 0 when the filesystem does not say): a host younger than its first backup only warns. */
export const BACKUP_SINCE_CMD = `stat -c %W ${BACKUP_STATE} 2>/dev/null || echo 0`;
export const MEMORY_CMD = (slice: string) => `systemctl show -P MemoryCurrent ${quote(slice)} 2>/dev/null || true`;
/**
 * PSS (KiB) per unit in the slice: each process's cgroup path (ps, both cgroup layouts: v1
 * lists one path per hierarchy) names its unit under the slice; its smaps_rollup Pss is summed
 * per unit. PSS shares pages between processes fairly, so the units add up (docs/memory.md).
 */
export const PSS_CMD = (slice: string) =>
  `ps -e -ww -o pid=,cgroup= | awk -v s=${quote(`/${slice}/`)} '{ i = index($0, s); if (i) { u = substr($0, i + length(s)); sub(/[\/,].*$/, "", u); print $1, u } }' | while read -r p u; do k=$(awk '/^Pss:/ { print $2 }' /proc/$p/smaps_rollup 2>/dev/null) && [ -n "$k" ] && echo "$u $k"; done | awk '{ a[$1] += $2 } END { for (u in a) print u, a[u] }' || true`;
export const NOW_CMD = "date +%s";
/** Every user's quota use (doveadm quota get -A; tab-separated, a header line). */
export const QUOTA_CMD = "doveadm -f tab quota get -A 2>/dev/null || true";
/**
 * The upgrades apt would install now, as a simulation (no lock, nothing installed): one `Inst`
 * line per package, its origin in parentheses (Debian-Security for security fixes). dist-upgrade,
 * as unattended-upgrades does, so a fix that needs a new package (a kernel ABI) is counted.
 */
export const UPDATES_CMD = "LC_ALL=C apt-get -s -o Debug::NoLocking=true dist-upgrade 2>/dev/null | grep '^Inst ' || true";

/** The lists postscreen asks (postfix_postscreen_dnsbl_sites without weights and filters). */
export function postscreenZones(v: StatusVars): string[] {
  if (v.postfix_postscreen_enabled === false) return [];
  return [...new Set((v.postfix_postscreen_dnsbl_sites ?? []).map((s) => s.replace(/[=*].*$/, "")).filter(Boolean))];
}

/**
 * A list's test point (RFC 5782 §5: 127.0.0.2 is always listed), asked through the host's own
 * resolver, the one postscreen uses: what the list answers the host, not the operator's machine.
 */
export const DNSBL_TEST_CMD = (zone: string) => `getent ahostsv4 ${quote(`2.0.0.127.${zone}`)} 2>/dev/null | awk '{ print $1 }' | sort -u | tr '\n' ' '`;

export function statusFacts(v: StatusVars): FactRef[] {
  return [
    ...servicesOf(v).flatMap((s) => [s.unit, ...(s.instance ? [s.instance] : [])].map((u) => ref(systemdUnit, u))),
    ref(listeningSockets, undefined),
    ref(commandOutput, QUEUE_CMD),
    ref(commandOutput, DF_CMD(v.mailbox_root)),
    ref(commandOutput, BANS_CMD),
    ref(commandOutput, REBOOT_CMD),
    ref(commandOutput, BACKUP_CMD),
    ref(commandOutput, DRILL_CMD),
    ref(commandOutput, BACKUP_SINCE_CMD),
    ref(commandOutput, MEMORY_CMD(v.budget_slice ?? "mail.slice")),
    ref(commandOutput, PSS_CMD(v.budget_slice ?? "mail.slice")),
    ref(commandOutput, NOW_CMD),
    ...postscreenZones(v).map((z) => ref(commandOutput, DNSBL_TEST_CMD(z))),
    ref(commandOutput, QUOTA_CMD),
    ref(commandOutput, UPDATES_CMD),
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
  /** drill.json, or empty. */
  drill: string;
  /** BACKUP_SINCE_CMD: epoch seconds, 0 when unknown. */
  backupSince: number;
  memory: string;
  /** PSS_CMD's lines: "unit KiB". */
  pss: string;
  now: number;
  /** Each postscreen list's answer for its test point through the host's resolver (addresses, space-separated). */
  dnsblTest: Record<string, string>;
  /** doveadm quota get -A, tab-separated. */
  quota: string;
  /** apt-get -s upgrade's Inst lines. */
  updates: string;
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
    drill: get(ref(commandOutput, DRILL_CMD)),
    backupSince: Number(get(ref(commandOutput, BACKUP_SINCE_CMD))) || 0,
    memory: get(ref(commandOutput, MEMORY_CMD(v.budget_slice ?? "mail.slice"))),
    pss: get(ref(commandOutput, PSS_CMD(v.budget_slice ?? "mail.slice"))),
    now: Number(get(ref(commandOutput, NOW_CMD))),
    dnsblTest: Object.fromEntries(postscreenZones(v).map((z) => [z, get(ref(commandOutput, DNSBL_TEST_CMD(z)))])),
    quota: get(ref(commandOutput, QUOTA_CMD)),
    updates: get(ref(commandOutput, UPDATES_CMD)),
  };
}

/** PSS_CMD's output as bytes per unit, largest first; lines that are not "unit KiB" are left out. */
export function parsePss(text: string): { name: string; bytes: number }[] {
  const units: { name: string; bytes: number }[] = [];
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9@:._\\-]+\.(?:service|socket|scope)) (\d+)$/.exec(line.trim());
    if (m) units.push({ name: m[1]!, bytes: Number(m[2]) * 1024 });
  }
  return units.sort((a, b) => b.bytes - a.bytes);
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
  // a daily timer with up to 30 min of random delay: 26 h is one missed run's slack (issue 13)
  backupWarnS: 26 * 3600,
  backupFailS: 50 * 3600,
  // the drill runs monthly: a passed drill older than 35 days means its timer stopped
  drillWarnS: 35 * 86400,
  quotaWarn: 0.9,
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
      // each service's share (PSS), for --json and the HTML page's chart against the budget
      const pss = parsePss(f.pss);
      if (pss.length) out[out.length - 1]!.chart = { limit: max, unit: "PSS", parts: pss };
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

  // Where the watchdog's alerts go: a mailbox on this very host hears nothing when the host is
  // the problem (docs/operations.md "Alerts").
  const domain = mailDomain({ mailbox_domain: v.mailbox_domain ?? "", base_domain: v.base_domain ?? "" }).toLowerCase();
  if (domain) {
    const admin = adminEmail(v);
    const local = admin.toLowerCase().endsWith(`@${domain}`);
    const pinged = Boolean(v.status_push_url);
    if (local && !pinged) push("alerts", "alert channel", "warn", `the watchdog's alerts go to ${admin}, a mailbox on this host, and no status_push_url is set: when the host itself is down, no alert reaches anyone`, "set status_admin_email to an address on another server, or status_push_url to a dead man's switch such as healthchecks.io (docs/operations.md, Alerts)");
    else push("alerts", "alert channel", "pass", `the watchdog's alerts go to ${admin}${pinged ? ", and the heartbeat pings status_push_url" : ""}`);
  }

  // The block lists postscreen asks, through the host's own resolver.
  for (const zone of postscreenZones(v)) {
    const got = (f.dnsblTest?.[zone] ?? "").trim().split(/\s+/).filter(Boolean);
    const record = `${zone} (postscreen)`;
    // RFC 5782 §2.1: answers are 127.0.0.0/8; Spamhaus answers 127.255.255.252-255 to a resolver it refuses (public, cloud, or over its free limit).
    const refused = got.filter((a) => a.startsWith("127.255.255."));
    if (refused.length) push("dnsbl-host", record, "warn", `${zone} refuses this host's resolver (it answered ${refused.join(", ")} for its test entry): postscreen's score from it is always 0, the list is not a listing of you`, "give the host a resolver of its own for the lists (a local caching resolver such as unbound, docs/operations.md), or a DQS key from the list, or remove the list from postfix_postscreen_dnsbl_sites");
    else if (got.some((a) => a.startsWith("127."))) push("dnsbl-host", record, "pass", `${zone} answers this host's resolver (test entry: ${got.join(", ")})`);
    else push("dnsbl-host", record, "warn", `${zone} does not answer through this host's resolver${got.length ? ` (got ${got.join(", ")})` : ""}: postscreen cannot use it, and each connection waits for its timeout`, "check the host's DNS (resolvectl status, /etc/resolv.conf); a list that stays silent for a cloud provider's resolver needs a local resolver or must be removed from postfix_postscreen_dnsbl_sites");
  }

  // Each mailbox against its quota (STORAGE, in KiB; a limit of "-" is unlimited).
  for (const line of (f.quota ?? "").split("\n").slice(1).filter(Boolean)) {
    const [user = "", , type = "", value = "", limit = ""] = line.split("\t");
    if (type !== "STORAGE") continue;
    const used = Number(value) * 1024;
    const max = Number(limit) * 1024;
    if (!Number.isFinite(max) || max <= 0) {
      push("quota", user, "pass", `${mib(used)} used, no quota`);
      continue;
    }
    const share = used / max;
    push("quota", user, share >= 1 ? "fail" : share >= LIMITS.quotaWarn ? "warn" : "pass", `${mib(used)} of ${mib(max)} (${Math.round(share * 100)}%)`, share >= 1 ? `the mailbox is full: new mail for ${user} is refused (552) until it shrinks: empty Trash and Junk, or raise its quota in mailbox_users` : `${user} will soon be full: ask them to clean up, or raise their quota in mailbox_users`);
  }

  // Upgrades waiting: security fixes are unattended-upgrades' job every night.
  const inst = (f.updates ?? "").split("\n").filter((l) => l.startsWith("Inst "));
  const security = inst.filter((l) => /Debian-Security|-security/i.test(l)).map((l) => l.split(" ")[1]!);
  if (security.length) push("updates", "security updates", "warn", `${security.length} security update(s) not installed: ${security.slice(0, 8).join(", ")}${security.length > 8 ? ", ..." : ""}`, "unattended-upgrades installs them each night; if this stays for more than a day, read journalctl -u unattended-upgrades and run: npx tsx playbooks/site.ts -i <inventory> --limit <host> (it upgrades)");
  else push("updates", "security updates", "pass", inst.length ? `no security update pending (${inst.length} other upgrade(s) from the point releases: apt-get upgrade installs them when you choose)` : "no update pending");

  // A reboot the updates wait for.
  const [reboot = "no", ...pkgs] = f.reboot.split("\n");
  push("updates", "reboot", reboot.trim() === "yes" ? "warn" : "pass", reboot.trim() === "yes" ? `a reboot is required${pkgs.length ? ` (${pkgs.join(", ")})` : ""}` : "no reboot required", "reboot at a quiet hour: sudo systemctl reboot (mail is queued by the sending servers meanwhile)");

  // The last backup.
  if (v.backup_enabled) {
    const young = f.backupSince > 0 && f.now - f.backupSince < LIMITS.backupWarnS;
    if (!f.backup) push("backup", "last backup", young ? "warn" : "fail", young ? `no backup yet: backups were set up ${ago(f.now - f.backupSince)} ago and the first runs at the timer's next time (backup_on_calendar)` : "no backup has run yet", "run one now: npx tsx playbooks/backup.ts -i <inventory> --limit <host>, and read its output");
    else {
      const b = parseJson<{ result?: string; message?: string; ended?: number; snapshot?: string }>(f.backup) ?? { result: "unreadable", message: `${BACKUP_STATE}/last.json is not JSON` };
      const age = f.now - (b.ended ?? 0);
      const status = b.result !== "ok" || age > LIMITS.backupFailS ? "fail" : age > LIMITS.backupWarnS ? "warn" : "pass";
      push("backup", "last backup", status, `${b.result === "ok" ? `snapshot ${b.snapshot}` : `failed: ${b.message}`}, ${ago(age)} ago`, "read why: journalctl -u mailstead-backup.service -n 50; then npx tsx playbooks/backup.ts -i <inventory> --limit <host>");
    }
    // The last restore drill: a backup is only as good as its last proven restore.
    const run = "npx tsx playbooks/drill.ts -i <inventory> --limit <host>";
    if (!f.drill) push("drill", "last restore drill", "warn", "no restore drill has run yet (the monthly timer runs one on the 1st)", `run one now: ${run}`);
    else {
      const d = parseJson<{ result?: string; message?: string; ended?: number }>(f.drill) ?? { result: "unreadable", message: `${DRILL_RUN} is not JSON` };
      const age = f.now - (d.ended ?? 0);
      if (d.result !== "ok") push("drill", "last restore drill", "fail", `failed ${ago(age)} ago: ${d.message}`, `the latest snapshot would not bring everything back: read the problems with ${run}, then back up again (npx tsx playbooks/backup.ts) and drill again; journalctl -u mailstead-drill.service -n 50`);
      else push("drill", "last restore drill", age > LIMITS.drillWarnS ? "warn" : "pass", `passed ${ago(age)} ago: ${d.message}`, `the monthly drill has not run since: systemctl status mailstead-drill.timer; ${run}`);
    }
  }
  return out;
}
