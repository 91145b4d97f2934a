/**
 * The dovecot role: IMAPS (993 only), LMTP for Postfix, Sieve + ManageSieve
 * (4190) with a global Junk rule, quota with a quota-status policy service for
 * Postfix and a warning message, passwd-file virtual users (BLF-CRYPT).
 *
 * Dovecot 2.4 (Debian 13) changed the configuration syntax: the template is
 * picked by the detected version of dovecot-core (installed, else the apt
 * candidate that is about to be installed).
 */
import { derived } from "../derived.js";
import { commandStatus, listeningSockets, systemdUnit, tcpPorts } from "../../lib/facts/system.js";
import { field } from "../../lib/text.js";
import { aptPolicy } from "../../lib/facts/packages.js";
import { ref } from "../../lib/facts/types.js";
import { apt, command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole, type Step } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import type { MailboxVars } from "../mailbox/model.js";
import { tlsPaths, type TlsVars } from "../tls/index.js";
import { dovecotDefaults } from "./defaults.js";
import { debianUpstream, failStep } from "../postfix/version.js";
import type { VarsOf } from "../../lib/defaults.js";

export type DovecotVars = VarsOf<typeof dovecotDefaults> & MailboxVars & TlsVars;

export const DOVECOT_PACKAGES = ["dovecot-core", "dovecot-imapd", "dovecot-lmtpd", "dovecot-sieve", "dovecot-managesieved"];
export const DOVECOT_USERS = "/etc/dovecot/users";
export const SIEVE_DIR = "/etc/dovecot/sieve";
export const JUNK_SIEVE = `${SIEVE_DIR}/junk.sieve`;
export const JUNK_SVBIN = `${SIEVE_DIR}/junk.svbin`;
export const QUOTA_WARNING = "/usr/local/bin/mailstead-quota-warning";
const POSTFIX_SPOOL = "/var/spool/postfix";

const policy = ref(aptPolicy, ["dovecot-core"]);

/** "2.3" or "2.4" from a Debian version of dovecot-core ("1:2.4.1+dfsg1-6"), or the raw string. */
export function dovecotSeries(debVersion: string | null | undefined): string {
  const up = debianUpstream(debVersion ?? "");
  return /^(\d+\.\d+)/.exec(up)?.[1] ?? up;
}

/** The passwd-file: user@domain:{BLF-CRYPT}hash::::::<per-user quota>. */
export function usersFile(v: MailboxVars, series: string): string {
  const m = derived(v).model;
  const lines = m.mailboxes.map((b) => {
    // passwd-file fields are separated by ':' (none may hold one, nor whitespace or a line break).
    const f = (x: string, what: string) => field(x, what, /[\s:]/);
    const quota = f(b.quota, `the quota of ${b.user}`);
    const q = series === "2.3" ? `userdb_quota_rule=*:storage=${quota}` : `userdb_quota_storage_size=${quota}`;
    return `${f(b.address, "a user's address")}:${f(b.passwordHash, `the password_hash of ${b.user}`)}::::::${q}`;
  });
  return `# Dovecot passwd-file of ${m.domain}. Managed by mailstead (mailbox_users); edits are overwritten.\n${lines.join("\n")}${lines.length ? "\n" : ""}`;
}

/** The special-use folders every user gets (RFC 6154), in the order clients list them. */
export const SPECIAL_FOLDERS = ["Drafts", "Sent", "Junk", "Trash", "Archive"] as const;

/** The folders the config names: the special ones (created, subscribed) and any other with an expunge age. */
export function mailboxBlocks(expunge: Record<string, string>): { name: string; special_use?: string; autoexpunge?: string }[] {
  const special = SPECIAL_FOLDERS.map((name) => ({ name, special_use: `\\${name}`, ...(expunge[name] ? { autoexpunge: expunge[name] } : {}) }));
  const others = Object.keys(expunge).filter((n) => !(SPECIAL_FOLDERS as readonly string[]).includes(n)).sort().map((name) => ({ name, autoexpunge: expunge[name]! }));
  return [...special, ...others];
}

