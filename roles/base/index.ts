/**
 * The base role: the host itself, before any mail service. Host name and
 * FQDN, sane apt sources and fresh lists, security updates now and
 * unattended, time sync, a capped journal, swap on small VMs, base packages.
 */
import { fileStat } from "../../lib/facts/files.js";
import { commandStatus, containerVirt, memory } from "../../lib/facts/system.js";
import { ref } from "../../lib/facts/types.js";
import { apt, command, directory, file, lineInFile, systemd } from "../../lib/operations/index.js";
import { defineRole } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import { escapeRegExp, field } from "../../lib/text.js";
import { baseDefaults } from "./defaults.js";

export interface BaseVars {
  base_hostname: string;
  base_domain: string;
  base_packages: string[];
  base_extra_packages: string[];
  base_apt_cache_max_age: number;
  base_apt_security_source: boolean;
  base_security_updates: boolean;
  base_unattended_upgrades: boolean;
  base_journald_max_use: string;
  base_swap_min_ram_mb: number;
  base_swap_size_mb: number;
  base_swap_file: string;
}

const fqdnOf = (v: BaseVars) => `${field(v.base_hostname, "base_hostname", /\s/)}.${field(v.base_domain, "base_domain", /\s/)}`;

const SOURCES = "/etc/apt/sources.list /etc/apt/sources.list.d";
const hasSecuritySource = ref(commandStatus, `grep -rhsE '^[^#]*(security\\.debian\\.org|-security)' ${SOURCES} | grep -q .`);
const cloudInit = ref(fileStat, "/etc/cloud/cloud.cfg");
const mem = ref(memory, undefined);
const virt = ref(containerVirt, undefined);
/** Pending upgrades from a security archive (simulated, no lock taken). */
const PENDING_SECURITY = `LC_ALL=C apt-get -s -o Debug::NoLocking=1 dist-upgrade | grep -qE '^Inst .*-security'`;

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
  async verify(ctx) {
    const v = ctx.vars;
    const fqdn = fqdnOf(v);
    const pkgs = [...v.base_packages, ...v.base_extra_packages];
    const r = await ctx.run(
      [
        `echo "hostname=$(hostname)"`,
        `echo "mailname=$(cat /etc/mailname)"`,
        `echo "resolves=$(getent hosts ${quote(fqdn)} >/dev/null && echo yes || echo no)"`,
        `echo "missing=$(dpkg-query -W -f='\${db:Status-Abbrev} \${Package}\\n' ${pkgs.map(quote).join(" ")} 2>&1 | grep -v '^ii ' | tr '\\n' ' ')"`,
        `echo "uu=$(apt-config dump APT::Periodic::Unattended-Upgrade | grep -o '"1"')"`,
        `echo "journald=$(systemctl is-active systemd-journald)"`,
        `echo "maxuse=$(systemd-analyze cat-config systemd/journald.conf 2>/dev/null | grep -E '^SystemMaxUse=' | tail -n 1)"`,
        `echo "virt=$(systemd-detect-virt --container 2>/dev/null)"`,
        `echo "timesync=$(systemctl is-active systemd-timesyncd)"`,
        `echo "memkb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"`,
        `echo "swapkb=$(awk '/^SwapTotal:/ {print $2}' /proc/meminfo)"`,
      ].join("; "),
    );
    const kv = Object.fromEntries(r.stdout.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]));
    const container = kv.virt && kv.virt !== "none";
    const small = Number(kv.memkb) < v.base_swap_min_ram_mb * 1024;
    return [
      { name: "host name is set", ok: kv.hostname === v.base_hostname, detail: `hostname is ${kv.hostname}, want ${v.base_hostname}` },
      { name: "mailname is the FQDN", ok: kv.mailname === fqdn, detail: `/etc/mailname is ${kv.mailname}` },
      { name: "FQDN resolves on the host", ok: kv.resolves === "yes", detail: `getent hosts ${fqdn} found nothing` },
      { name: "base packages installed", ok: kv.missing === "", detail: `not installed: ${kv.missing}` },
      { name: "unattended upgrades enabled", ok: !v.base_unattended_upgrades || kv.uu === '"1"', detail: "APT::Periodic::Unattended-Upgrade is not 1" },
      { name: "journal capped", ok: kv.journald === "active" && kv.maxuse === `SystemMaxUse=${v.base_journald_max_use}`, detail: `journald ${kv.journald}, ${kv.maxuse || "no SystemMaxUse"}` },
      { name: "clock synchronised", ok: Boolean(container) || kv.timesync === "active", detail: `systemd-timesyncd is ${kv.timesync}` },
      { name: "swap on a small VM", ok: Boolean(container) || !small || Number(kv.swapkb) > 0, detail: "RAM is below base_swap_min_ram_mb and no swap is on" },
    ];
  },
});
