/**
 * The web role: the mail domain's web side, static files only (and the webmail
 * role's Roundcube on the host's name), served by lighttpd (docs/web.md says why
 * not nginx, and what it costs):
 *
 *   https://mta-sts.<domain>/.well-known/mta-sts.txt     the MTA-STS policy (RFC 8461)
 *   https://autoconfig.<domain>/mail/config-v1.1.xml      Thunderbird's autoconfig
 *   http://<any of our names>/.well-known/acme-challenge/ certbot's webroot (HTTP-01)
 *   http://<any of our names>/...                         308 to https
 *
 * HTTPS uses the tls role's stable paths (the certificate the mail services
 * serve, which then carries the web names: the certbot role adds them), so
 * certbot's deploy hook restarts lighttpd after a renewal (certbot_restart_services). Runs before certbot:
 * its webroot must be served before the first issuance asks the CA in; so the
 * certificate served on 443 is checked by certbot's verify, after issuance.
 */
import { posix } from "node:path";
import { httpRequest, type HttpRequest } from "../../lib/facts/http.js";
import { listeningSockets, systemdUnit, tcpListeners } from "../../lib/facts/system.js";
import { ref } from "../../lib/facts/types.js";
import { apt, command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole, type VerifyCheck } from "../../lib/role.js";
import { derived } from "../derived.js";
import type { certbotDefaults } from "../certbot/defaults.js";
import type { webmailDefaults } from "../webmail/defaults.js";
import { RC_ROOT } from "../webmail/index.js";
import type { postfixDefaults } from "../postfix/defaults.js";
import { tlsPaths, type TlsVars } from "../tls/index.js";
import type { MailboxVars } from "../mailbox/model.js";
import { APPLE_DIR, appleProfiles, AUTOCONFIG_PATH, AUTODISCOVER_PATH, MTA_STS_PATH, mtaStsPolicy, webSites } from "./sites.js";
import { quote } from "../../lib/shell.js";
import { webDefaults } from "./defaults.js";
import type { VarsOf } from "../../lib/defaults.js";

export type WebVars = VarsOf<typeof webDefaults> &
  Pick<MailboxVars, "mailbox_users" | "mailbox_aliases" | "mailbox_catchall" | "mailbox_domain"> &
  Pick<TlsVars, "base_hostname" | "base_domain" | "tls_dir" | "tls_ciphers_tls12" | "tls_curves"> &
  Pick<VarsOf<typeof certbotDefaults>, "certbot_webroot_path" | "certbot_ca_bundle"> &
  Pick<VarsOf<typeof webmailDefaults>, "webmail_enabled" | "webmail_port" | "webmail_mode" | "webmail_proxy_address" | "webmail_proxy_port" | "webmail_trusted_proxies"> &
  Pick<VarsOf<typeof postfixDefaults>, "postfix_message_size_limit">;

export const LIGHTTPD_CONF = "/etc/lighttpd/lighttpd.conf";

const unit = ref(systemdUnit, "lighttpd");

export const LISTENING_DROPIN = "/etc/systemd/system/lighttpd.service.d/60-mailstead-listening.conf";
const sockets = ref(listeningSockets, undefined);

/** A dotted name as a lighttpd (PCRE) regular expression matching it exactly. */
const nameRe = (n: string) => n.replace(/[.]/g, "\\.");

/** The host's names as the web side's pure functions take them (roles/web/sites.ts). */
export const siteHost = (v: Parameters<typeof derived>[0]) => ({ fqdn: derived(v).fqdn, domain: derived(v).mailDomain });

/** What the verify asks lighttpd for, through 127.0.0.1 (the verify runs only with the role on). */
export function webProbes(v: WebVars): { policy: HttpRequest; autoconfig?: HttpRequest; redirect: HttpRequest } {
  const d = derived(v);
  return {
    policy: { host: `mta-sts.${d.mailDomain}`, path: MTA_STS_PATH, port: 443, tls: true },
    ...(v.web_autoconfig_enabled ? { autoconfig: { host: `autoconfig.${d.mailDomain}`, path: `${AUTOCONFIG_PATH}?emailaddress=postmaster%40${d.mailDomain}`, port: 443, tls: true } } : {}),
    redirect: { host: `mta-sts.${d.mailDomain}`, path: MTA_STS_PATH, port: 80, tls: false },
  };
}