export function dovecotTemplateVars(v: DovecotVars, series: string) {
  const p = tlsPaths(v.tls_dir);
  return {
    mailboxes: mailboxBlocks(v.dovecot_autoexpunge),
    mail_domain: derived(v).mailDomain,
    // The authserv-id of this host's own Authentication-Results headers (OpenDKIM/OpenDMARC AuthservID).
    fqdn: derived(v).fqdn,
    tls_fullchain: p.fullchain,
    tls_privkey: p.privkey,
    tls_cipher_string: v.tls_ciphers_tls12.join(":"),
    tls_curve_string: v.tls_curves.join(":"),
    dovecot_listen: v.dovecot_listen.join(series === "2.3" ? ", " : " "),
    // Setting names 2.4 renamed, for the partials both series share (templates/dovecot/_*.hbs).
    dv: series === "2.3"
      ? { default_idle_kill: "default_idle_kill", restart_count: "service_count", idle_kill: "idle_kill" }
      : { default_idle_kill: "default_idle_kill_interval", restart_count: "restart_request_count", idle_kill: "idle_kill_interval" },
    dovecot_auth_mechanisms_string: v.dovecot_auth_mechanisms.join(" "),
    dovecot_users_file: DOVECOT_USERS,
    dovecot_sieve_before: JUNK_SIEVE,
    dovecot_quota_warning_script: QUOTA_WARNING,
    // The warning must arrive even when the message that crossed the threshold filled the box:
    // the delivery agent of the warning ignores the limit (2.3 `noenforcing` quota root argument,
    // doc.dovecot.org/2.3/settings/plugin/quota-plugin/; 2.4 `quota_enforce`, doc.dovecot.org/2.4.0/core/plugins/quota.html).
    dovecot_lda_no_quota: series === "2.3" ? `-o 'plugin/quota=count:User quota:noenforcing'` : `-o quota_enforce=no`,
    postfix_spool: POSTFIX_SPOOL,
  };
}

/** Whether the mail user can read dovecot.conf (the quota-warning script's dovecot-lda reads it). */
const ldaReads = (v: DovecotVars) => `runuser -u ${quote(v.mailbox_vmail_user)} -- test -r /etc/dovecot/dovecot.conf`;

