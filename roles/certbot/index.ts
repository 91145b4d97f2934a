/**
 * The certbot role: a real certificate for the mail host name, renewed
 * without anyone, served by every mail service.
 *
 *   <tls_dir>/fullchain.pem -> current/fullchain.pem      (the paths Postfix and Dovecot name)
 *   <tls_dir>/privkey.pem   -> current/privkey.pem
 *   <tls_dir>/current       -> selfsigned | versions/<id>  (one link: switched atomically)
 *
 * Modes: standalone / webroot (HTTP-01) and dns (DNS-01 through a Debian
 * certbot DNS plugin) get the certificate with certbot and renew it with
 * Debian's certbot.timer; files serves certificates managed elsewhere and
 * watches them with a systemd path unit; none keeps the self-signed one.
 * Whatever brings a new certificate (first issuance, a renewal, replaced
 * files), /usr/local/sbin/mailstead-cert-deploy checks it (key matches, not
 * expired, names the host), switches `current` and reloads the services; a
 * pair that fails the checks is refused and the old one stays served.
 *
 * A first issuance that fails (DNS does not point here yet) is a warning
 * naming the record to fix: the converge goes on with the self-signed one.
 */
import { derived } from "../derived.js";
import { posix } from "node:path";
import { fileStat } from "../../lib/facts/files.js";
import { aptPolicy } from "../../lib/facts/packages.js";
import { systemdUnit } from "../../lib/facts/system.js";
import { ref } from "../../lib/facts/types.js";
import { apt, command, directory, file, symlink, systemd } from "../../lib/operations/index.js";
import { defineRole, type FlushStep, type RoleProblem, type Step } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import { failStep } from "../postfix/version.js";
import { tlsPaths, type TlsVars } from "../tls/index.js";
import { certCheckRef, forWebName, toVerifyChecks, type CertCheckOptions } from "./checks.js";
import { certbotDefaults, type DnsPlugin } from "./defaults.js";
import type { VarsOf } from "../../lib/defaults.js";
import { siteHost, type WebVars } from "../web/index.js";
import { webNames } from "../web/sites.js";

export type CertbotMode = CertbotVars["certbot_mode"];

/** The web role's settings certbot reads: with the web side on, its names go on the certificate and lighttpd owns port 80. */
type WebSide = Pick<WebVars, "web_enabled" | "web_mta_sts_mode" | "web_mta_sts_max_age" | "web_mta_sts_extra_mx" | "web_autoconfig_enabled">;

export type CertbotVars = VarsOf<typeof certbotDefaults> & TlsVars & Partial<WebSide> & { mailbox_domain?: string };

export const DEPLOY = "/usr/local/sbin/mailstead-cert-deploy";
export const ISSUE = "/usr/local/sbin/mailstead-cert-issue";
export const CONF_DIR = "/etc/mailstead/certbot";
export const CA_BUNDLE = `${CONF_DIR}/ca-bundle.pem`;
export const DROPIN = "/etc/systemd/system/certbot.service.d/mailstead.conf";
export const FILES_PATH_UNIT = "mailstead-cert-files.path";
export const FILES_SERVICE_UNIT = "mailstead-cert-files.service";
const UNIT_DIR = "/etc/systemd/system";

/** What the verify checks: the pair the services are configured with, served on every mail port. */
export function servedChecks(v: CertbotVars): CertCheckOptions {
  const p = tlsPaths(v.tls_dir);
  return {
    hostname: fqdnOf(v),
    certPath: p.fullchain,
    ...(v.certbot_ca_bundle ? { caFile: CA_BUNDLE } : {}),
    selfSignedPath: posix.join(p.selfsignedDir, "fullchain.pem"),
  };
}

/** With the web side on: the certificate lighttpd serves on 443, for the policy's name (an MTA-STS fetcher verifies it, RFC 8461 §3.3). */
export function webServedChecks(v: CertbotVars): CertCheckOptions | undefined {
  if (!v.web_enabled) return undefined;
  return { ...servedChecks(v), hostname: `mta-sts.${derived(v).mailDomain}`, ports: [{ port: 443, service: "lighttpd" }] };
}

