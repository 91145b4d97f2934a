/**
 * The status role: the host watches itself with monit (Debian's package, 4-4.5 MiB PSS, in the
 * mail budget's slice) and tells the admin. The services it watches are the ones
 * status.ts judges (status/host.ts `servicesOf`), its thresholds are status.ts's (`LIMITS`):
 *   - a mail service stopped (by anyone) for two rounds is started again (systemd's own
 *     Restart= in the budget drop-in already brings back a killed one); ports are status.ts's
 *     to check (a probe every round kept Postfix and Dovecot processes alive: +10 MiB);
 *     after status_restart_limit restarts in 10 rounds it gives up and says so;
 *   - a check that changes state mails status_admin_email once (monit alerts on changes only);
 *   - the queue, the slice's memory and the last backup are small programs (mailstead-check);
 *   - a 5-minute heartbeat pings status_push_url (a dead man's switch outside the host) and
 *     writes status_prometheus_textfile when set.
 * While a converge changes the host, and during a restore, the watchdog is paused (Role.pause,
 * the restore script), so a planned stop is never "repaired". docs/operations.md.
 */
import { posix } from "node:path";
import { ref } from "../../lib/facts/types.js";
import { commandOutput, systemdUnit } from "../../lib/facts/system.js";
import { apt, command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole, type FlushStep, type Step } from "../../lib/role.js";
import type { VarsOf } from "../../lib/defaults.js";
import type { OsRelease } from "../../lib/facts/os.js";
import { derived } from "../derived.js";
import type { BaseVars } from "../base/index.js";
import type { MailboxVars } from "../mailbox/model.js";
import type { DnsVars } from "../dns/index.js";
import { adminEmail, LIMITS, servicesOf, type StatusVars as CheckVars } from "../../status/host.js";
export { adminEmail };
import { DRILL_RUN, LAST_RUN } from "../backup/index.js";
import { bytes } from "../budget/index.js";
import { statusDefaults } from "./defaults.js";
import { MONITRC, MONIT_SOCKET } from "./paths.js";

export type StatusVars = VarsOf<typeof statusDefaults> & Pick<BaseVars, "base_hostname" | "base_domain"> & Pick<MailboxVars, "mailbox_domain"> & Pick<DnsVars, "dns_dnsbl_zones" | "dns_public_ipv4"> & CheckVars;

export { MONITRC, MONIT_SOCKET };
export const CHECK = "/usr/local/sbin/mailstead-check";
export const HEARTBEAT_SERVICE = "mailstead-heartbeat.service";
export const HEARTBEAT_TIMER = "mailstead-heartbeat.timer";
export const DIGEST_SERVICE = "mailstead-digest.service";
export const DIGEST_TIMER = "mailstead-digest.timer";
const UNITS = "/etc/systemd/system";


export interface WatchedProcess {
  /** monit's name for it (the unit without .service). */
  name: string;
  /** The unit systemctl starts (Debian 12: postfix@-.service, the daemon's own instance). */
  unit: string;
  pidfile: string;
  why: string;
}

/** The daemons the watchdog restarts: status.ts's services that have a process of their own. */
export function watched(v: StatusVars, os: Pick<OsRelease, "id" | "versionId">): WatchedProcess[] {
  return servicesOf(v).flatMap((s) => {
    if (!s.pidfile) return [];
    // Debian 12's postfix.service is a oneshot that stays "active (exited)": starting it again
    // does nothing. The instance is what runs the master.
    const unit = s.instance && os.id === "debian" && os.versionId === "12" ? s.instance : s.unit;
    return [{ name: s.unit.replace(/\.service$/, ""), unit, pidfile: s.pidfile, why: s.why }];
  });
}

/**
 * The watchdog paused for a converge, and resumed. A no-op where monit does not run with our
 * control file; just (re)started by a handler, monit opens its socket within a second or two:
 * wait up to 10 s for it, and fail (a warning in the run) if it never comes.
 */
const ours = (cmd: string) =>
  `if systemctl is-active --quiet monit.service && grep -q ${MONIT_SOCKET} ${MONITRC} 2>/dev/null; then i=0; while [ ! -S ${MONIT_SOCKET} ] && [ $i -lt 20 ]; do sleep 0.5; i=$((i + 1)); done; monit -c ${MONITRC} ${cmd}; fi`;
