/**
 * The postfix role: MX on 25 (postscreen, opportunistic TLS, no AUTH),
 * submission on 587 (STARTTLS + AUTH required) and 465 (implicit TLS),
 * the virtual mail domain delivered to Dovecot over LMTP, sender login maps,
 * header cleanup, size and rate limits, smuggling fix, relay fallback.
 *
 * Refuses to touch a host whose Postfix lacks the SMTP smuggling fix.
 */
import { posix } from "node:path";
import { derived } from "../derived.js";
import { commandOutput, commandStatus, confValues, listeningSockets, systemdUnit, tcpPorts } from "../../lib/facts/system.js";
import { aptPolicy } from "../../lib/facts/packages.js";
import { ref } from "../../lib/facts/types.js";
import { apt, directory, file, systemd } from "../../lib/operations/index.js";
import { formats } from "../../lib/formats.js";
import { defineRole, type Step, type VerifyCheck } from "../../lib/role.js";
import { postfixTable, type MailboxVars } from "../mailbox/model.js";
import type { RelayVars } from "../relay/defaults.js";
import { relayCaFile, relayTlsRef } from "../relay/index.js";
import { tlsPaths, type TlsVars } from "../tls/index.js";
import { postfixDefaults } from "./defaults.js";
import { debianUpstream, failStep, hasSmugglingFix } from "./version.js";
import type { OpendmarcVars } from "../opendmarc/index.js";
import type { OpendkimVars } from "../opendkim/index.js";
import type { VarsOf } from "../../lib/defaults.js";

/** Plus, from the opendkim and opendmarc roles: the milters Postfix calls. */
export type PostfixVars = VarsOf<typeof postfixDefaults> &
  MailboxVars &
  TlsVars &
  RelayVars &
  Partial<Pick<OpendkimVars, "opendkim_enabled" | "opendkim_port"> & Pick<OpendmarcVars, "opendmarc_enabled" | "opendmarc_port">>;

/**
 * The milter lists: port 25 verifies (OpenDKIM, then OpenDMARC, which reads
 * OpenDKIM's Authentication-Results); submission and locally made mail are
 * signed by OpenDKIM and never judged by OpenDMARC.
 */
export function postfixMilters(v: Pick<PostfixVars, "opendkim_enabled" | "opendkim_port" | "opendmarc_enabled" | "opendmarc_port">) {
  const dkim = v.opendkim_enabled ? [`inet:127.0.0.1:${v.opendkim_port ?? 8891}`] : [];
  const dmarc = v.opendmarc_enabled ? [`inet:127.0.0.1:${v.opendmarc_port ?? 8893}`] : [];
  // Local mail (sendmail/pickup, bounces) cannot be deferred back to its sender: a
  // milter that is down would make cleanup drop it ("removed (canceled)", seen on
  // the lab), so for it only, an absent OpenDKIM means "deliver unsigned".
  const local = dkim.map((m) => `{ ${m}, default_action=accept }`);
  return { inbound: [...dkim, ...dmarc].join(", "), submission: dkim.join(", "), local: local.join(", ") };
}

export const CHECK_SCRIPT = "/usr/local/sbin/mailstead-postfix-check";
/** Debian 12's Postfix instance unit: the drop-in that names the master's PID file. */
export const MAINPID_DROPIN = "/etc/systemd/system/postfix@-.service.d/50-mailstead-mainpid.conf";
const policy = ref(aptPolicy, ["postfix"]);

/** The lookup tables rendered from the mailbox model. */
export function postfixMaps(v: MailboxVars): Record<string, string> {
  const m = derived(v).model;
  const virtual: [string, string][] = m.aliases.map(([a, t]) => [a, t.join(",")]);
  if (m.catchall) {
    // With a catch-all, each real mailbox must map to itself or the wildcard would swallow it.
    for (const b of m.mailboxes) virtual.push([b.address, b.address]);
    virtual.push([`@${m.domain}`, m.catchall]);
  }
  return {
    "/etc/postfix/vmailbox": postfixTable(`virtual_mailbox_maps: mailboxes of ${m.domain}`, m.mailboxes.map((b) => [b.address, "OK"])),
    "/etc/postfix/virtual": postfixTable(`virtual_alias_maps: aliases of ${m.domain} (postmaster@, abuse@ always present)`, virtual),
    "/etc/postfix/sender_login": postfixTable("smtpd_sender_login_maps: envelope sender -> logins allowed to use it", m.senderLogins.map(([a, l]) => [a, l.join(",")])),
  };
}

export function postfixTemplateVars(v: PostfixVars, version: string) {
  const p = tlsPaths(v.tls_dir);
  return {
    fqdn: derived(v).fqdn,
    mail_domain: derived(v).mailDomain,
    postfix_version: version,
    tls_fullchain: p.fullchain,
    tls_privkey: p.privkey,
    tls_cipher_string: v.tls_ciphers_tls12.join(":"),
    tls_curve_list: v.tls_curves.join(" "),
    relay_implicit_tls: v.relay_port === 465,
    relay_ca_file: relayCaFile(v),
    milters: postfixMilters(v),
    postfix_extra: Object.entries(v.postfix_extra_main_cf).map(([k, x]) => `${k} = ${typeof x === "boolean" ? (x ? "yes" : "no") : x}`).join("\n"),
  };
}

