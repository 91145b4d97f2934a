/**
 * The captured log lines every jail's filter is proven against, on each
 * release (tests/e2e/fail2ban.test.ts runs fail2ban-regex on them inside
 * mx1 and mx2): a jail added without real lines of both releases fails here.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { JAILS } from "../../roles/fail2ban/index.js";
import { render } from "../../lib/template.js";

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
  it("both Postfix units are read (postfix@-.service on Debian 12, postfix.service on Debian 13)", () => {
    expect(render("fail2ban", "postfix.local", {})).toMatch(/^journalmatch = _SYSTEMD_UNIT=postfix@-\.service \+ _SYSTEMD_UNIT=postfix\.service$/m);
  });
});