export const PAUSE = ours("unmonitor all");
export const RESUME = ours("monitor all");

const monitUnit = ref(systemdUnit, "monit");
/**
 * monit's summary once it shows every watched service: just (re)started, monit opens its socket
 * within a second or two, and a reload (SIGHUP) is read after systemctl returns. Up to 10 s, and
 * only for what can come: monit running, and a service its control file on disk names. Without
 * those guards a converge paid the full 10 s at every role's verify before the status role had
 * run (the runner gathers the later roles' verify facts with each verify): 140 s of a fresh
 * converge's 300 s, measured in the lab.
 */
const summaryOf = (names: string[]) =>
  ref(
    commandOutput,
    `i=0; while [ $i -lt 20 ]; do out=$(monit -c ${MONITRC} -B summary 2>&1); systemctl is-active --quiet monit.service || break; ok=1; for n in ${names.join(" ")}; do grep -q "^check process $n " ${MONITRC} 2>/dev/null || continue; printf '%s\n' "$out" | grep -q "^ *$n " || ok=0; done; [ $ok = 1 ] && break; sleep 0.5; i=$((i + 1)); done; printf '%s\n' "$out"`,
  );

export const status = defineRole<StatusVars>({
  name: "status",
  settings: statusDefaults,
  reads: {
    base_hostname: "the alerts name the host, and come from postmaster@ of its domain",
    base_domain: "the alerts come from postmaster@ of the mail domain",
    mailbox_domain: "the alerts come from postmaster@ of the mail domain",
    dns_dnsbl_zones: "the watchdog looks the host up in the same block lists as status.ts",
    dns_public_ipv4: "the watchdog's block-list check looks up the public address, not a private one behind NAT",
    budget_enabled: "the memory check reads the mail slice only when the budget is on",
    budget_slice: "the memory check reads this slice",
    budget_memory_max: "the memory check warns at 90% of this cap",
    backup_enabled: "the last backup is checked only when backups are on",
    mailbox_root: "the disk check watches the Maildirs' filesystem too",
  },
  switch: {
    setting: "status_enabled",
    // Off: no watchdog and no heartbeat; the files stay, so switching it on again is one converge.
    off: () => [
      {
        title: "Stop the watchdog, the heartbeat and the digest (status_enabled is false)",
        action: command({ run: `systemctl disable --now monit.service ${HEARTBEAT_TIMER} ${DIGEST_TIMER}`, onlyIf: `systemctl is-enabled --quiet monit.service || systemctl is-enabled --quiet ${HEARTBEAT_TIMER} || systemctl is-enabled --quiet ${DIGEST_TIMER}` }),
      },
    ],
  },
  pause: () => ({ suspend: PAUSE, resume: RESUME, why: "the watchdog must not restart a service a converge stops or restarts on purpose" }),
  steps(ctx) {
    const v = ctx.vars;
    const d = derived(v);
    const procs = watched(v, ctx.os);
    const tv = {
      fqdn: d.fqdn,
      inventory_name: ctx.host,
      admin: adminEmail(v),
      from: `postmaster@${d.mailDomain}`,
      procs,
      socket: MONIT_SOCKET,
      check: CHECK,
      mailbox_fs: v.mailbox_root,
      memory: v.budget_enabled !== false,
      backup: v.backup_enabled === true,
      dnsbl_zones: v.dns_dnsbl_zones,
      public_ipv4: v.dns_public_ipv4,
      dnsbl_cycles: Math.max(1, Math.round(3600 / v.status_interval)),
    };
    const unit = (name: string, vars: Record<string, unknown> = {}) =>
      ({ title: `Write ${name}`, action: file({ path: posix.join(UNITS, name), content: ctx.template(name, vars) }), notify: "daemon-reload" }) satisfies Step;
    const steps: (Step | FlushStep)[] = [
      // monit: the watchdog; curl: the heartbeat's push; pflogsumm: logs.ts --pflogsumm (a Perl script, no daemon).
      // Debian 12: the native unit is in place before the package starts monit, so systemd
      // runs the daemon it knows from the first start (an init-script daemon would linger).
      {
        title: "Write monit.service (Debian 12 has only an init script)",
        action: file({ path: posix.join(UNITS, "monit.service"), content: ctx.template("monit.service", { monitrc: MONITRC }) }),
        notify: ["daemon-reload", "restart monit"],
        when: ctx.os.id === "debian" && ctx.os.versionId === "12",
      },
      { title: "Load the unit files", flush: true },
      { title: "Install monit, curl and pflogsumm", action: apt.packages({ present: ["monit", "curl", "pflogsumm"] }) },
      {
        title: `Install ${CHECK}`,
        // It holds status_push_url (a secret): root-only, never shown in a diff.
        sensitive: true,
        action: file({
          path: CHECK,
          mode: "0700",
          sensitive: true,
          validate: "sh -n %s",
          content: ctx.template("mailstead-check.sh", {
            ...tv,
            // the watchdog itself too: a dead monit must not look like "all well"
            units: [...procs.map((p) => p.unit), "monit.service"],
            slice: v.budget_slice ?? "mail.slice",
            memory_max: bytes(v.budget_memory_max ?? "100M"),
            memory_warn: LIMITS.memoryWarn,
            queue_warn: LIMITS.queueWarn,
            queue_age_warn: LIMITS.queueAgeWarnS,
            backup_state: LAST_RUN,
            drill_state: DRILL_RUN,
            backup_warn: LIMITS.backupWarnS,
            disk_warn: Math.round(LIMITS.diskWarn * 100),
          }),
        }),
      },
      {
        title: `Render ${MONITRC}`,
        action: file({ path: MONITRC, mode: "0600", content: ctx.template("monitrc", { ...tv, disk_warn: Math.round(LIMITS.diskWarn * 100) }), validate: "monit -t -c %s" }),
        notify: "reload monit",
      },
      unit(HEARTBEAT_SERVICE, { check: CHECK }),
      unit(HEARTBEAT_TIMER),
      unit(DIGEST_SERVICE, { check: CHECK }),
      unit(DIGEST_TIMER),
      { title: "Load the unit files", flush: true },
      { title: "Run the watchdog (monit)", action: systemd.service({ name: "monit", enabled: true, running: true }) },
      { title: `Run the heartbeat (${HEARTBEAT_TIMER})`, action: systemd.service({ name: HEARTBEAT_TIMER, enabled: true, running: true }) },
      { title: `Send the daily digest (${DIGEST_TIMER})`, action: systemd.service({ name: DIGEST_TIMER, enabled: true, running: true }) },
    ];
    return steps;
  },
  handlers: () => [
    { name: "daemon-reload", action: systemd.daemonReload() },
    // A reload re-reads the checks and keeps monit's state (what it already alerted about).
    { name: "reload monit", action: systemd.service({ name: "monit", reloaded: true }) },
    // Debian 12, when the native unit is new: a daemon the init script started is not the
    // unit's, so a plain restart would leave it running and the new one would exit ("already
    // running"). Stop both, wait for the old one to go, start the unit's.
    {
      name: "restart monit",
      action: command({ run: `systemctl stop monit.service; if [ -f /run/monit.pid ]; then kill "$(cat /run/monit.pid)" 2>/dev/null; fi; i=0; while pidof monit >/dev/null && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done; if dpkg-query -W -f='\${Status}' monit 2>/dev/null | grep -q 'ok installed'; then systemctl start monit.service; fi` }),
    },
  ],
  verifyFacts: (v, os) => [monitUnit, summaryOf(watched(v, os).map((p) => p.name))],
  verify(ctx) {
    const u = ctx.fact(monitUnit);
    const procs = watched(ctx.vars, ctx.os);
    const out = ctx.fact(summaryOf(procs.map((p) => p.name)));
    const missing = procs.filter((p) => !new RegExp(`^\\s*${p.name}\\s`, "m").test(out)).map((p) => p.name);
    return [
      { name: "the watchdog (monit) runs", ok: u.active === "active", detail: `monit is ${u.active}` },
      { name: "the watchdog watches every mail service", ok: u.active === "active" && missing.length === 0, detail: `not in monit's summary: ${missing.join(" ")}\n${out.slice(0, 600)}` },
    ];
  },
});
