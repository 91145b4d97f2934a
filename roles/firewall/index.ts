/**
 * The firewall role: only the ports the playbook's roles need (Role.ports),
 * SSH always, in an nftables table of our own (never a flush of the whole
 * ruleset: Docker's rules stay). Oracle's Ubuntu images also REJECT in
 * /etc/iptables/rules.v4; our ports are accepted there before the REJECT.
 * A new ruleset is confirmed over a fresh SSH connection or rolled back.
 */
import { commandStatus, systemdUnit } from "../../lib/facts/system.js";
import { fileStat } from "../../lib/facts/files.js";
import { ref } from "../../lib/facts/types.js";
import { insertBeforeReject } from "./iptables.js";
import { apt, command, directory, edit, file, systemd } from "../../lib/operations/index.js";
import type { Action } from "../../lib/operations/types.js";
import { defineRole, type Port } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import { firewallDefaults } from "./defaults.js";
import type { VarsOf } from "../../lib/defaults.js";

export type FirewallVars = VarsOf<typeof firewallDefaults>;

export const RULES = "/etc/mailstead/firewall.nft";
const PREVIOUS = "/etc/mailstead/firewall.prev.nft";
const UNIT = "mailstead-firewall.service";
const ROLLBACK = "mailstead-firewall-rollback";
const RULES_V4 = "/etc/iptables/rules.v4";
const RULES_V6 = "/etc/iptables/rules.v6";

const rulesV4 = ref(fileStat, RULES_V4);
const rulesV6 = ref(fileStat, RULES_V6);

/** The ports to open: every role's, the admin's extras, SSH last (and always). */
export function openPorts(v: FirewallVars, rolePorts: Port[], sshPort: number): { tcp: Port[]; udp: Port[] } {
  const all: Port[] = [...rolePorts, ...v.firewall_extra_tcp_ports.map((port) => ({ port, proto: "tcp" as const, why: "firewall_extra_tcp_ports" }))];
  const uniq = (proto: "tcp" | "udp") => {
    const seen = new Map<number, Port>();
    // A port open to everyone wins over the same port open to a few.
    for (const p of all) if (p.proto === proto && !(proto === "tcp" && p.port === sshPort) && (!seen.has(p.port) || (seen.get(p.port)!.from && !p.from))) seen.set(p.port, p);
    return [...seen.values()].sort((a, b) => a.port - b.port);
  };
  return { tcp: uniq("tcp"), udp: uniq("udp") };
}

/**
 * iptables-save lines accepting new TCP connections on these ports; a port open only to some
 * sources gets one line per source of the file's family (none of that family: no line).
 */
export function iptablesAccepts(chain: string, ports: (number | Pick<Port, "port" | "from">)[], family: 4 | 6 = 4): string[] {
  return ports.flatMap((x) => {
    const p = typeof x === "number" ? { port: x } : x;
    const line = (src: string) => `-A ${chain}${src} -p tcp -m state --state NEW -m tcp --dport ${p.port} -m comment --comment mailstead -j ACCEPT`;
    if (!p.from) return [line("")];
    return p.from.filter((a) => a.includes(":") === (family === 6)).map((a) => line(` -s ${a}`));
  });
}

/** The nft rule of a port (template): open to everyone, or to its sources of each family. */
export function nftPortRules(p: Port): string[] {
  const dport = `${p.proto} dport ${p.port} accept`;
  if (!p.from) return [dport];
  const v4 = p.from.filter((a) => !a.includes(":"));
  const v6 = p.from.filter((a) => a.includes(":"));
  return [...(v4.length ? [`ip saddr { ${v4.join(", ")} } ${dport}`] : []), ...(v6.length ? [`ip6 saddr { ${v6.join(", ")} } ${dport}`] : [])];
}

/**
 * Apply the ruleset with a dead man's switch: save the live table, arm a
 * transient timer that restores it, load the new one, then cancel the timer
 * over a brand-new SSH connection. If that connection cannot be made, the
 * step fails and the timer restores the previous rules.
 */
function applyWithRollback(seconds: number): Action {
  const save =
    `{ printf 'table inet mailstead\\ndelete table inet mailstead\\n'; nft list table inet mailstead 2>/dev/null || true; } > ${PREVIOUS}`;
  return {
    kind: "firewall.apply",
    facts: [],
    plan: () => ({
      reasons: ["ruleset changed"],
      commands: [
        { run: `systemctl stop ${ROLLBACK}.timer ${ROLLBACK}.service 2>/dev/null; systemctl reset-failed ${ROLLBACK}.service ${ROLLBACK}.timer 2>/dev/null; ${save}` },
        // The rollback restores the live table and the file (so a reboot or the next converge
        // does not bring back rules that were never confirmed).
        {
          run:
            `systemd-run --quiet --unit=${ROLLBACK} --on-active=${seconds} --timer-property=AccuracySec=1s ` +
            `/bin/sh -c ${quote(`/usr/sbin/nft -f ${PREVIOUS} && cp ${PREVIOUS} ${RULES}`)}`,
        },
        // reload = ExecReload: one atomic `nft -f`, never a moment without the table
        { run: `systemctl daemon-reload && systemctl reload-or-restart ${UNIT}` },
        // The confirmation: only a new connection proves the admin can still get in.
        { run: `systemctl stop ${ROLLBACK}.timer`, fresh: true, timeoutMs: 30_000 },
      ],
    }),
  };
}

