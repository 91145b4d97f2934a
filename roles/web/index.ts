/**
 * The web role: the mail domain's web side, static files only, served by
 * lighttpd (0.6 MiB PSS idle, docs/web.md says why not nginx):
 *
 *   https://mta-sts.<domain>/.well-known/mta-sts.txt     the MTA-STS policy (RFC 8461)
 *   https://autoconfig.<domain>/mail/config-v1.1.xml      Thunderbird's autoconfig
 *   http://<any of our names>/.well-known/acme-challenge/ certbot's webroot (HTTP-01)
 *   http://<any of our names>/...                         308 to https
 *
 * HTTPS uses the tls role's stable paths (the certificate the mail services
 * serve, which then carries the web names: the certbot role adds them), so
 * certbot's deploy hook reloads lighttpd with the others. Runs before certbot:
 * its webroot must be served before the first issuance asks the CA in.
 */
import { posix } from "node:path";
import { httpRequest, type HttpRequest } from "../../lib/facts/http.js";
import { listeningSockets, systemdUnit, tcpListeners } from "../../lib/facts/system.js";
import { ref } from "../../lib/facts/types.js";
import { apt, command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole, type VerifyCheck } from "../../lib/role.js";
import { derived } from "../derived.js";
import { certCheckRef, toVerifyChecks, type CertCheckOptions } from "../certbot/checks.js";
import { certbotDefaults } from "../certbot/defaults.js";
import { tlsPaths, type TlsVars } from "../tls/index.js";
import { AUTOCONFIG_PATH, MTA_STS_PATH, mtaStsPolicy, webSites } from "./sites.js";
import { webDefaults } from "./defaults.js";
import type { VarsOf } from "../../lib/defaults.js";

export type WebVars = VarsOf<typeof webDefaults> &
  Pick<TlsVars, "base_hostname" | "base_domain" | "tls_dir" | "tls_ciphers_tls12" | "tls_curves"> &
  Pick<VarsOf<typeof certbotDefaults>, "certbot_webroot_path" | "certbot_ca_bundle"> & { mailbox_domain?: string };

export const LIGHTTPD_CONF = "/etc/lighttpd/lighttpd.conf";
/** certbot's CA bundle (a private CA such as Pebble), when the inventory gives one. */
const CA_BUNDLE = "/etc/mailstead/certbot/ca-bundle.pem";

const unit = ref(systemdUnit, "lighttpd");
const sockets = ref(listeningSockets, undefined);

/** A dotted name as a lighttpd (PCRE) regular expression matching it exactly. */
const nameRe = (n: string) => n.replace(/[.]/g, "\\.");

/** What the verify asks lighttpd for, through 127.0.0.1. */
export function webProbes(v: WebVars): { policy?: HttpRequest; autoconfig?: HttpRequest; redirect: HttpRequest } {
  const d = derived(v);
  return {
    ...(v.web_enabled ? { policy: { host: `mta-sts.${d.mailDomain}`, path: MTA_STS_PATH, port: 443, tls: true } } : {}),
    ...(v.web_autoconfig_enabled ? { autoconfig: { host: `autoconfig.${d.mailDomain}`, path: `${AUTOCONFIG_PATH}?emailaddress=postmaster%40${d.mailDomain}`, port: 443, tls: true } } : {}),
    redirect: { host: `mta-sts.${d.mailDomain}`, path: MTA_STS_PATH, port: 80, tls: false },
  };
}

