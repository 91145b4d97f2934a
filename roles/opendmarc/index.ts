/**
 * The opendmarc role: OpenDMARC checks SPF (itself: SPFSelfValidate) and
 * DMARC, with OpenDKIM's DKIM verdict, on every message received on port 25,
 * and adds an Authentication-Results header. p=reject fails are refused at
 * SMTP time (550); p=quarantine fails are accepted with dmarc=fail in the
 * header and filed into Junk by the dovecot role's global Sieve rule (never
 * Postfix's hold queue, where nobody would see them).
 *
 * Memory: OpenDMARC's own SPF check costs no daemon; a separate SPF policy
 * daemon (postfix-policyd-spf-python) was measured and costs more
 * (scripts/bench-mailauth-mem.ts, docs/dns.md).
 */
import { apt, command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole } from "../../lib/role.js";
import { opendmarcDefaults } from "./defaults.js";

export interface OpendmarcVars {
  base_hostname: string;
  base_domain: string;
  opendmarc_enabled: boolean;
  opendmarc_port: number;
  opendmarc_reject_failures: boolean;
  opendmarc_ignore_hosts: string[];
}

export const opendmarc = defineRole<OpendmarcVars>({
  name: "opendmarc",
  settings: opendmarcDefaults,
  steps(ctx) {
    const v = ctx.vars;
    if (!v.opendmarc_enabled) return [{ title: "Stop OpenDMARC (opendmarc_enabled is false)", action: command({ run: "systemctl disable --now opendmarc", onlyIf: "systemctl is-enabled -q opendmarc" }) }];
    const tv = { fqdn: `${v.base_hostname}.${v.base_domain}`, ignore: ["127.0.0.1", "::1", ...v.opendmarc_ignore_hosts] };
    return [
      // publicsuffix: organizational domains for relaxed alignment (RFC 7489 §3.2).
      { title: "Install OpenDMARC", action: apt.packages({ present: ["opendmarc", "publicsuffix"] }) },
      { title: "Create /etc/opendmarc", action: directory({ path: "/etc/opendmarc", mode: "0755" }) },
      { title: "Write the hosts OpenDMARC never checks", action: file({ path: "/etc/opendmarc/ignore.hosts", content: ctx.template("ignore.hosts", tv) }), notify: "restart opendmarc" },
      {
        title: "Render /etc/opendmarc.conf",
        action: file({ path: "/etc/opendmarc.conf", content: ctx.template("opendmarc.conf", tv), validate: "opendmarc -n -c %s" }),
        notify: "restart opendmarc",
      },
      { title: "Run OpenDMARC", action: systemd.service({ name: "opendmarc", enabled: true, running: true }) },
    ];
  },
  handlers: () => [{ name: "restart opendmarc", action: systemd.service({ name: "opendmarc", restarted: true }) }],
  async verify(ctx) {
    const v = ctx.vars;
    if (!v.opendmarc_enabled) return [];
    const r = await ctx.run(`echo "active=$(systemctl is-active opendmarc)"; echo "listen=$(ss -Hltn 'sport = :${v.opendmarc_port}' | awk '{print $4}' | tr '\\n' ' ')"`);
    const kv = Object.fromEntries(r.stdout.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]));
    return [
      { name: "opendmarc is running", ok: kv.active === "active", detail: `opendmarc is ${kv.active}` },
      { name: `opendmarc listens on localhost:${v.opendmarc_port} only`, ok: /^(127\.0\.0\.1|\[::1\]):\d+/.test(kv.listen ?? ""), detail: `listening: ${kv.listen}` },
    ];
  },
});