/**
 * main.cf parameters postfix_extra_main_cf may not set: each decides who may
 * relay or authenticate, or how TLS is enforced (an extra `mynetworks` or
 * `smtpd_relay_restrictions` is an open relay). They are mailstead's own.
 */
export const OWNED_MAIN_CF = [
  "mynetworks", "mynetworks_style", "relay_domains", "permit_mx_backup_networks",
  "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "smtpd_client_restrictions", "smtpd_helo_restrictions",
  "smtpd_sender_restrictions", "smtpd_data_restrictions", "smtpd_end_of_data_restrictions", "smtpd_etrn_restrictions",
  "smtpd_sasl_auth_enable", "smtpd_sasl_type", "smtpd_sasl_path", "smtpd_tls_auth_only", "smtpd_tls_security_level",
  "smtpd_sender_login_maps", "smtpd_authorized_xclient_hosts", "smtpd_authorized_xforward_hosts", "authorized_submit_users",
  "relayhost", "smtp_tls_security_level", "smtp_sasl_password_maps", "smtp_tls_CAfile", "smtp_tls_policy_maps",
  "virtual_alias_maps", "virtual_mailbox_maps", "virtual_mailbox_domains", "inet_interfaces", "smtpd_milters", "non_smtpd_milters",
];

const SINGLE_LINE = formats.singleLine();

/** The live values verify reads (postconf prints `name = value`). */
const POSTCONF = ref(confValues, "postconf mail_version smtpd_forbid_bare_newline relayhost smtp_tls_security_level smtp_sasl_auth_enable");
/** postconf's own warnings (unknown or misspelt parameters), first three lines. */
const POSTCONF_WARNINGS = ref(commandOutput, "postconf -n 2>&1 >/dev/null | head -n 3 | tr '\\n' ' '");