/** The certificate served on 443 for the policy's name (an MTA-STS fetcher verifies it, RFC 8461 §3.3). */
export function webCertChecks(v: WebVars): CertCheckOptions {
  const p = tlsPaths(v.tls_dir);
  return {
    hostname: `mta-sts.${derived(v).mailDomain}`,
    certPath: p.fullchain,
    ...(v.certbot_ca_bundle ? { caFile: CA_BUNDLE } : {}),
    ports: [{ port: 443, service: "lighttpd" }],
    selfSignedPath: posix.join(p.selfsignedDir, "fullchain.pem"),
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
    const host = { fqdn: d.fqdn, domain: d.mailDomain };
    const sites = webSites(v, host);
    const names = [d.fqdn, ...sites.map((s) => s.name)];
    const conf = ctx.template("lighttpd.conf", {
      fullchain: p.fullchain,
      privkey: p.privkey,
      acme_webroot: v.certbot_webroot_path,
      cipher_string: v.tls_ciphers_tls12.join(":"),
      curve_string: v.tls_curves.join(":"),
      names_re: names.map(nameRe).join("|"),
      sites: sites.map((s) => ({ ...s, name_re: nameRe(s.name) })),
    });
    const root = v.web_root;
    return [
      // mod_openssl is a separate package in Debian; Recommends (spawn-fcgi, perl modules) are not installed.
      { title: "Install lighttpd", action: apt.packages({ present: ["lighttpd", "lighttpd-mod-openssl"] }) },
      { title: `Create ${root}`, action: directory({ path: root, mode: "0755" }) },
      ...["empty", ...sites.map((s) => s.dir)].map((dir) => ({ title: `Create ${root}/${dir}`, action: directory({ path: `${root}/${dir}`, mode: "0755" }) })),
      { title: `Create ${root}/mta-sts/.well-known`, action: directory({ path: `${root}/mta-sts/.well-known`, mode: "0755" }) },
      { title: `Write the MTA-STS policy (mode ${v.web_mta_sts_mode})`, action: file({ path: `${root}/mta-sts${MTA_STS_PATH}`, content: mtaStsPolicy(v, host), mode: "0644" }) },
      { title: `Create ${root}/autoconfig/mail`, action: directory({ path: `${root}/autoconfig/mail`, mode: "0755" }), when: v.web_autoconfig_enabled },
      {
        title: "Write the mail client autoconfig file",
        action: file({ path: `${root}/autoconfig${AUTOCONFIG_PATH}`, content: ctx.template("config-v1.1.xml", { domain: d.mailDomain, fqdn: d.fqdn }), mode: "0644" }),
        when: v.web_autoconfig_enabled,
      },
      { title: `Create ${v.certbot_webroot_path}/.well-known/acme-challenge`, action: directory({ path: `${v.certbot_webroot_path}/.well-known/acme-challenge`, mode: "0755" }) },
      { title: `Render ${LIGHTTPD_CONF}`, action: file({ path: LIGHTTPD_CONF, content: conf, validate: "lighttpd -tt -f %s" }), notify: "restart lighttpd" },
      { title: "Run lighttpd", action: systemd.service({ name: "lighttpd", enabled: true, running: true }) },
    ];
  },
  handlers: () => [{ name: "restart lighttpd", action: systemd.service({ name: "lighttpd", restarted: true }) }],
  verifyFacts: (v) => {
    const pr = webProbes(v);
    return [unit, sockets, certCheckRef(webCertChecks(v)), ...[pr.policy, pr.autoconfig, pr.redirect].filter((x) => x !== undefined).map((r) => ref(httpRequest, r))];
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
      ...toVerifyChecks(ctx.fact(certCheckRef(webCertChecks(v)))).map((c) => ({ ...c, name: `${c.name} (mta-sts.${d.mailDomain})` })),
    ];
    if (pr.policy) {
      const r = ctx.fact(ref(httpRequest, pr.policy));
      const want = mtaStsPolicy(v, { fqdn: d.fqdn, domain: d.mailDomain });
      checks.push({
        name: `https://${pr.policy.host}${MTA_STS_PATH} serves the policy`,
        ok: r?.status === 200 && r.body === want && /^text\/plain/.test(r.headers["content-type"] ?? ""),
        detail: r ? `HTTP ${r.status}, ${r.headers["content-type"] ?? "no content type"}, ${r.body === want ? "the policy" : `not the policy: ${JSON.stringify(r.body.slice(0, 120))}`}` : "no answer on 443",
      });
    }
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
