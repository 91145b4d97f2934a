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
import { derived } from "../derived.js";
import { ref } from "../../lib/facts/types.js";
import { isLoopback, listeningSockets, systemdUnit, tcpListeners } from "../../lib/facts/system.js";
import { apt, command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole } from "../../lib/role.js";
import { opendmarcDefaults } from "./defaults.js";
import type { BaseVars } from "../base/index.js";
import type { VarsOf } from "../../lib/defaults.js";

export type OpendmarcVars = VarsOf<typeof opendmarcDefaults> & Pick<BaseVars, "base_hostname" | "base_domain">;

const unit = ref(systemdUnit, "opendmarc");
const sockets = ref(listeningSockets, undefined);

export const opendmarc = defineRole<OpendmarcVars>({
  name: "opendmarc",
  settings: opendmarcDefaults,
  switch: {
    setting: "opendmarc_enabled",
    off: () => [{ title: "Stop OpenDMARC (opendmarc_enabled is false)", action: command({ run: "systemctl disable --now opendmarc", onlyIf: "systemctl is-enabled -q opendmarc" }) }],
  },
  steps(ctx) {
    const v = ctx.vars;
    const tv = { fqdn: derived(v).fqdn, ignore: ["127.0.0.1", "::1", ...v.opendmarc_ignore_hosts] };
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
  verifyFacts: () => [unit, sockets],
  verify(ctx) {
    const v = ctx.vars;
    const active = ctx.fact(unit).active;
    const on = tcpListeners(ctx.fact(sockets), v.opendmarc_port);
    return [
      { name: "opendmarc is running", ok: active === "active", detail: `opendmarc is ${active}` },
      { name: `opendmarc listens on localhost:${v.opendmarc_port} only`, ok: on.length > 0 && on.every(isLoopback), detail: `listening: ${on.join(" ") || "nothing"}` },
    ];
  },
});