export const isCertbotMode = (m: CertbotMode) => m === "standalone" || m === "webroot" || m === "dns";
export const fqdnOf = (v: Pick<CertbotVars, "base_hostname" | "base_domain">) => derived(v).fqdn;
/** The names on the certificate: the host, the web side's names when it is on, then the extra ones. */
export const certNames = (v: CertbotVars) => [...new Set([fqdnOf(v), ...(v.web_enabled ? webNames(v as Parameters<typeof webNames>[0], siteHost(v)) : []), ...v.certbot_extra_names])];
export const lineage = (name: string) => ({ live: `/etc/letsencrypt/live/${name}`, conf: `/etc/letsencrypt/renewal/${name}.conf` });
export const dnsPackage = (p: DnsPlugin) => `python3-certbot-dns-${p}`;
export const credentialsPath = (p: DnsPlugin) => `${CONF_DIR}/dns-${p}.${p === "google" ? "json" : "ini"}`;

/** Where certbot keeps its account for an ACME server: accounts/<host[:port]>/<path>. */
export function accountsDir(server: string): string {
  const u = new URL(server);
  return posix.join("/etc/letsencrypt/accounts", u.host, u.pathname);
}

/** Environment certbot needs besides the CA bundle (route53 reads AWS credentials from a file named by the environment). */
export function certbotEnv(v: CertbotVars): string[] {
  return v.certbot_mode === "dns" && v.certbot_dns_plugin === "route53" ? [`AWS_SHARED_CREDENTIALS_FILE=${credentialsPath("route53")}`] : [];
}

/** certbot certonly's arguments for the settings (pure). */
export function certonlyArgs(v: CertbotVars): string[] {
  const a = ["--cert-name", fqdnOf(v), ...certNames(v).flatMap((n) => ["-d", n]), "--server", v.certbot_server];
  a.push(...(v.certbot_email ? ["-m", v.certbot_email] : ["--register-unsafely-without-email"]));
  a.push(...(v.certbot_key_type === "ecdsa" ? ["--key-type", "ecdsa", "--elliptic-curve", "secp256r1"] : ["--key-type", "rsa", "--rsa-key-size", "2048"]));
  a.push(v.certbot_reuse_key ? "--reuse-key" : "--no-reuse-key");
  a.push("--deploy-hook", DEPLOY);
  if (v.certbot_mode === "standalone") a.push("--standalone", "--preferred-challenges", "http");
  else if (v.certbot_mode === "webroot") a.push("--webroot", "-w", v.certbot_webroot_path, "--preferred-challenges", "http");
  else if (v.certbot_mode === "dns") {
    const p = v.certbot_dns_plugin;
    a.push("--authenticator", `dns-${p}`, "--preferred-challenges", "dns");
    if (p !== "route53") a.push(`--dns-${p}-credentials`, credentialsPath(p));
    if (v.certbot_dns_propagation_seconds !== null) a.push(`--dns-${p}-propagation-seconds`, String(v.certbot_dns_propagation_seconds));
  }
  return a;
}

/**
 * Lines certbot saves in the renewal configuration for these settings (pure):
 * when one is missing, the settings changed and the certificate is replaced.
 */
export function renewalWants(v: CertbotVars): string[] {
  const w = [`server = ${v.certbot_server}`, `key_type = ${v.certbot_key_type}`, `renew_hook = ${DEPLOY}`];
  if (v.certbot_reuse_key) w.push("reuse_key = True");
  if (v.certbot_mode === "standalone") w.push("authenticator = standalone");
  if (v.certbot_mode === "webroot") w.push("authenticator = webroot", ...certNames(v).map((n) => `${n} = ${v.certbot_webroot_path}`));
  if (v.certbot_mode === "dns") {
    const p = v.certbot_dns_plugin;
    w.push(`authenticator = dns-${p}`);
    if (p !== "route53") w.push(`dns_${p}_credentials = ${credentialsPath(p)}`);
    if (v.certbot_dns_propagation_seconds !== null) w.push(`dns_${p}_propagation_seconds = ${v.certbot_dns_propagation_seconds}`);
  }
  return w;
}