export const postfix = defineRole<PostfixVars>({
  name: "postfix",
  settings: postfixDefaults,
  reads: {
    relay_enabled: "main.cf's relayhost section: Postfix is what sends through the relay; the relay role owns the switch and the credentials",
    relay_host: "relayhost = [relay_host]:relay_port, matching the relay role's password file entry",
    relay_port: "relayhost = [relay_host]:relay_port, matching the relay role's password file entry",
  },
  validate(v) {
    const out = [];
    for (const [k, val] of Object.entries(v.postfix_extra_main_cf ?? {})) {
      if (OWNED_MAIN_CF.includes(k)) {
        out.push({ setting: "postfix_extra_main_cf", at: k, message: `${k} is set by mailstead (it decides who may relay or how TLS and login are enforced)`, fix: "remove it; docs/ and roles/postfix/defaults.ts list the settings that change this behaviour" });
      } else {
        const bad = SINGLE_LINE.check(String(val), { vars: {} });
        if (bad) out.push({ setting: "postfix_extra_main_cf", at: k, message: `${bad.message} (it would add lines to main.cf)`, fix: bad.fix });
      }
    }
    return out;
  },
  ports: () => [
    { port: 25, proto: "tcp", why: "SMTP: mail from other servers (RFC 5321)" },
    { port: 465, proto: "tcp", why: "submission over implicit TLS (RFC 8314)" },
    { port: 587, proto: "tcp", why: "submission with STARTTLS (RFC 6409)" },
  ],
  state: () => [
    {
      path: "/var/spool/postfix",
      what: "the mail queue: accepted mail not yet delivered (no mail is ever lost)",
      // docs/backup.md: what a rebuild loses instead, and why that is the lesser harm.
      volatile: "mail stays queued for seconds (local delivery) to a few days (a remote server down); a queue restored onto a new host would send again what the lost host already sent, and its files vanish while restic reads them",
    },
  ],
  facts: () => [policy],
  steps(ctx) {
    const v = ctx.vars;
    const pol = ctx.fact(policy).postfix;
    const deb = pol?.installed ?? pol?.candidate ?? "";
    const version = debianUpstream(deb);
    if (!hasSmugglingFix(version)) {
      return [
        failStep(
          "Refuse a Postfix without the SMTP smuggling fix",
          `Postfix ${version || "(no install candidate)"} lacks the SMTP smuggling fix (CVE-2023-51764, smtpd_forbid_bare_newline); need 3.7.10+, 3.8.5+ or 3.9+. Run the base role's security updates (Debian 12: postfix 3.7.10-0+deb12u1 or later) and try again.`,
        ),
      ];
    }
    const fqdn = derived(v).fqdn;
    const tv = postfixTemplateVars(v, version);
    const maps = postfixMaps(v);
    const check = (name: string) => `${CHECK_SCRIPT} ${name} %s`;
    const steps: Step[] = [
      {
        title: "Preseed Postfix's debconf answers",
        // Debian's postinst asks these (debconf-show postfix); "Internet Site" + the FQDN, so it never stops to ask.
        action: apt.debconf({ package: "postfix", questions: { "postfix/main_mailer_type": ["select", "Internet Site"], "postfix/mailname": ["string", fqdn] } }),
      },
      { title: "Install Postfix", action: apt.packages({ present: ["postfix"] }) },
      { title: "Install the Postfix config checker", action: file({ path: CHECK_SCRIPT, content: ctx.template("mailstead-postfix-check"), mode: "0755", validate: "sh -n %s" }) },
      ...Object.entries(maps).map(([path, content]) => ({ title: `Write ${path}`, action: file({ path, content }), notify: "reload postfix" })),
      { title: "Write /etc/postfix/submission_header_cleanup", action: file({ path: "/etc/postfix/submission_header_cleanup", content: ctx.template("submission_header_cleanup") }), notify: "reload postfix" },
      { title: "Write /etc/postfix/inbound_header_checks", action: file({ path: "/etc/postfix/inbound_header_checks", content: ctx.template("inbound_header_checks", tv) }), notify: "reload postfix" },
      { title: "Write /etc/postfix/postscreen_access.cidr", action: file({ path: "/etc/postfix/postscreen_access.cidr", content: ctx.template("postscreen_access.cidr") }), notify: "reload postfix" },
      { title: "Render /etc/postfix/master.cf", action: file({ path: "/etc/postfix/master.cf", content: ctx.template("master.cf", tv), validate: check("master.cf") }), notify: "reload postfix" },
      { title: "Render /etc/postfix/main.cf", action: file({ path: "/etc/postfix/main.cf", content: ctx.template("main.cf", tv), validate: check("main.cf") }), notify: "reload postfix" },
      // Debian's default main.cf pointed at these; our config does not use the chroot.
      { title: "Create Postfix's private socket directory", action: directory({ path: "/var/spool/postfix/private", owner: "postfix", group: "root", mode: "0700" }) },
      { title: "Run Postfix", action: systemd.service({ name: "postfix", enabled: true, running: true }) },
    ];
    if (ctx.os.id === "debian" && ctx.os.versionId === "12") {
      steps.push(
        { title: `Create ${posix.dirname(MAINPID_DROPIN)}`, action: directory({ path: posix.dirname(MAINPID_DROPIN), mode: "0755" }) },
        { title: "Tell systemd which process is Postfix's master (Debian 12)", action: file({ path: MAINPID_DROPIN, content: ctx.template("mainpid.conf") }), notify: ["daemon-reload", "restart postfix"] },
      );
    }
    return steps;
  },
  handlers: () => [
    { name: "daemon-reload", action: systemd.daemonReload() },
    // Once, when the master's PID file is first declared: systemd reads it at start.
    { name: "restart postfix", action: systemd.service({ name: "postfix", restarted: true }) },
    // reload keeps the queue and running deliveries; new master.cf services and
    // listeners are picked up by `postfix reload` too (master(8)).
    { name: "reload postfix", action: systemd.service({ name: "postfix", reloaded: true }) },
  ],
  verifyFacts: (v) => [ref(systemdUnit, "postfix"), POSTCONF, ref(listeningSockets, undefined), ref(commandStatus, "postfix check"), POSTCONF_WARNINGS, ...(v.relay_enabled ? [relayTlsRef(v)] : [])],
  verify(ctx) {
    const pc = ctx.fact(POSTCONF);
    const active = ctx.fact(ref(systemdUnit, "postfix")).active;
    const ports = tcpPorts(ctx.fact(ref(listeningSockets, undefined)));
    const warnings = ctx.fact(POSTCONF_WARNINGS);
    const checks: VerifyCheck[] = [
      { name: "postfix is running", ok: active === "active", detail: `postfix is ${active}` },
      { name: "SMTP smuggling fix active", ok: hasSmugglingFix(pc.mail_version ?? "") && pc.smtpd_forbid_bare_newline === "normalize", detail: `mail_version ${pc.mail_version}, smtpd_forbid_bare_newline=${pc.smtpd_forbid_bare_newline}` },
      { name: "25, 465 and 587 listen", ok: [25, 465, 587].every((p) => ports.includes(p)), detail: `listening ports: ${ports.join(" ")}` },
      { name: "postfix check passes", ok: ctx.fact(ref(commandStatus, "postfix check")) === 0, detail: "postfix check failed" },
      { name: "no postconf warnings", ok: !warnings, detail: warnings },
    ];
    const v = ctx.vars;
    if (v.relay_enabled) {
      checks.push(
        { name: "outbound mail goes through the relay", ok: pc.relayhost === `[${v.relay_host}]:${v.relay_port}`, detail: `relayhost=${pc.relayhost}` },
        { name: "relay requires TLS and SASL", ok: pc.smtp_tls_security_level === "secure" && pc.smtp_sasl_auth_enable === "yes", detail: `smtp_tls_security_level=${pc.smtp_tls_security_level} smtp_sasl_auth_enable=${pc.smtp_sasl_auth_enable}` },
        ctx.fact(relayTlsRef(v)),
      );
    } else {
      checks.push({ name: "no relayhost (direct delivery)", ok: !pc.relayhost, detail: `relayhost=${pc.relayhost}` });
    }
    return checks;
  },
});
