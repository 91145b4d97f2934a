/**
 * The base role: the host itself, before any mail service. Host name and
 * FQDN, sane apt sources and fresh lists, security updates now and
 * unattended, time sync, a capped journal, swap on small VMs, base packages.
 */
import { derived } from "../derived.js";
import { fileContent, fileStat } from "../../lib/facts/files.js";
import { debPackages } from "../../lib/facts/packages.js";
import { commandOutput, commandStatus, containerVirt, memory, systemdUnit } from "../../lib/facts/system.js";
import { ref } from "../../lib/facts/types.js";
import { apt, command, directory, file, lineInFile, systemd } from "../../lib/operations/index.js";
import { defineRole } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import { escapeRegExp, field } from "../../lib/text.js";
import { baseDefaults } from "./defaults.js";
import type { VarsOf } from "../../lib/defaults.js";

export type BaseVars = VarsOf<typeof baseDefaults>;

const fqdnOf = (v: BaseVars) => derived(v).fqdn;

const SOURCES = "/etc/apt/sources.list /etc/apt/sources.list.d";
const hasSecuritySource = ref(commandStatus, `grep -rhsE '^[^#]*(security\\.debian\\.org|-security)' ${SOURCES} | grep -q .`);
const cloudInit = ref(fileStat, "/etc/cloud/cloud.cfg");
const mem = ref(memory, undefined);
const virt = ref(containerVirt, undefined);
/** Pending upgrades from a security archive (simulated, no lock taken). */
const PENDING_SECURITY = `LC_ALL=C apt-get -s -o Debug::NoLocking=1 dist-upgrade | grep -qE '^Inst .*-security'`;

/** What the base role's verify reads, by name. */
function baseVerifyFacts(v: BaseVars) {
  return {
    hostname: ref(commandOutput, "hostname"),
    mailname: ref(fileContent, "/etc/mailname"),
    resolves: ref(commandStatus, `getent hosts ${quote(fqdnOf(v))}`),
    packages: ref(debPackages, undefined),
    unattended: ref(commandStatus, `apt-config dump APT::Periodic::Unattended-Upgrade | grep -q '"1"'`),
    journald: ref(systemdUnit, "systemd-journald"),
    journalCap: ref(commandStatus, `systemd-analyze cat-config systemd/journald.conf | grep -E '^SystemMaxUse=' | tail -n 1 | grep -qx ${quote(`SystemMaxUse=${v.base_journald_max_use}`)}`),
    virt: ref(containerVirt, undefined),
    timesync: ref(systemdUnit, "systemd-timesyncd"),
    memory: ref(memory, undefined),
  };
}