/** Settings that cannot work together (Role.validate: reported when the inventory loads). */
export function settingsProblems(v: CertbotVars): RoleProblem[] {
  const out: RoleProblem[] = [];
  if (v.certbot_mode === "dns" && !v.certbot_dns_credentials.trim() && v.certbot_dns_plugin !== "route53") {
    out.push({ setting: "certbot_dns_credentials", message: `certbot_mode is dns but certbot_dns_credentials (a secret) is empty`, fix: `put the dns-${v.certbot_dns_plugin} plugin's credentials in the secrets file (see docs/certificates.md)` });
  }
  if (v.certbot_mode === "dns" && v.certbot_dns_plugin === "route53" && !v.certbot_dns_credentials.trim()) {
    out.push({ setting: "certbot_dns_credentials", message: "certbot_dns_plugin route53 needs AWS credentials in certbot_dns_credentials (a secret)", fix: "put them in the secrets file, AWS credentials file format" });
  }
  if (v.certbot_mode === "standalone" && v.web_enabled) {
    out.push({
      setting: "certbot_mode",
      message: "certbot_mode standalone binds port 80 itself, but web_enabled runs lighttpd there: the challenge (and every renewal) would fail",
      fix: "set certbot_mode: webroot (lighttpd serves certbot_webroot_path on port 80 for the CA), or dns",
    });
  }
  if (v.certbot_mode === "files") {
    for (const k of ["certbot_files_fullchain", "certbot_files_privkey"] as const) {
      if (!v[k]) out.push({ setting: k, message: `certbot_mode is files but ${k} is empty`, fix: `set ${k} to the absolute path of the file your other tool writes` });
    }
  }
  return out;
}

function templateVars(v: CertbotVars) {
  const name = fqdnOf(v);
  const l = lineage(name);
  return {
    fqdn: name,
    fqdn_q: quote(name),
    tls_dir: v.tls_dir,
    tls_dir_q: quote(v.tls_dir),
    services_q: quote(v.certbot_reload_services.join(" ")),
    restart_q: quote(v.certbot_restart_services.join(" ")),
    keep: v.certbot_keep_versions,
    names_q: quote(certNames(v).join(" ")),
    server_q: quote(v.certbot_server),
    renewal_conf: l.conf,
    renewal_conf_q: quote(l.conf),
    live_q: quote(l.live),
    accounts_q: quote(accountsDir(v.certbot_server)),
    ca_bundle_path: v.certbot_ca_bundle ? CA_BUNDLE : "",
    ca_bundle_q: quote(CA_BUNDLE),
    env: certbotEnv(v),
    want: renewalWants(v),
    reuse_key: v.certbot_reuse_key,
    args: certonlyArgs(v).map(quote).join(" "),
    // files mode: the files and the directories holding them (see the path unit's comment)
    watch: [...new Set([v.certbot_files_fullchain, v.certbot_files_privkey, posix.dirname(v.certbot_files_fullchain), posix.dirname(v.certbot_files_privkey)])].filter((x) => x && x !== "."),
    // Shell data, not text: the path goes into the script as one quoted word ($WEBROOT).
    webroot_q: quote(v.certbot_webroot_path),
    http_who: v.certbot_mode === "webroot" ? "the web server that serves $WEBROOT as /.well-known/acme-challenge/" : "certbot's own server on this host (the firewall opens it in standalone mode)",
  };
}

const reloadAll = (reload: string[], restart: string[]) =>
  [...reload.map((s) => [s, "reload"] as const), ...restart.map((s) => [s, "restart"] as const)]
    .map(([s, how]) => `if systemctl is-active -q ${quote(s)}; then systemctl ${how} ${quote(s)}; fi`)
    .join("; ");

const TIMER = ref(systemdUnit, "certbot.timer");

