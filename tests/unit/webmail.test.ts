/** The webmail role's pure parts: what it refuses, the upload sizes, the preseed, and the files it renders. */
import { describe, expect, it } from "vitest";
import { render } from "../../lib/template.js";
import { PRESEED, uploadLimits, webmail, type WebmailVars } from "../../roles/webmail/index.js";
import { siteVars } from "./role-fixture.js";

const vars = (over: Record<string, unknown> = {}) => siteVars({ base_hostname: "mx1", base_domain: "example.org", web_enabled: true, webmail_enabled: true, ...over }) as unknown as WebmailVars;
const ctx = { host: "h", loginUser: "debian" };

describe("webmail role", () => {
  it("needs the web side (HTTPS) and says so when the inventory loads", () => {
    expect(webmail.validate!(vars(), ctx)).toEqual([]);
    expect(webmail.validate!(vars({ web_enabled: false }), ctx)).toEqual([expect.objectContaining({ setting: "webmail_enabled", fix: expect.stringMatching(/web_enabled: true/) })]);
    expect(webmail.validate!(vars({ web_enabled: false, webmail_enabled: false }), ctx)).toEqual([]);
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