export const base = defineRole<BaseVars>({
  name: "base",
  settings: baseDefaults,
  facts: () => [hasSecuritySource, cloudInit, mem, virt],
  steps(ctx) {
    const v = ctx.vars;
    const fqdn = fqdnOf(v);
    const m = ctx.fact(mem);
    const container = ctx.fact(virt);
    const needSwap = !container && m.memTotalKb < v.base_swap_min_ram_mb * 1024 && m.swapTotalKb === 0;
    const swap = v.base_swap_file;
    return [
      { title: "Set /etc/hostname", action: file({ path: "/etc/hostname", content: `${field(v.base_hostname, "base_hostname", /\s/)}\n` }), notify: "apply host name" },
      {
        title: "Map the FQDN in /etc/hosts",
        // Debian's convention for a host without a fixed address in /etc/hosts (hosts(5)).
        action: lineInFile({ path: "/etc/hosts", regexp: "^127\\.0\\.1\\.1\\s", line: `127.0.1.1\t${fqdn} ${v.base_hostname}` }),
      },
      { title: "Set /etc/mailname", action: file({ path: "/etc/mailname", content: `${fqdn}\n` }) },
      {
        title: "Keep cloud-init from resetting the host name",
        action: file({ path: "/etc/cloud/cloud.cfg.d/99-mailstead.cfg", content: ctx.template("99-mailstead-cloud-init.cfg") }),
        when: ctx.fact(cloudInit) !== null,
      },
      {
        title: "Add the Debian security archive",
        action: file({ path: "/etc/apt/sources.list.d/mailstead-security.sources", content: ctx.template("mailstead-security.sources") }),
        when: v.base_apt_security_source && ctx.os.id === "debian" && ctx.fact(hasSecuritySource) !== 0,
        notify: "refresh package lists",
      },
      { title: "Refresh package lists now if sources changed", flush: true },
      { title: "Refresh package lists", action: apt.update({ maxAgeSeconds: v.base_apt_cache_max_age }) },
      { title: "Install base packages", action: apt.packages({ present: [...v.base_packages, ...v.base_extra_packages] }) },
      {
        title: "Apply pending security updates",
        action: command({ run: "unattended-upgrade", onlyIf: PENDING_SECURITY, timeoutMs: 1_800_000 }),
        when: v.base_security_updates,
      },
      {
        title: "Enable daily apt runs",
        action: file({ path: "/etc/apt/apt.conf.d/20auto-upgrades", content: ctx.template("20auto-upgrades") }),
        when: v.base_unattended_upgrades,
      },
      {
        title: "Limit unattended upgrades to security origins",
        action: file({ path: "/etc/apt/apt.conf.d/52mailstead-unattended-upgrades", content: ctx.template("52mailstead-unattended-upgrades") }),
        when: v.base_unattended_upgrades,
      },
      ...["apt-daily.timer", "apt-daily-upgrade.timer"].map((t) => ({
        title: `Enable ${t}`,
        action: systemd.service({ name: t, masked: false, enabled: true, running: true }),
        when: v.base_unattended_upgrades,
      })),
      { title: "Create /etc/systemd/journald.conf.d", action: directory({ path: "/etc/systemd/journald.conf.d" }) },
      {
        title: "Cap the journal's size",
        action: file({ path: "/etc/systemd/journald.conf.d/50-mailstead.conf", content: ctx.template("journald.conf") }),
        notify: "restart journald",
      },
      {
        title: "Run time synchronisation",
        action: systemd.service({ name: "systemd-timesyncd", enabled: true, running: true }),
        // In a container the host's clock is used; timesyncd refuses to start there.
        when: !container,
      },
      {
        title: `Create ${swap}`,
        action: command({
          run: `fallocate -l ${v.base_swap_size_mb}M ${quote(swap)} && chmod 600 ${quote(swap)} && mkswap ${quote(swap)}`,
          creates: swap,
        }),
        when: needSwap,
      },
      { title: `Enable ${swap} at boot`, action: lineInFile({ path: "/etc/fstab", regexp: `^${escapeRegExp(swap)}\\s`, line: `${swap} none swap sw 0 0` }), when: needSwap },
      { title: `Turn on ${swap}`, action: command({ run: `swapon ${quote(swap)}`, unless: `swapon --show=NAME --noheadings | grep -qx ${quote(swap)}` }), when: needSwap },
    ];
  },
  handlers: () => [
    { name: "apply host name", action: command({ run: "hostname -F /etc/hostname" }) },
    { name: "refresh package lists", action: apt.update({ force: true }) },
    { name: "restart journald", action: systemd.service({ name: "systemd-journald", restarted: true }) },
  ],
  verifyFacts: (v) => Object.values(baseVerifyFacts(v)),
  verify(ctx) {
    const v = ctx.vars;
    const fqdn = fqdnOf(v);
    const f = baseVerifyFacts(v);
    const hostname = ctx.fact(f.hostname);
    const mailname = (ctx.fact(f.mailname) ?? "").trim();
    const installed = ctx.fact(f.packages);
    const missing = [...v.base_packages, ...v.base_extra_packages].filter((p) => !(p in installed));
    const journald = ctx.fact(f.journald).active;
    const container = ctx.fact(f.virt) !== "";
    const mem = ctx.fact(f.memory);
    const small = mem.memTotalKb < v.base_swap_min_ram_mb * 1024;
    const timesync = ctx.fact(f.timesync).active;
    return [
      { name: "host name is set", ok: hostname === v.base_hostname, detail: `hostname is ${hostname}, want ${v.base_hostname}` },
      { name: "mailname is the FQDN", ok: mailname === fqdn, detail: `/etc/mailname is ${mailname}` },
      { name: "FQDN resolves on the host", ok: ctx.fact(f.resolves) === 0, detail: `getent hosts ${fqdn} found nothing` },
      { name: "base packages installed", ok: missing.length === 0, detail: `not installed: ${missing.join(" ")}` },
      { name: "unattended upgrades enabled", ok: !v.base_unattended_upgrades || ctx.fact(f.unattended) === 0, detail: "APT::Periodic::Unattended-Upgrade is not 1" },
      { name: "journal capped", ok: journald === "active" && ctx.fact(f.journalCap) === 0, detail: `journald ${journald}, SystemMaxUse is not ${v.base_journald_max_use}` },
      { name: "clock synchronised", ok: container || timesync === "active", detail: `systemd-timesyncd is ${timesync}` },
      { name: "swap on a small VM", ok: container || !small || mem.swapTotalKb > 0, detail: "RAM is below base_swap_min_ram_mb and no swap is on" },
    ];
  },
});