export const certbot = defineRole<CertbotVars>({
  name: "certbot",
  settings: certbotDefaults,
  ports: (v) => (v.certbot_mode === "standalone" ? [{ port: 80, proto: "tcp", why: "ACME HTTP-01 challenges answered by certbot's standalone server (certificate issuance and renewal)" }] : []),
  state: (v) => (isCertbotMode(v.certbot_mode) ? [{ path: "/etc/letsencrypt", what: "certbot's ACME account key, certificates, keys and renewal configuration", secret: true }] : []),
  facts: (v) => [
    ref(fileStat, posix.join(v.tls_dir, "current")),
    ref(fileStat, v.certbot_webroot_path),
    ...(v.certbot_mode === "dns" ? [ref(aptPolicy, [dnsPackage(v.certbot_dns_plugin)])] : []),
  ],
  validate: (v) => settingsProblems(v),
  steps(ctx) {
    const v = ctx.vars;
    const mode = v.certbot_mode;
    const p = tlsPaths(v.tls_dir);
    const name = fqdnOf(v);
    const l = lineage(name);
    const tv = templateVars(v);
    const certbotMode = isCertbotMode(mode);
    const unitPath = posix.join(UNIT_DIR, FILES_PATH_UNIT);
    const unitService = posix.join(UNIT_DIR, FILES_SERVICE_UNIT);
    // Leaving files mode: stop watching. Leaving a certbot mode: stop renewing (the timer would re-point the services).
    const stopWatching: Step = {
      title: "Stop watching certificate files (not files mode)",
      action: command({ run: `systemctl disable --now ${FILES_PATH_UNIT} 2>/dev/null; rm -f ${unitPath} ${unitService}; systemctl daemon-reload`, onlyIf: `test -e ${unitPath}` }),
    };
    const stopRenewing: Step = {
      title: `Stop renewing the certbot certificate for ${name} (not a certbot mode)`,
      action: command({ run: `certbot delete --non-interactive --cert-name ${quote(name)}`, onlyIf: `grep -qxF ${quote(`renew_hook = ${DEPLOY}`)} ${quote(l.conf)}` }),
    };

    const current = posix.join(v.tls_dir, "current");
    const hasCurrent = ctx.fact(ref(fileStat, current)) !== null;
    if (mode === "none") {
      return [
        stopWatching,
        stopRenewing,
        // A later certbot mode starts from the self-signed pair again, not from the last certificate served.
        { title: `Link ${current} to the self-signed pair`, action: symlink({ path: current, target: "selfsigned" }), when: hasCurrent },
        { title: `Serve the self-signed certificate (${p.fullchain})`, action: symlink({ path: p.fullchain, target: "selfsigned/fullchain.pem" }), notify: "reload the mail services" },
        { title: `Serve the self-signed key (${p.privkey})`, action: symlink({ path: p.privkey, target: "selfsigned/privkey.pem" }), notify: "reload the mail services" },
      ];
    }

    const common: (Step | FlushStep)[] = [
      { title: "Install the certificate deploy hook", action: file({ path: DEPLOY, content: ctx.template("mailstead-cert-deploy", tv), mode: "0755", validate: "sh -n %s" }) },
      // `current` starts at the self-signed pair; the deploy hook moves it.
      { title: `Link ${current} to the self-signed pair`, action: symlink({ path: current, target: "selfsigned" }), when: !hasCurrent },
      { title: `Point ${p.fullchain} through ${current}`, action: symlink({ path: p.fullchain, target: "current/fullchain.pem" }), notify: "reload the mail services" },
      { title: `Point ${p.privkey} through ${current}`, action: symlink({ path: p.privkey, target: "current/privkey.pem" }), notify: "reload the mail services" },
      { title: `Create ${CONF_DIR}`, action: directory({ path: CONF_DIR, mode: "0755" }) },
      {
        title: `Write ${CA_BUNDLE}`,
        action: file({ path: CA_BUNDLE, content: v.certbot_ca_bundle.replace(/\s*$/, "\n"), validate: "openssl x509 -in %s -noout" }),
        when: v.certbot_ca_bundle !== "",
      },
    ];

    if (mode === "files") {
      const chain = v.certbot_files_fullchain;
      const key = v.certbot_files_privkey;
      return [
        stopRenewing,
        ...common,
        { title: `Write ${FILES_PATH_UNIT}`, action: file({ path: unitPath, content: ctx.template("mailstead-cert-files.path", tv) }), notify: ["daemon-reload", "restart the file watch"] },
        { title: `Write ${FILES_SERVICE_UNIT}`, action: file({ path: unitService, content: ctx.template("mailstead-cert-files.service", tv) }), notify: "daemon-reload" },
        { title: "Load the unit files", flush: true },
        { title: `Watch ${chain} and ${key}`, action: systemd.service({ name: FILES_PATH_UNIT, enabled: true, running: true }) },
        {
          title: `Serve the certificate in ${chain}`,
          action: command({ run: `${DEPLOY} ${quote(chain)} ${quote(key)}`, unless: `${DEPLOY} --check ${quote(chain)} ${quote(key)}` }),
          // Missing or bad files leave the previous (or self-signed) certificate served: a warning, not a failure.
          onError: "warn",
        },
      ];
    }

    // standalone, webroot, dns
    const packages = ["certbot", "openssl", "ca-certificates", ...(mode === "dns" ? [dnsPackage(v.certbot_dns_plugin)] : [])];
    if (mode === "dns") {
      const pol = ctx.fact(ref(aptPolicy, [dnsPackage(v.certbot_dns_plugin)]))[dnsPackage(v.certbot_dns_plugin)];
      if (!pol?.candidate && !pol?.installed) {
        return [failStep(`Refuse a DNS plugin Debian ${ctx.os.versionId} does not package`, `${dnsPackage(v.certbot_dns_plugin)} is not available on Debian ${ctx.os.versionId} (${ctx.os.codename}): choose another certbot_dns_plugin (docs/certificates.md lists them per release) or use rfc2136 if your DNS server speaks RFC 2136`)];
      }
    }
    const steps: (Step | FlushStep)[] = [
      stopWatching,
      { title: "Install certbot", action: apt.packages({ present: packages }) },
      ...common,
      {
        title: `Write the dns-${v.certbot_dns_plugin} credentials`,
        action: file({ path: credentialsPath(v.certbot_dns_plugin), content: v.certbot_dns_credentials.replace(/\s*$/, "\n"), mode: "0600", sensitive: true }),
        sensitive: true,
        when: mode === "dns",
      },
      // Created only when missing: in webroot mode it usually belongs to the web server (Nginx Proxy Manager's data dir).
      { title: `Create ${v.certbot_webroot_path}`, action: directory({ path: v.certbot_webroot_path, mode: "0755" }), when: mode === "webroot" && ctx.fact(ref(fileStat, v.certbot_webroot_path)) === null },
      { title: `Create ${posix.dirname(DROPIN)}`, action: directory({ path: posix.dirname(DROPIN), mode: "0755" }) },
      { title: `Give the renewal timer the same environment (${DROPIN})`, action: file({ path: DROPIN, content: ctx.template("certbot.service.conf", tv) }), notify: "daemon-reload" },
      { title: "Install the certificate issuer", action: file({ path: ISSUE, content: ctx.template("mailstead-cert-issue", tv), mode: "0755", validate: "sh -n %s" }) },
      { title: "Load the unit files", flush: true },
      {
        title: `Get a certificate for ${certNames(v).join(", ")} (${mode})`,
        action: command({ run: ISSUE, unless: `${ISSUE} --check`, timeoutMs: 600_000 }),
        // Until DNS points here the CA cannot validate: say which record to fix and go on with the self-signed one.
        onError: "warn",
      },
      {
        title: `Serve the certificate of ${l.live}`,
        action: command({
          run: `${DEPLOY} ${l.live}/fullchain.pem ${l.live}/privkey.pem`,
          unless: `${DEPLOY} --check ${l.live}/fullchain.pem ${l.live}/privkey.pem`,
          onlyIf: `test -f ${l.live}/fullchain.pem`,
        }),
        // A pair the hook refuses (e.g. a bad renewal) leaves the previous one served.
        onError: "warn",
      },
      { title: "Renew with Debian's certbot.timer", action: systemd.service({ name: "certbot.timer", enabled: true, running: true }) },
    ];
    return steps;
  },
  handlers: (ctx) => [
    { name: "daemon-reload", action: systemd.daemonReload() },
    { name: "restart the file watch", action: command({ run: `systemctl restart ${FILES_PATH_UNIT}` }) },
    { name: "reload the mail services", action: command({ run: reloadAll(ctx.vars.certbot_reload_services, ctx.vars.certbot_restart_services) }) },
  ],
  // none: the role is off (the tls role checks its self-signed pair).
  verifyFacts: (v) => {
    if (v.certbot_mode === "none") return [];
    const web = webServedChecks(v);
    return [certCheckRef(servedChecks(v)), ...(web ? [certCheckRef(web)] : []), ...(isCertbotMode(v.certbot_mode) ? [TIMER] : [])];
  },
  verify(ctx) {
    const v = ctx.vars;
    if (v.certbot_mode === "none") return [];
    const checks = toVerifyChecks(ctx.fact(certCheckRef(servedChecks(v))));
    const web = webServedChecks(v);
    if (web) checks.push(...forWebName(toVerifyChecks(ctx.fact(certCheckRef(web))), web.hostname));
    if (isCertbotMode(v.certbot_mode)) {
      const t = ctx.fact(TIMER);
      checks.push({ name: "certbot.timer renews the certificate", ok: t.unitFile === "enabled" && t.active === "active", detail: `certbot.timer: ${t.unitFile || "not installed"}, ${t.active}` });
    }
    return checks;
  },
});