export const web = defineRole<WebVars>({
  name: "web",
  settings: webDefaults,
  reads: {
    tls_dir: "HTTPS serves the certificate the mail services serve (the tls role's stable paths)",
    tls_ciphers_tls12: "the same TLS 1.2 suites as Postfix and Dovecot (tls role)",
    tls_curves: "the same key exchange groups as Postfix and Dovecot (tls role)",
    certbot_webroot_path: "port 80 serves certbot's webroot for HTTP-01 challenges (certbot role)",
    webmail_enabled: "the host's name serves Roundcube when the webmail role is on",
    webmail_port: "lighttpd passes PHP requests to the port the webmail role's socket holds",
    webmail_mode: "the webmail is served on the host's name (direct) or only to a reverse proxy (proxy)",
    webmail_proxy_address: "proxy mode: the address lighttpd serves the webmail on",
    webmail_proxy_port: "proxy mode: the port lighttpd serves the webmail on",
    webmail_trusted_proxies: "proxy mode: whose X-Forwarded-For lighttpd believes",
    postfix_message_size_limit: "the webmail's uploads may be as large as a message Postfix accepts",
  },
  switch: {
    setting: "web_enabled",
    off: () => [{ title: "Stop lighttpd (web_enabled is false)", action: command({ run: "systemctl disable --now lighttpd", onlyIf: "systemctl is-enabled -q lighttpd" }) }],
  },
  ports: (v) =>
    v.web_enabled
      ? [
          { port: 80, proto: "tcp", why: "HTTP: ACME HTTP-01 challenges for the certificate, and redirects to HTTPS" },
          { port: 443, proto: "tcp", why: "HTTPS: the MTA-STS policy and mail client autoconfiguration" },
        ]
      : [],
  steps(ctx) {
    const v = ctx.vars;
    const d = derived(v);
    const p = tlsPaths(v.tls_dir);
    const host = siteHost(v);
    const sites = webSites(v, host);
    const names = [d.fqdn, ...sites.map((s) => s.name)];
    const conf = ctx.template("lighttpd.conf", {
      fullchain: p.fullchain,
      privkey: p.privkey,
      acme_webroot: v.certbot_webroot_path,
      cipher_string: v.tls_ciphers_tls12.join(":"),
      curve_string: v.tls_curves.join(":"),
      names_re: names.map(nameRe).join("|"),
      webmail: v.webmail_enabled,
      direct: v.webmail_enabled && v.webmail_mode !== "proxy",
      proxy: v.webmail_enabled && v.webmail_mode === "proxy",
      proxy_socket: v.webmail_proxy_address.includes(":") ? `[${v.webmail_proxy_address}]:${v.webmail_proxy_port}` : `${v.webmail_proxy_address}:${v.webmail_proxy_port}`,
      trusted_proxies: v.webmail_trusted_proxies,
      webmail_root: RC_ROOT,
      fqdn_re: nameRe(d.fqdn),
      // server.max-request-size (KiB): a message as large as Postfix accepts, plus the form around it.
      max_request_kib: v.webmail_enabled ? Math.ceil(v.postfix_message_size_limit / 1024) + 256 : 64,
      sites: sites.map((s) => ({ ...s, name_re: nameRe(s.name), ...(s.name.startsWith("autodiscover.") ? { alias_from: "/Autodiscover/Autodiscover.xml", alias_to: AUTODISCOVER_PATH } : { alias_from: "", alias_to: "" }) })),
    });
    const root = v.web_root;
    const profiles = appleProfiles(host, d.model.mailboxes.map((m) => m.address));
    const appleDir = `${root}/autoconfig${APPLE_DIR}`;
    const keep = profiles.map((p) => ` ! -name ${quote(p.file)}`).join("");
    return [
      // mod_openssl is a separate package in Debian; Recommends (spawn-fcgi, perl modules) are not installed.
      { title: "Install lighttpd", action: apt.packages({ present: ["lighttpd", "lighttpd-mod-openssl"] }) },
      { title: `Create ${root}`, action: directory({ path: root, mode: "0755" }) },
      // autoconfig. and autodiscover. share one directory: created once.
      ...[...new Set(["empty", ...sites.map((s) => s.dir)])].map((dir) => ({ title: `Create ${root}/${dir}`, action: directory({ path: `${root}/${dir}`, mode: "0755" }) })),
      { title: `Create ${root}/mta-sts/.well-known`, action: directory({ path: `${root}/mta-sts/.well-known`, mode: "0755" }) },
      { title: `Write the MTA-STS policy (mode ${v.web_mta_sts_mode})`, action: file({ path: `${root}/mta-sts${MTA_STS_PATH}`, content: mtaStsPolicy(v, host), mode: "0644" }) },
      { title: `Create ${root}/autoconfig/mail`, action: directory({ path: `${root}/autoconfig/mail`, mode: "0755" }), when: v.web_autoconfig_enabled },
      {
        title: "Write the mail client autoconfig file",
        action: file({ path: `${root}/autoconfig${AUTOCONFIG_PATH}`, content: ctx.template("config-v1.1.xml", { domain: d.mailDomain, fqdn: d.fqdn }), mode: "0644" }),
        when: v.web_autoconfig_enabled,
      },
      { title: `Create ${root}/autoconfig/autodiscover`, action: directory({ path: `${root}/autoconfig/autodiscover`, mode: "0755" }), when: v.web_autoconfig_enabled },
      {
        title: "Write Outlook's autodiscover answer",
        action: file({ path: `${root}/autoconfig${AUTODISCOVER_PATH}`, content: ctx.template("autodiscover.xml", { domain: d.mailDomain, fqdn: d.fqdn }), mode: "0644" }),
        when: v.web_autoconfig_enabled,
      },
      { title: `Create ${root}/autoconfig${APPLE_DIR}`, action: directory({ path: `${root}/autoconfig${APPLE_DIR}`, mode: "0755" }), when: v.web_autoconfig_enabled },
      ...profiles.map((p) => ({
        title: `Write the Apple profile of ${p.vars.address}`,
        action: file({ path: `${root}/autoconfig${APPLE_DIR}/${p.file}`, content: ctx.template("mail.mobileconfig", p.vars), mode: "0644" }),
        when: v.web_autoconfig_enabled,
      })),
      {
        title: "Remove the Apple profiles of removed mailboxes",
        action: command({ run: `find ${quote(appleDir)} -maxdepth 1 -type f${keep} -delete`, onlyIf: `test -n "$(find ${quote(appleDir)} -maxdepth 1 -type f${keep} 2>/dev/null)"` }),
        when: v.web_autoconfig_enabled,
      },
      { title: `Create ${v.certbot_webroot_path}/.well-known/acme-challenge`, action: directory({ path: `${v.certbot_webroot_path}/.well-known/acme-challenge`, mode: "0755" }) },
      { title: `Render ${LIGHTTPD_CONF}`, action: file({ path: LIGHTTPD_CONF, content: conf, validate: "lighttpd -tt -f %s" }), notify: "restart lighttpd" },
      { title: `Create ${posix.dirname(LISTENING_DROPIN)}`, action: directory({ path: posix.dirname(LISTENING_DROPIN), mode: "0755" }) },
      { title: "Count lighttpd as started once it listens; a reload restarts it", action: file({ path: LISTENING_DROPIN, content: ctx.template("lighttpd-listening.conf") }), notify: ["daemon-reload", "restart lighttpd"] },
      { title: "Load the unit files", flush: true },
      { title: "Run lighttpd", action: systemd.service({ name: "lighttpd", enabled: true, running: true }) },
    ];
  },
  handlers: () => [
    { name: "daemon-reload", action: systemd.daemonReload() },
    { name: "restart lighttpd", action: systemd.service({ name: "lighttpd", restarted: true }) },
  ],
  verifyFacts: (v) => {
    const pr = webProbes(v);
    return [unit, sockets, ...[pr.policy, pr.autoconfig, pr.redirect].filter((x) => x !== undefined).map((r) => ref(httpRequest, r))];
  },
  verify(ctx) {
    const v = ctx.vars;
    const d = derived(v);
    const pr = webProbes(v);
    const active = ctx.fact(unit).active;
    const s = ctx.fact(sockets);
    const checks: VerifyCheck[] = [
      { name: "lighttpd is running", ok: active === "active", detail: `lighttpd is ${active}` },
      { name: "lighttpd listens on 80 and 443", ok: tcpListeners(s, 80).length > 0 && tcpListeners(s, 443).length > 0, detail: `80: ${tcpListeners(s, 80).join(" ") || "nothing"}; 443: ${tcpListeners(s, 443).join(" ") || "nothing"}` },
    ];
    const policy = ctx.fact(ref(httpRequest, pr.policy));
    const want = mtaStsPolicy(v, siteHost(v));
    checks.push({
      name: `https://${pr.policy.host}${MTA_STS_PATH} serves the policy`,
      ok: policy?.status === 200 && policy.body === want && /^text\/plain/.test(policy.headers["content-type"] ?? ""),
      detail: policy ? `HTTP ${policy.status}, ${policy.headers["content-type"] ?? "no content type"}, ${policy.body === want ? "the policy" : `not the policy: ${JSON.stringify(policy.body.slice(0, 120))}`}` : "no answer on 443",
    });
    if (pr.autoconfig) {
      const r = ctx.fact(ref(httpRequest, pr.autoconfig));
      checks.push({
        name: `https://${pr.autoconfig.host}${AUTOCONFIG_PATH} serves the autoconfig file`,
        ok: r?.status === 200 && r.body.includes(`<hostname>${d.fqdn}</hostname>`),
        detail: r ? `HTTP ${r.status}, ${r.body.length} bytes` : "no answer on 443",
      });
    }
    const r = ctx.fact(ref(httpRequest, pr.redirect));
    const to = `https://${pr.redirect.host}${MTA_STS_PATH}`;
    checks.push({ name: `http://${pr.redirect.host}/ redirects to HTTPS`, ok: r?.status === 308 && r.headers.location === to, detail: r ? `HTTP ${r.status} ${r.headers.location ?? ""}` : "no answer on 80" });
    return checks;
  },
});
