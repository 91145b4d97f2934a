/**
 * The webmail role: Roundcube from Debian (SQLite; managesieve and markasjunk), costing no
 * memory while nobody uses it:
 *
 *   lighttpd (web role, the host's name) --FastCGI--> 127.0.0.1:<webmail_port>
 *     mailstead-webmail.socket      held by systemd, nothing runs
 *     mailstead-webmail.service     systemd-socket-proxyd, exits after webmail_idle_stop_seconds
 *     mailstead-webmail-php.service php-fpm on <webmail_port + 1>, StopWhenUnneeded: stops with it
 *
 * php-fpm is not socket-activated itself: it unlinks a unix socket it inherited when it exits
 * and has no idle exit; the proxy gives both. Roundcube reaches Dovecot (993), Postfix (465)
 * and ManageSieve (4190) on 127.0.0.1. Sessions are in its database: they survive the stop.
 */
import { posix } from "node:path";
import { isLoopback, listeningSockets, systemdUnit, tcpListeners } from "../../lib/facts/system.js";
import { httpRequest, type HttpRequest } from "../../lib/facts/http.js";
import { ref } from "../../lib/facts/types.js";
import { apt, command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole, type RoleProblem, type Step, type FlushStep } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import { derived } from "../derived.js";
import { failStep } from "../postfix/version.js";
import { webmailDefaults } from "./defaults.js";
import type { VarsOf } from "../../lib/defaults.js";
import type { WebVars } from "../web/index.js";
import type { postfixDefaults } from "../postfix/defaults.js";
import type { opendkimDefaults } from "../opendkim/defaults.js";
import type { opendmarcDefaults } from "../opendmarc/defaults.js";

export type WebmailVars = VarsOf<typeof webmailDefaults> &
  Pick<WebVars, "base_hostname" | "base_domain" | "web_enabled"> &
  Pick<VarsOf<typeof postfixDefaults>, "postfix_message_size_limit"> &
  Partial<Pick<VarsOf<typeof opendkimDefaults>, "opendkim_port">> &
  Partial<Pick<VarsOf<typeof opendmarcDefaults>, "opendmarc_port">>;

/** Ports the host's mail and web services bind: the webmail's own ports must not take one. */
const SERVICE_PORTS: Record<number, string> = { 25: "SMTP", 80: "HTTP", 443: "HTTPS", 465: "submissions", 587: "submission", 993: "IMAPS", 4190: "ManageSieve" };

/** The webmail's ports that collide with another service's (or with each other), as load-time problems. */
export function portProblems(v: WebmailVars): RoleProblem[] {
  const taken = new Map<number, string>(Object.entries(SERVICE_PORTS).map(([p, w]) => [Number(p), w]));
  if (v.opendkim_port !== undefined) taken.set(v.opendkim_port, "OpenDKIM (opendkim_port)");
  if (v.opendmarc_port !== undefined) taken.set(v.opendmarc_port, "OpenDMARC (opendmarc_port)");
  const out: RoleProblem[] = [];
  const claim = (port: number, setting: string, what: string) => {
    const other = taken.get(port);
    if (other) out.push({ setting, message: `${what} ${port} is already taken by ${other}`, fix: `choose another free port for ${setting}` });
    else taken.set(port, `${what} (${setting})`);
  };
  claim(v.webmail_port, "webmail_port", "the webmail's socket port");
  claim(v.webmail_port + 1, "webmail_port", "PHP's port (webmail_port + 1)");
  if (v.webmail_mode === "proxy") claim(v.webmail_proxy_port, "webmail_proxy_port", "the proxy port");
  return out;
}

/** PHP of each Debian release (php-fpm's binary and unit carry the version). */
export const PHP_BY_RELEASE: Record<string, string> = { "12": "8.2", "13": "8.4" };
export const DES_KEY = "/etc/mailstead/webmail/des_key";
export const RC_CONFIG = "/etc/roundcube/config.inc.php";
export const RC_DB_DIR = "/var/lib/dbconfig-common/sqlite3/roundcube";
export const RC_ROOT = "/var/lib/roundcube/public_html";
const UNITS = "/etc/systemd/system";
const CONF_DIR = "/etc/mailstead/webmail";
export const SOCKET = "mailstead-webmail.socket";
export const PROXY = "mailstead-webmail.service";
export const PHP_UNIT = "mailstead-webmail-php.service";
const PROXYD = "/usr/lib/systemd/systemd-socket-proxyd";

/** Upload sizes for PHP: a whole message may be postfix_message_size_limit; an attachment grows by 4/3 in it (base64). */
export function uploadLimits(limit: number): { upload_max: string; post_max: string } {
  const mib = (b: number) => `${Math.max(1, Math.floor(b / 1024 / 1024))}M`;
  return { upload_max: mib((limit * 3) / 4), post_max: mib(limit) };
}

/**
 * dbconfig-common and roundcube-core's questions, answered before the install (debconf-set-selections):
 * SQLite; no web server reconfigured (the web role owns lighttpd's config); the IMAP host as ours.
 */
