/**
 * fail2ban: ban password guessers on SSH, SMTP AUTH (465/587), Postfix and
 * IMAP/ManageSieve, escalating, with recidive; bans in nftables sets of
 * fail2ban's own table. The config is written before the package is
 * installed, so its first start already has a working (journal) backend.
 */
import { ref, type Fact } from "../../lib/facts/types.js";
import { apt, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole } from "../../lib/role.js";
import { fail2banDefaults } from "./defaults.js";
import type { FirewallVars } from "../firewall/index.js";
import type { VarsOf } from "../../lib/defaults.js";
import type { webmailDefaults } from "../webmail/defaults.js";

/** Plus, from the firewall role: the admin is never banned; from the webmail role: its login form. */
export type Fail2banVars = VarsOf<typeof fail2banDefaults> &
  Partial<Pick<FirewallVars, "firewall_admin_addresses">> &
  Partial<Pick<VarsOf<typeof webmailDefaults>, "webmail_enabled" | "webmail_mode" | "webmail_proxy_port" | "webmail_trusted_proxies">>;

export const JAILS = ["sshd", "postfix", "postfix-sasl", "dovecot", "recidive"];
export const WEBMAIL_JAIL = "mailstead-roundcube";

/** The jails this host runs: the webmail's too when it is on. */
export const jailsOf = (v: Fail2banVars): string[] => (v.webmail_enabled ? [...JAILS.slice(0, -1), WEBMAIL_JAIL, "recidive"] : JAILS);

/** Validate a candidate jail.local in a copy of the config dir (once fail2ban is installed). */
const validateJail =
  `if command -v fail2ban-client >/dev/null; then d=$(mktemp -d) && cp -a /etc/fail2ban/. "$d"/ && cp %s "$d"/jail.local && ` +
  `fail2ban-client -c "$d" -t >/dev/null; rc=$?; rm -rf "$d"; exit $rc; fi`;

/** The jails fail2ban runs (`fail2ban-client status`), and its answer for the detail. */
export const fail2banJails: Fact<{ jails: string[]; text: string }> = {
  name: "fail2ban.jails",
  command: () => "fail2ban-client status 2>&1; true",
  parse: (stdout) => ({
    jails: /Jail list:\s*(.*)$/m.exec(stdout)?.[1]?.split(/,\s*/).map((s) => s.trim()).filter(Boolean) ?? [],
    text: stdout.trim(),
  }),
};
const JAIL_LIST = ref(fail2banJails, undefined);

export const fail2ban = defineRole<Fail2banVars>({
  name: "fail2ban",
  settings: fail2banDefaults,
  reads: {
    firewall_admin_addresses: "the admin's addresses are never banned",
    webmail_enabled: "the webmail's login form gets a jail",
    webmail_mode: "proxy mode: the proxy port is banned too",
    webmail_proxy_port: "proxy mode: the port the proxy reaches the webmail on",
    webmail_trusted_proxies: "proxy mode: the proxy itself is never banned by the webmail's jail",
  },
  switch: {
    setting: "fail2ban_enabled",
    security: "no bans: password guessing on SSH, SMTP AUTH and IMAP is never stopped (set fail2ban_enabled: true)",
    off: () => [{ title: "Stop and disable fail2ban (fail2ban_enabled is false)", action: systemd.service({ name: "fail2ban", enabled: false, running: false }) }],
  },
  steps(ctx) {
    const v = ctx.vars;
    const ignore = ["127.0.0.1/8", "::1", ...(v.firewall_admin_addresses ?? []), ...v.fail2ban_ignore_addresses];
    return [
      { title: "Create /etc/fail2ban", action: directory({ path: "/etc/fail2ban" }) },
      { title: "Create /etc/fail2ban/filter.d", action: directory({ path: "/etc/fail2ban/filter.d" }) },
      { title: "Render /etc/fail2ban/fail2ban.local", action: file({ path: "/etc/fail2ban/fail2ban.local", content: ctx.template("fail2ban.local") }), notify: "reload fail2ban" },
      { title: "Match Debian's postfix@-.service", action: file({ path: "/etc/fail2ban/filter.d/postfix.local", content: ctx.template("postfix.local") }), notify: "reload fail2ban" },
      { title: "Match Dovecot 2.4's failed logins", action: file({ path: "/etc/fail2ban/filter.d/dovecot.local", content: ctx.template("dovecot.local") }), notify: "reload fail2ban" },
      { title: "Match Debian's ssh.service and sshd-session", action: file({ path: "/etc/fail2ban/filter.d/sshd.local", content: ctx.template("sshd.local") }), notify: "reload fail2ban" },
      // Written before jail.local names it (jail.local's validation loads the filter).
      { title: "Match the webmail's failed logins", action: file({ path: `/etc/fail2ban/filter.d/${WEBMAIL_JAIL}.conf`, content: ctx.template("mailstead-roundcube.conf") }), notify: "reload fail2ban", when: v.webmail_enabled === true },
      // After the filters: its validation loads every jail's filter.
      {
        title: "Render /etc/fail2ban/jail.local",
        action: file({ path: "/etc/fail2ban/jail.local", content: ctx.template("jail.local", { ignore, sshPort: ctx.sshPort ?? 22, webmail: v.webmail_enabled === true, webmail_ignore: [...ignore, ...(v.webmail_mode === "proxy" ? (v.webmail_trusted_proxies ?? []) : [])], webmail_ports: ["http", "https", ...(v.webmail_mode === "proxy" && v.webmail_proxy_port ? [String(v.webmail_proxy_port)] : [])].join(",") }), validate: validateJail }),
        notify: "reload fail2ban",
      },
      // python3-systemd is only a Recommends, and without it the systemd backend cannot start.
      { title: "Install fail2ban", action: apt.packages({ present: ["fail2ban", "python3-systemd", "nftables"] }) },
      { title: "Run fail2ban", action: systemd.service({ name: "fail2ban", enabled: true, running: true }) },
    ];
  },
  handlers: () => [
    { name: "reload fail2ban", action: systemd.service({ name: "fail2ban", reloaded: true }) },
  ],
  verifyFacts: () => [JAIL_LIST],
  verify(ctx) {
    const s = ctx.fact(JAIL_LIST);
    return jailsOf(ctx.vars).map((j) => ({ name: `jail ${j} is running`, ok: s.jails.includes(j), detail: `fail2ban-client status: ${s.text}` }));
  },
});
