/** The webmail role's pure parts: what it refuses, the upload sizes, the preseed, and the files it renders. */
import { describe, expect, it } from "vitest";
import { render } from "../../lib/template.js";
import { logoProbe, PRESEED, uploadLimits, webmail, type WebmailVars } from "../../roles/webmail/index.js";
import { siteVars } from "./role-fixture.js";

const vars = (over: Record<string, unknown> = {}) => siteVars({ base_hostname: "mx1", base_domain: "example.org", web_enabled: true, webmail_enabled: true, ...over }) as unknown as WebmailVars;
const ctx = { host: "h", loginUser: "debian" };

describe("webmail role", () => {
  it("needs the web side (HTTPS) and says so when the inventory loads", () => {
    expect(webmail.validate!(vars(), ctx)).toEqual([]);
    expect(webmail.validate!(vars({ web_enabled: false }), ctx)).toEqual([expect.objectContaining({ setting: "webmail_enabled", fix: expect.stringMatching(/web_enabled: true/) })]);
    expect(webmail.validate!(vars({ web_enabled: false, webmail_enabled: false }), ctx)).toEqual([]);
  });
  it("refuses ports another service holds (OpenDKIM, OpenDMARC, the mail ports), naming the setting", () => {
    expect(webmail.validate!(vars({ webmail_port: 8890, opendkim_port: 8891, opendmarc_port: 8893 }), ctx)).toEqual([
      expect.objectContaining({ setting: "webmail_port", message: "PHP's port (webmail_port + 1) 8891 is already taken by OpenDKIM (opendkim_port)" }),
    ]);
    expect(webmail.validate!(vars({ webmail_port: 8893, opendmarc_port: 8893 }), ctx)).toEqual([expect.objectContaining({ setting: "webmail_port", message: expect.stringMatching(/8893 is already taken by OpenDMARC/) })]);
    expect(webmail.validate!(vars({ webmail_mode: "proxy", webmail_proxy_port: 9072, webmail_trusted_proxies: ["10.0.0.5"] }), ctx)).toEqual([expect.objectContaining({ setting: "webmail_proxy_port", message: expect.stringMatching(/9072 is already taken by PHP's port/) })]);
    expect(webmail.validate!(vars({ webmail_mode: "proxy", webmail_proxy_port: 4190, webmail_trusted_proxies: ["10.0.0.5"] }), ctx)).toEqual([expect.objectContaining({ setting: "webmail_proxy_port", message: expect.stringMatching(/ManageSieve/) })]);
    // the proxy port is only claimed in proxy mode
    expect(webmail.validate!(vars({ webmail_proxy_port: 4190 }), ctx)).toEqual([]);
  });
  it("proxy mode needs the proxies it trusts, and opens its port to them only (nothing on loopback)", () => {
    expect(webmail.validate!(vars({ webmail_mode: "proxy" }), ctx)).toEqual([expect.objectContaining({ setting: "webmail_trusted_proxies", fix: expect.stringMatching(/172\.17\.0\.0\/16/) })]);
    const v = vars({ webmail_mode: "proxy", webmail_proxy_address: "10.0.0.7", webmail_trusted_proxies: ["10.0.0.5", "2001:db8::5"] });
    expect(webmail.validate!(v, ctx)).toEqual([]);
    expect(webmail.ports!(v)).toEqual([{ port: 8080, proto: "tcp", why: expect.any(String), from: ["10.0.0.5", "2001:db8::5"] }]);
    expect(webmail.ports!(vars({ webmail_mode: "proxy", webmail_trusted_proxies: ["127.0.0.1"] }))).toEqual([]);
    expect(webmail.ports!(vars())).toEqual([]);
  });
  it("the verify never wakes PHP: a static file, on 443 by name or on the proxy port as the proxy asks", () => {
    expect(logoProbe(vars())).toEqual({ host: "mx1.example.org", path: "/skins/elastic/images/logo.svg", port: 443, tls: true });
    expect(logoProbe(vars({ webmail_mode: "proxy", webmail_proxy_address: "10.0.0.7" }))).toEqual({ host: "mx1.example.org", path: "/skins/elastic/images/logo.svg", port: 8080, tls: false, address: "10.0.0.7" });
  });
  it("uploads as large as a message Postfix accepts, less base64's growth", () => {
    expect(uploadLimits(10485760)).toEqual({ upload_max: "7M", post_max: "10M" });
    expect(uploadLimits(1048576)).toEqual({ upload_max: "1M", post_max: "1M" });
  });
  it("preseeds SQLite and no web server reconfiguration, for unattended installs", () => {
    expect(PRESEED).toEqual(expect.arrayContaining(["roundcube-core roundcube/database-type select sqlite3", "roundcube-core roundcube/reconfigure-webserver multiselect"]));
    for (const l of PRESEED) expect(l).toMatch(/^roundcube-core roundcube\/\S+ (boolean|select|string|multiselect)( \S+)?$/);
  });
  it("keeps the state a rebuild needs: the database and the des_key (secret)", () => {
    expect(webmail.state!(vars()).map((s) => [s.path, s.secret ?? false])).toEqual([["/var/lib/dbconfig-common/sqlite3/roundcube", false], ["/etc/mailstead/webmail", true]]);
    expect(webmail.state!(vars({ webmail_enabled: false }))).toEqual([]);
  });
  it("Roundcube's config: loopback TLS to Dovecot, Postfix and ManageSieve, no password plugin, HTTPS cookies, syslog", () => {
    const c = render("webmail", "config.inc.php", { ...vars() });
    expect(c).toContain("$config['imap_host'] = 'ssl://127.0.0.1:993';");
    expect(c).toContain("$config['smtp_host'] = 'ssl://127.0.0.1:465';");
    expect(c).toContain("$config['managesieve_host'] = 'tls://127.0.0.1:4190';");
    expect(c).toContain("$config['plugins'] = ['managesieve', 'markasjunk'];");
    expect(c).not.toMatch(/'password'/);
    expect(c).toContain("$config['use_https'] = true;");
    expect(c).toContain("$config['session_storage'] = 'db';");
    expect(c).toContain("$config['des_key'] = rtrim(file_get_contents('/etc/mailstead/webmail/des_key'));");
    expect(c).toContain("$config['session_lifetime'] = 60;");
  });
  it("PHP on demand: ondemand workers, the proxy exits when idle, PHP stops with it", () => {
    const tv = { ...vars(), php: "8.2", backend_port: 9072, proxyd: "/usr/lib/systemd/systemd-socket-proxyd", ...uploadLimits(10485760) };
    const fpm = render("webmail", "php-fpm.conf", tv);
    expect(fpm).toMatch(/^pm = ondemand$/m);
    expect(fpm).toMatch(/^listen = 127\.0\.0\.1:9072$/m);
    expect(fpm).toMatch(/^php_admin_value\[upload_max_filesize\] = 7M$/m);
    expect(render("webmail", "mailstead-webmail.socket", tv)).toMatch(/^ListenStream=127\.0\.0\.1:9071$/m);
    const proxy = render("webmail", "mailstead-webmail.service", tv);
    expect(proxy).toMatch(/^ExecStart=\/usr\/lib\/systemd\/systemd-socket-proxyd --exit-idle-time=300s 127\.0\.0\.1:9072$/m);
    expect(proxy).toMatch(/^Requires=mailstead-webmail\.socket mailstead-webmail-php\.service$/m);
    const php = render("webmail", "mailstead-webmail-php.service", tv);
    expect(php).toMatch(/^StopWhenUnneeded=yes$/m);
    expect(php).toMatch(/^Type=notify$/m);
    expect(php).not.toMatch(/^\[Install\]/m);
  });
});