const TABLE_LOADED = ref(commandStatus, "nft list table inet mailstead");

export const firewall = defineRole<FirewallVars>({
  name: "firewall",
  settings: firewallDefaults,
  switch: {
    setting: "firewall_enabled",
    security: "no firewall: every port a service listens on is reachable from the internet (set firewall_enabled: true)",
    // Stopping the unit deletes our table (ExecStop); the rules file stays for switching back on.
    off: () => [{ title: `Stop and disable ${UNIT} (firewall_enabled is false)`, action: systemd.service({ name: UNIT, enabled: false, running: false }) }],
  },
  facts: () => [rulesV4, rulesV6],
  steps(ctx) {
    const v = ctx.vars;
    const sshPort = ctx.sshPort ?? 22;
    const { tcp, udp } = openPorts(v, ctx.ports, sshPort);
    const interfaces = v.firewall_trusted_interfaces;
    const admins = v.firewall_admin_addresses;
    const accepts = [sshPort, ...tcp];
    const iptables = (path: string, stat: unknown) => ({
      title: `Accept the mail ports in ${path}`,
      action: edit({
        path,
        name: "iptables.accept",
        transform: (text) => insertBeforeReject(text, "INPUT", iptablesAccepts("INPUT", accepts, path.endsWith("v6") ? 6 : 4)).text,
        validate: `${path.endsWith("v6") ? "ip6tables-restore" : "iptables-restore"} --test %s`,
      }),
      when: v.firewall_iptables_files && stat !== null,
      notify: "reload iptables rules",
    });
    return [
      // netbase gives /etc/protocols: without it nft cannot resolve "ipv6-icmp" (minimal images lack it)
      { title: "Install nftables", action: apt.packages({ present: ["nftables", "netbase"] }) },
      { title: "Create /etc/mailstead", action: directory({ path: "/etc/mailstead", mode: "0755" }) },
      {
        title: `Render ${RULES}`,
        action: file({
          path: RULES,
          content: ctx.template("mailstead.nft", { sshPort, tcp: tcp.map((p) => ({ ...p, rules: nftPortRules(p) })), udp: udp.map((p) => ({ ...p, rules: nftPortRules(p) })), interfaces, adminV4: admins.filter((a) => !a.includes(":")), adminV6: admins.filter((a) => a.includes(":")) }),
          mode: "0600",
          validate: "nft -c -f %s",
        }),
        notify: "apply the firewall",
      },
      {
        title: `Install ${UNIT}`,
        action: file({ path: `/etc/systemd/system/${UNIT}`, content: ctx.template("mailstead-firewall.service") }),
        notify: "apply the firewall",
      },
      { title: `Enable ${UNIT} at boot`, action: systemd.service({ name: UNIT, enabled: true }) },
      iptables(RULES_V4, ctx.fact(rulesV4)),
      iptables(RULES_V6, ctx.fact(rulesV6)),
    ];
  },
  handlers: (ctx) => [
    { name: "apply the firewall", action: applyWithRollback(ctx.vars.firewall_confirm_seconds) },
    {
      name: "reload iptables rules",
      action: command({ run: `iptables-restore < ${RULES_V4}; if [ -f ${RULES_V6} ]; then ip6tables-restore < ${RULES_V6}; fi` }),
    },
  ],
  ports: () => [],
  verifyFacts: () => [TABLE_LOADED, ref(systemdUnit, UNIT), ref(systemdUnit, `${ROLLBACK}.timer`)],
  verify(ctx) {
    const unit = ctx.fact(ref(systemdUnit, UNIT));
    const rollback = ctx.fact(ref(systemdUnit, `${ROLLBACK}.timer`));
    return [
      { name: "our nftables table is loaded", ok: ctx.fact(TABLE_LOADED) === 0, detail: "table inet mailstead is missing" },
      { name: "loaded at boot", ok: unit.unitFile === "enabled", detail: `${UNIT} is ${unit.unitFile || "not installed"}` },
      { name: "no rollback pending", ok: rollback.active !== "active", detail: "a firewall rollback timer is still armed" },
    ];
  },
});