export const PRESEED = [
  "roundcube-core roundcube/dbconfig-install boolean true",
  "roundcube-core roundcube/database-type select sqlite3",
  "roundcube-core roundcube/db/dbname string roundcube",
  `roundcube-core roundcube/db/basepath string ${posix.dirname(RC_DB_DIR)}/roundcube`,
  "roundcube-core roundcube/reconfigure-webserver multiselect",
  "roundcube-core roundcube/restart-webserver boolean false",
  "roundcube-core roundcube/hosts string ssl://127.0.0.1:993",
];

/** The static file the verify asks for: on 443 by name, or on the proxy port as the proxy would. */
export function logoProbe(v: WebmailVars): HttpRequest {
  const path = "/skins/elastic/images/logo.svg";
  return v.webmail_mode === "proxy"
    ? { host: derived(v).fqdn, path, port: v.webmail_proxy_port, tls: false, address: v.webmail_proxy_address }
    : { host: derived(v).fqdn, path, port: 443, tls: true };
}

const socketUnit = ref(systemdUnit, SOCKET);
const sockets = ref(listeningSockets, undefined);

export const webmail = defineRole<WebmailVars>({
  name: "webmail",
  settings: webmailDefaults,
  reads: {
    postfix_message_size_limit: "uploads in the webmail may be as large as a message Postfix accepts",
    opendkim_port: "the webmail's ports must not take OpenDKIM's",
    opendmarc_port: "the webmail's ports must not take OpenDMARC's",
  },
  switch: {
    setting: "webmail_enabled",
    off: () => [{ title: "Stop the webmail (webmail_enabled is false)", action: command({ run: `systemctl disable --now ${SOCKET} ${PROXY} 2>/dev/null; systemctl stop ${PHP_UNIT} 2>/dev/null; true`, onlyIf: `systemctl is-enabled -q ${SOCKET}` }) }],
  },
  validate(v): RoleProblem[] {
    if (!v.webmail_enabled) return [];
    const out = portProblems(v);
    if (!v.web_enabled) out.push({ setting: "webmail_enabled", message: "the webmail is served by the web role's lighttpd, which is off", fix: "set web_enabled: true (and point the web names at the host, see docs/web.md)" });
    if (v.webmail_mode === "proxy" && v.webmail_trusted_proxies.length === 0)
      out.push({ setting: "webmail_trusted_proxies", message: "is empty, but webmail_mode is proxy: no proxy could reach the webmail, and no client address could be believed", fix: "list your reverse proxy's address, e.g. [172.17.0.0/16] for Nginx Proxy Manager in Docker, or [10.0.0.5] for one on another VM" });
    return out;
  },
  // Proxy mode: the proxy port, only for the trusted proxies (nothing when lighttpd listens on loopback).
  ports: (v) =>
    v.webmail_enabled && v.webmail_mode === "proxy" && !isLoopback(v.webmail_proxy_address)
      ? [{ port: v.webmail_proxy_port, proto: "tcp", why: "HTTP from the reverse proxy to the webmail (webmail_trusted_proxies only)", from: v.webmail_trusted_proxies }]
      : [],
  state: (v) =>
    v.webmail_enabled
      ? [
          { path: RC_DB_DIR, what: "Roundcube's database: contacts, settings, identities, sessions" },
          { path: CONF_DIR, what: "the webmail's des_key (encrypts IMAP passwords in sessions) and PHP's configuration", secret: true },
        ]
      : [],
  steps(ctx) {
    const v = ctx.vars;
    const php = PHP_BY_RELEASE[ctx.os.versionId];
    if (!php) return [failStep(`Refuse Debian ${ctx.os.versionId}`, `the webmail role knows PHP for Debian 12 and 13 only (this host: ${ctx.os.versionId})`)];
    const backend = v.webmail_port + 1;
    const tv = { php, backend_port: backend, proxyd: PROXYD, ...uploadLimits(v.postfix_message_size_limit) };
    const steps: (Step | FlushStep)[] = [
      {
        title: "Answer Roundcube's install questions (SQLite, no web server changes)",
        action: command({ run: `printf '%s\\n' ${PRESEED.map(quote).join(" ")} | debconf-set-selections`, onlyIf: "! dpkg-query -W -f '${Status}' roundcube-core 2>/dev/null | grep -q 'ok installed'" }),
      },
      // First PHP FPM and dbconfig's SQLite backend: installed with Roundcube in one call, Debian 13's
      // dbconfig-common configured roundcube-core before dbconfig-sqlite3 and fell back to MySQL.
      // php-fpm installed first also satisfies roundcube's php dependency: apt pulls no Apache.
      { title: `Install PHP ${php} FPM and dbconfig's SQLite backend`, action: apt.packages({ present: [`php${php}-fpm`, `php${php}-sqlite3`, "dbconfig-sqlite3"] }) },
      { title: "Install Roundcube", action: apt.packages({ present: ["roundcube-core", "roundcube-sqlite3", "roundcube-plugins"] }) },
      {
        title: "Check that Roundcube's database is SQLite",
        action: command({ run: `echo "roundcube-core was configured with another database: $(grep '^dbc_dbtype' /etc/dbconfig-common/roundcube.conf); purge it (apt-get purge roundcube-core) and converge again" >&2; exit 1`, unless: `grep -qx "dbc_dbtype='sqlite3'" /etc/dbconfig-common/roundcube.conf && test -f ${RC_DB_DIR}/roundcube` }),
      },
      // Debian's own pool would run all the time (18 MiB): ours starts on demand instead.
      { title: `Keep Debian's php${php}-fpm.service from running`, action: command({ run: `systemctl disable --now php${php}-fpm.service && systemctl mask php${php}-fpm.service`, unless: `test "$(systemctl is-enabled php${php}-fpm.service 2>/dev/null)" = masked` }) },
      { title: `Create ${CONF_DIR}`, action: directory({ path: CONF_DIR, mode: "0750", group: "www-data" }) },
      {
        title: "Make the webmail's des_key (once, on the host)",
        action: command({ run: `umask 027 && head -c 18 /dev/urandom | base64 > ${DES_KEY}.new && chgrp www-data ${DES_KEY}.new && mv ${DES_KEY}.new ${DES_KEY}`, unless: `test -s ${DES_KEY}` }),
        sensitive: true,
      },
      { title: `Render ${RC_CONFIG}`, action: file({ path: RC_CONFIG, content: ctx.template("config.inc.php", tv), mode: "0640", group: "www-data", validate: `php${php} -l %s` }) },
      { title: `Render ${CONF_DIR}/php-fpm.conf`, action: file({ path: `${CONF_DIR}/php-fpm.conf`, content: ctx.template("php-fpm.conf", tv), validate: `php-fpm${php} -t -y %s` }), notify: "reload PHP" },
      { title: `Write ${SOCKET}`, action: file({ path: posix.join(UNITS, SOCKET), content: ctx.template("mailstead-webmail.socket", tv) }), notify: ["daemon-reload", "restart the socket"] },
      { title: `Write ${PROXY}`, action: file({ path: posix.join(UNITS, PROXY), content: ctx.template("mailstead-webmail.service", tv) }), notify: "daemon-reload" },
      { title: `Write ${PHP_UNIT}`, action: file({ path: posix.join(UNITS, PHP_UNIT), content: ctx.template("mailstead-webmail-php.service", tv) }), notify: "daemon-reload" },
      { title: "Load the unit files", flush: true },
      { title: `Listen on 127.0.0.1:${v.webmail_port} (${SOCKET})`, action: systemd.service({ name: SOCKET, enabled: true, running: true }) },
    ];
    return steps;
  },
  handlers: () => [
    { name: "daemon-reload", action: systemd.daemonReload() },
    { name: "restart the socket", action: command({ run: `systemctl stop ${PROXY} ${PHP_UNIT} 2>/dev/null; systemctl restart ${SOCKET}` }) },
    // A running PHP reads its new pool now; a stopped one reads it when it next starts.
    { name: "reload PHP", action: command({ run: `if systemctl is-active -q ${PHP_UNIT}; then systemctl reload ${PHP_UNIT}; fi` }) },
  ],
  // Never a PHP page: a check must not wake PHP (a static file of the skin, and the socket).
  verifyFacts: (v) => [socketUnit, sockets, ref(httpRequest, logoProbe(v))],
  verify(ctx) {
    const v = ctx.vars;
    const u = ctx.fact(socketUnit);
    const s = ctx.fact(sockets);
    const on = tcpListeners(s, v.webmail_port);
    const probe = logoProbe(v);
    const logo = ctx.fact(ref(httpRequest, probe));
    const where = v.webmail_mode === "proxy" ? `http://${probe.address}:${probe.port}/ (for the proxy)` : `https://${derived(v).fqdn}/`;
    const checks = [
      { name: `${SOCKET} listens on 127.0.0.1:${v.webmail_port} only`, ok: u.active === "active" && on.length > 0 && on.every((a) => a === "127.0.0.1"), detail: `${SOCKET} ${u.active}; listening: ${on.join(" ") || "nothing"}` },
      { name: `${where} serves Roundcube's files (static, PHP not woken)`, ok: logo?.status === 200, detail: logo ? `HTTP ${logo.status} for ${probe.path}` : `no answer on ${probe.port}` },
    ];
    if (v.webmail_mode === "proxy") {
      const p = tcpListeners(s, v.webmail_proxy_port);
      checks.push({ name: `lighttpd listens on ${v.webmail_proxy_address}:${v.webmail_proxy_port} only`, ok: p.length > 0 && p.every((a) => a === v.webmail_proxy_address), detail: `listening: ${p.join(" ") || "nothing"}` });
    }
    return checks;
  },
});
