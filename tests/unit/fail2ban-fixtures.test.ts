/**
 * The captured log lines every jail's filter is proven against, on each
 * release (tests/e2e/fail2ban.test.ts runs fail2ban-regex on them inside
 * mx1 and mx2): a jail added without real lines of both releases fails here.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { JAILS as BASE, WEBMAIL_JAIL } from "../../roles/fail2ban/index.js";

/** Every jail the role can run: the webmail's too. */
const JAILS = [...BASE, WEBMAIL_JAIL];
import { render } from "../../lib/template.js";
import { planRole } from "../../lib/plan.js";
import { fail2ban } from "../../roles/fail2ban/index.js";
import { loadRoleFixture, siteInput } from "./role-fixture.js";

const f2bVars = { ignore: ["127.0.0.1/8"], sshPort: 22, fail2ban_maxretry: 5, fail2ban_findtime: "10m", fail2ban_bantime: "1h", fail2ban_bantime_maxtime: "1w", fail2ban_recidive_bantime: "1w", fail2ban_recidive_findtime: "1d", fail2ban_recidive_maxretry: 5 };
const DIR = resolve(import.meta.dirname, "fixtures/fail2ban");

describe("fail2ban fixtures", () => {
  for (const release of ["debian12", "debian13"]) {
    it(`${release}: a fail and a pass file per jail, real lines only`, () => {
      expect(readdirSync(join(DIR, release)).sort()).toEqual(JAILS.flatMap((j) => [`${j}.fail.log`, `${j}.pass.log`]).sort());
      for (const j of JAILS) {
        const fail = readFileSync(join(DIR, release, `${j}.fail.log`), "utf8").trim().split("\n");
        const pass = readFileSync(join(DIR, release, `${j}.pass.log`), "utf8").trim().split("\n");
        expect(fail.length, `${release}/${j}.fail.log`).toBeGreaterThanOrEqual(2);
        expect(pass.length, `${release}/${j}.pass.log`).toBeGreaterThanOrEqual(2);
        // the attacker of the lab (outsider) is in every failure line
        for (const l of fail) expect(l, `${release}/${j}.fail.log`).toContain("198.51.100.30");
      }
    });
  }
  it("Debian 13's Dovecot 2.4 line is the one the dovecot.local rule was written for", () => {
    const line = readFileSync(join(DIR, "debian13/dovecot.fail.log"), "utf8").split("\n")[0]!;
    expect(line).toMatch(/imap-login: Login aborted: Connection closed \(auth failed, \d+ attempts in \d+ secs\) \(auth_failed\): /);
    const local = render("fail2ban", "dovecot.local", {});
    expect(local).toContain("%(known/failregex)s");
    expect(local).toMatch(/^\s+\^Login aborted: /m);
  });
  it("the webmail's jail counts Roundcube's Failed login line (one per attempt, rate-limited ones too), never its IMAP Error line", () => {
    for (const release of ["debian12", "debian13"]) {
      expect(readFileSync(join(DIR, release, `${WEBMAIL_JAIL}.fail.log`), "utf8")).toMatch(/roundcube\[\d+\]: <\w+> Failed login for \S+ from 198\.51\.100\.30 in session \w+ \(error: 0\)/);
      expect(readFileSync(join(DIR, release, `${WEBMAIL_JAIL}.pass.log`), "utf8")).toMatch(/IMAP Error: Login failed for \S+ against 127\.0\.0\.1 from 198\.51\.100\.30\./);
    }
    const conf = render("fail2ban", "mailstead-roundcube.conf", {});
    expect(conf).toMatch(/^journalmatch = SYSLOG_IDENTIFIER=roundcube$/m);
    // the address is the last "from" before Roundcube's own session id: a user name cannot place one after it
    expect(conf).toMatch(/Failed login for <F-USER>\.\*<\/F-USER> from <HOST> in session \\S\+/);
  });
  it("the webmail's jail bans on the web ports and in the forward path (Docker-published ports)", () => {
    const jail = render("fail2ban", "jail.local", { ...f2bVars, webmail: true, webmail_ports: "http,https,8080", webmail_ignore: ["127.0.0.1/8", "172.17.0.0/16"] });
    const section = jail.slice(jail.indexOf("[mailstead-roundcube]"), jail.indexOf("[recidive]"));
    expect(section).toContain("port = http,https,8080");
    // the proxy itself is never banned by this jail
    expect(section).toMatch(/^ignoreip = 127\.0\.0\.1\/8 172\.17\.0\.0\/16$/m);
    expect(section).toMatch(/^action = %\(action_\)s\n\s+nftables\[actname=forward, type=allports, .*chain_hook=forward/m);
    expect(render("fail2ban", "jail.local", { ...f2bVars, webmail: false, webmail_ports: "", webmail_ignore: [] })).not.toContain("[mailstead-roundcube]");
  });
  it("both Postfix units are read (postfix@-.service on Debian 12, postfix.service on Debian 13)", () => {
    expect(render("fail2ban", "postfix.local", {})).toMatch(/^journalmatch = _SYSTEMD_UNIT=postfix@-\.service \+ _SYSTEMD_UNIT=postfix\.service$/m);
  });
});

describe("the webmail's jail planned from the recorded fixture", () => {
  const jailOf = (extra: Record<string, unknown>) => {
    const fx = loadRoleFixture("fail2ban", "debian13-fresh");
    const plan = planRole(fail2ban, siteInput({ ...fx, vars: { ...fx.vars, ...extra } }));
    const text = plan.steps.find((s) => s.title === "Render /etc/fail2ban/jail.local")!.file!.after!;
    return text.slice(text.indexOf("[mailstead-roundcube]"), text.indexOf("[recidive]"));
  };
  it("proxy mode: the trusted proxies join the jail's ignoreip (the proxy is never banned), and the proxy port is banned too", () => {
    const j = jailOf({ webmail_enabled: true, webmail_mode: "proxy", webmail_proxy_port: 8080, webmail_trusted_proxies: ["172.17.0.0/16"] });
    expect(j).toMatch(/^ignoreip = .*\b172\.17\.0\.0\/16$/m);
    expect(j).toContain("port = http,https,8080");
  });
  it("direct mode: no proxy is ignored", () => {
    const j = jailOf({ webmail_enabled: true, webmail_mode: "direct", webmail_trusted_proxies: ["172.17.0.0/16"] });
    expect(j).not.toContain("172.17.0.0/16");
    expect(j).toContain("port = http,https\n");
  });
});