export const dovecot = defineRole<DovecotVars>({
  name: "dovecot",
  settings: dovecotDefaults,
  reads: {
    mailbox_vmail_user: "Dovecot delivers and runs the quota-warning script as the mail user the mailbox role creates",
    mailbox_vmail_uid: "first_valid_uid/last_valid_uid: only the mailbox role's mail user may own mail",
    mailbox_root: "mail_home: the Maildirs live where the mailbox role keeps them",
    mailbox_quota: "the default quota is a property of mailboxes (mailbox role); Dovecot enforces it",
    mailbox_quota_grace: "the quota is a property of mailboxes (mailbox role); Dovecot enforces it",
    mailbox_quota_warning_percent: "when a user is warned is a property of mailboxes (mailbox role); Dovecot sends the warning",
  },
  ports: () => [
    { port: 993, proto: "tcp", why: "IMAP over TLS for mail clients (RFC 8314)" },
    { port: 4190, proto: "tcp", why: "ManageSieve, so clients can edit filters (RFC 5804)" },
  ],
  state: () => [
    { path: DOVECOT_USERS, what: "the user database (passwd-file with password hashes)", secret: true },
    { path: SIEVE_DIR, what: "the global Sieve rules" },
  ],
  facts: () => [policy],
  steps(ctx) {
    const v = ctx.vars;
    const pol = ctx.fact(policy)["dovecot-core"];
    const series = dovecotSeries(pol?.installed ?? pol?.candidate);
    const steps: Step[] = [];
    if (series !== "2.3" && series !== "2.4") {
      return [failStep(`Refuse an unsupported Dovecot`, `dovecot-core ${pol?.installed ?? pol?.candidate ?? "(no candidate)"} is neither 2.3 (Debian 12) nor 2.4 (Debian 13); mailstead has templates for those two only`)];
    }
    const tv = dovecotTemplateVars(v, series);
    steps.push(
      { title: "Install Dovecot", action: apt.packages({ present: DOVECOT_PACKAGES }) },
      { title: `Create ${SIEVE_DIR}`, action: directory({ path: SIEVE_DIR, mode: "0755" }) },
      {
        title: "Install the global Junk Sieve rule",
        action: file({
          path: JUNK_SIEVE,
          content: ctx.template("junk.sieve", tv),
          // Compile the candidate to a throw-away binary: a syntax error never goes live.
          validate: `( d=$(mktemp -d) && sievec %s "$d/x.svbin"; rc=$?; rm -rf "$d"; exit $rc )`,
        }),
      },
      {
        // A step, not a handler: a run that fails later must not leave it uncompiled.
        // Global scripts are not writable by vmail, so Dovecot could not save the binary itself.
        title: "Compile the global Junk Sieve rule",
        action: command({ run: `sievec ${quote(JUNK_SIEVE)}`, unless: `test ${quote(JUNK_SVBIN)} -nt ${quote(JUNK_SIEVE)}` }),
      },
      { title: "Install the quota warning script", action: file({ path: QUOTA_WARNING, content: ctx.template("quota-warning.sh", tv), mode: "0755", validate: "sh -n %s" }) },
      {
        title: `Write ${DOVECOT_USERS}`,
        // Password hashes: readable by root and the dovecot group only; re-read by Dovecot on change.
        action: file({ path: DOVECOT_USERS, content: usersFile(v, series), owner: "root", group: "dovecot", mode: "0640", sensitive: true }),
        sensitive: true,
      },
      {
        title: `Render /etc/dovecot/dovecot.conf (Dovecot ${series})`,
        action: file({
          path: "/etc/dovecot/dovecot.conf",
          content: ctx.template(series === "2.3" ? "dovecot23.conf" : "dovecot24.conf", tv),
          owner: "root",
          // Group vmail: the quota-warning script runs dovecot-lda as vmail, and a standalone
          // dovecot-lda reads this file itself (Dovecot LDA doc, "virtual users": the config must be
          // readable by the delivering user). The daemons get it from the config process (root).
          // Not world-readable: dovecot_extra_conf may hold secrets. Password hashes live in DOVECOT_USERS.
          group: v.mailbox_vmail_user,
          mode: "0640",
          validate: "doveconf -n -c %s >/dev/null",
        }),
        notify: "reload dovecot",
      },
      { title: "Run Dovecot", action: systemd.service({ name: "dovecot", enabled: true, running: true }) },
    );
    return steps;
  },
  handlers: () => [
    { name: "reload dovecot", action: systemd.service({ name: "dovecot", reloaded: true }) },
  ],
  verifyFacts: (v) => [ref(systemdUnit, "dovecot"), ref(listeningSockets, undefined), ref(commandStatus, "doveconf -n"), ref(commandStatus, ldaReads(v))],
  verify(ctx) {
    const v = ctx.vars;
    const active = ctx.fact(ref(systemdUnit, "dovecot")).active;
    const ports = tcpPorts(ctx.fact(ref(listeningSockets, undefined)));
    return [
      { name: "dovecot is running", ok: active === "active", detail: `dovecot is ${active}` },
      { name: "IMAPS 993 and ManageSieve 4190 listen", ok: ports.includes(993) && ports.includes(4190), detail: `listening ports: ${ports.join(" ")}` },
      { name: "IMAP 143 and POP3 110/995 do not listen", ok: ![143, 110, 995].some((p) => ports.includes(p)), detail: `listening ports: ${ports.join(" ")}` },
      { name: "live configuration parses", ok: ctx.fact(ref(commandStatus, "doveconf -n")) === 0, detail: "doveconf -n failed" },
      // The quota-warning script's dovecot-lda runs as vmail and reads dovecot.conf itself.
      { name: "quota warnings can be delivered (dovecot.conf readable by vmail)", ok: ctx.fact(ref(commandStatus, ldaReads(v))) === 0, detail: `${v.mailbox_vmail_user} cannot read /etc/dovecot/dovecot.conf` },
    ];
  },
});
