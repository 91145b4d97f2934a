/** The opendkim and opendmarc roles' plans and files, Postfix's milter wiring and the DMARC Junk rule, from fixtures. */
import { describe, expect, it } from "vitest";
import { defaultValues } from "../../lib/defaults.js";
import type { OsRelease } from "../../lib/facts/os.js";
import { planRole, type RolePlan } from "../../lib/plan.js";
import { render } from "../../lib/template.js";
import { dovecotTemplateVars } from "../../roles/dovecot/index.js";
import { dkimKeys, opendkim, opendkimTemplateVars, parseResolvConf, type OpendkimVars } from "../../roles/opendkim/index.js";
import { opendmarc, type OpendmarcVars } from "../../roles/opendmarc/index.js";
import { postfixMilters, postfixTemplateVars } from "../../roles/postfix/index.js";
import { siteRoles } from "../../roles/registry.js";
import { loadRoleFixture, siteInput } from "./role-fixture.js";

const os: OsRelease = { id: "debian", versionId: "12", codename: "bookworm", prettyName: "Debian GNU/Linux 12 (bookworm)", idLike: [], arch: "amd64", kernel: "6.1.0" };
const H = "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuIuMsBLHHi7JEo0/ra8WCIWGN6qK1SC.";

/** Every role's defaults (as the inventory loader merges them), plus a host. */
function vars(over: Record<string, unknown> = {}): any {
  const defaults = Object.assign({}, ...siteRoles.map((r) => defaultValues(r.settings))) as Record<string, unknown>;
  return { ...defaults, base_hostname: "mx1", base_domain: "example.org", mailbox_users: [{ name: "alice", password_hash: H }], host: "mx1", os, ...over };
}

/** A role's plan from its recorded Debian 12 fixture (mx1, example.test), with vars and facts changed by key. */
function plan(role: typeof opendkim | typeof opendmarc, over: Record<string, unknown> = {}, fixture = "debian12-fresh", facts: Record<string, unknown> = {}) {
  const fx = loadRoleFixture(role.name, fixture);
  return planRole(role, siteInput({ ...fx, vars: { ...fx.vars, ...over }, facts: { ...fx.facts, ...facts } }));
}
const active = (p: RolePlan) => p.steps.filter((x) => x.status !== "skip").map((x) => x.title);

describe("opendkim role", () => {
  it("runs before postfix in the site playbook, with opendmarc", () => {
    const names = siteRoles.map((r) => r.name);
    expect(names.indexOf("opendkim")).toBeLessThan(names.indexOf("postfix"));
    expect(names.indexOf("opendmarc")).toBeLessThan(names.indexOf("postfix"));
  });
  it("certbot runs after postfix and dovecot (its verify checks what their ports serve on a fresh host)", () => {
    const names = siteRoles.map((r) => r.name);
    expect(names.indexOf("certbot")).toBeGreaterThan(names.indexOf("postfix"));
    expect(names.indexOf("certbot")).toBeGreaterThan(names.indexOf("dovecot"));
  });
  it("generates the RSA 2048 key only when it is missing (never regenerated), and declares it as secret state", () => {
    const gen = (fixture: string) => plan(opendkim, {}, fixture).steps.find((x) => /Generate the RSA 2048 DKIM key/.test(x.title))!;
    expect(gen("debian12-converged").commands).toEqual([]);
    const fresh = gen("debian12-fresh");
    expect(fresh.commands[0]!.run).toContain("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048");
    expect(fresh.commands[0]!.run).toContain("umask 077");
    // generated in a root-only temp dir, installed (never chown/chmod through the opendkim-owned dir)
    expect(fresh.commands[0]!.run).toMatch(/t=\$\(mktemp -d\).*-out "\$t"\/key .*install -m 600 -o opendkim -g opendkim "\$t"\/key '?\/etc\/opendkim\/keys\/example\.test\/mail\.private\.tmp'? && mv -f -T /);
    expect(fresh.commands[0]!.run).not.toMatch(/chown|chmod/);
    expect(opendkim.state!(vars())).toEqual([expect.objectContaining({ path: "/etc/opendkim/keys", secret: true })]);
  });
  it("the key file is per domain and selector; ed25519 adds a second key, off by default", () => {
    expect(dkimKeys(vars()).map((k) => k.path)).toEqual(["/etc/opendkim/keys/example.org/mail.private"]);
    const both = dkimKeys(vars({ opendkim_ed25519: true, opendkim_selector: "2026" }));
    expect(both.map((k) => `${k.algorithm} ${k.selector}`)).toEqual(["rsa 2026", "ed25519 ed"]);
    expect(both[1]!.pem).toBe("/etc/opendkim/keys/example.org/ed.pem");
    // Debian's OpenDKIM signs every key with one algorithm: refused when the inventory loads.
    expect(opendkim.validate!(vars({ opendkim_ed25519: true }) as never, { host: "h", loginUser: "root" })).toEqual([expect.objectContaining({ setting: "opendkim_ed25519" })]);
    expect(opendkim.validate!(vars() as never, { host: "h", loginUser: "root" })).toEqual([]);
  });
  it("opendkim.conf: localhost TCP, sign for ORIGINATING and the host, verify the rest, the resolvers of resolv.conf", () => {
    const v = vars() as OpendkimVars;
    const tv = opendkimTemplateVars(v, "nameserver 192.0.2.53\n");
    const conf = render("opendkim", "opendkim.conf", { ...v, ...tv });
    expect(conf).toMatch(/^Socket\s+inet:8891@127\.0\.0\.1$/m);
    expect(conf).toMatch(/^Mode\s+sv$/m);
    expect(conf).toMatch(/^MacroList\s+daemon_name\|ORIGINATING$/m);
    expect(conf).toMatch(/^AuthservID\s+mx1\.example\.org$/m);
    expect(conf).toMatch(/^Nameservers\s+192\.0\.2\.53$/m);
    expect(conf).not.toMatch(/^MultipleSignatures/m);
    expect(conf).not.toMatch(/^ResolverConfiguration/m);
    expect(render("opendkim", "signing.table", { ...v, ...tv })).toMatch(/^\*@example\.org rsa\n\*@\*\.example\.org rsa$/m);
    expect(render("opendkim", "key.table", { ...v, ...tv })).toMatch(/^rsa example\.org:mail:\/etc\/opendkim\/keys\/example\.org\/mail\.private$/m);
    const ed = opendkimTemplateVars(vars({ opendkim_ed25519: true, opendkim_unbound_nodefault_zones: ["test"] }), "");
    const conf2 = render("opendkim", "opendkim.conf", { ...v, ...ed });
    expect(conf2).toMatch(/^MultipleSignatures\s+yes$/m);
    expect(conf2).toMatch(/^ResolverConfiguration\s+\/etc\/opendkim\/unbound\.conf$/m);
    expect(conf2).not.toMatch(/^Nameservers/m);
    expect(render("opendkim", "unbound.conf", ed)).toMatch(/^ {2}local-zone: "test\." nodefault$/m);
    expect(opendkimTemplateVars(vars({ opendkim_nameservers: ["198.51.100.1"] }), "nameserver 192.0.2.53").nameservers).toBe("198.51.100.1");
  });
  it("parses resolv.conf", () => {
    expect(parseResolvConf("# x\nnameserver 192.0.2.53\n search x\n  nameserver ::1\n")).toEqual(["192.0.2.53", "::1"]);
  });
  it("disabled: only stops the service", () => {
    expect(active(plan(opendkim, { opendkim_enabled: false }, "debian12-converged", { 'command.status:"systemctl is-enabled -q opendkim"': 0 }))).toEqual(["Stop OpenDKIM (opendkim_enabled is false)"]);
  });
});

describe("opendmarc role", () => {
  it("opendmarc.conf: own SPF check, trusted authserv-id, reject p=reject, never hold p=quarantine, ignore the host and authenticated clients", () => {
    const v = vars() as OpendmarcVars;
    const conf = render("opendmarc", "opendmarc.conf", { ...v, fqdn: "mx1.example.org", ignore: [] });
    for (const line of [/^Socket\s+inet:8893@127\.0\.0\.1$/m, /^SPFSelfValidate\s+true$/m, /^SPFIgnoreResults\s+true$/m, /^TrustedAuthservIDs\s+mx1\.example\.org$/m, /^RejectFailures\s+true$/m, /^HoldQuarantinedMessages\s+false$/m, /^IgnoreAuthenticatedClients\s+true$/m, /^FailureReports\s+false$/m]) {
      expect(conf).toMatch(line);
    }
    expect(render("opendmarc", "opendmarc.conf", { ...v, opendmarc_reject_failures: false, fqdn: "x", ignore: [] })).toMatch(/^RejectFailures\s+false$/m);
    const ignore = plan(opendmarc, { opendmarc_ignore_hosts: ["192.0.2.0/24"] }).steps.find((x) => /never checks/.test(x.title))!;
    expect(ignore.file?.after).toMatch(/^127\.0\.0\.1\n::1\n192\.0\.2\.0\/24$/m);
  });
});

describe("Postfix milters", () => {
  it("port 25 verifies (OpenDKIM then OpenDMARC); submission and local mail are only signed", () => {
    expect(postfixMilters(vars())).toEqual({ inbound: "inet:127.0.0.1:8891, inet:127.0.0.1:8893", submission: "inet:127.0.0.1:8891", local: "{ inet:127.0.0.1:8891, default_action=accept }" });
    expect(postfixMilters(vars({ opendkim_enabled: false, opendmarc_enabled: false }))).toEqual({ inbound: "", submission: "", local: "" });
    const v = vars();
    const tv = { ...v, ...postfixTemplateVars(v, "3.7.11") };
    const main = render("postfix", "main.cf", tv);
    expect(main).toMatch(/^smtpd_milters = inet:127\.0\.0\.1:8891, inet:127\.0\.0\.1:8893$/m);
    expect(main).toMatch(/^non_smtpd_milters = \{ inet:127\.0\.0\.1:8891, default_action=accept \}$/m);
    expect(main).toMatch(/^milter_default_action = tempfail$/m);
    expect(main).toMatch(/^header_checks = regexp:\/etc\/postfix\/inbound_header_checks$/m);
    const master = render("postfix", "master.cf", tv);
    expect(master.match(/^ {2}-o smtpd_milters=inet:127\.0\.0\.1:8891$/gm)).toHaveLength(2);
    const off = vars({ opendkim_enabled: false, opendmarc_enabled: false });
    expect(render("postfix", "main.cf", { ...off, ...postfixTemplateVars(off, "3.7.11") })).not.toMatch(/^smtpd_milters/m);
  });
  it("strips every incoming Authentication-Results and ARC header, whatever host it names (case-insensitive, as Postfix regexp tables are)", () => {
    const v = vars();
    const rules = render("postfix", "inbound_header_checks", { ...v, ...postfixTemplateVars(v, "3.7.11") });
    const res = rules.split("\n").filter((l) => l.endsWith(" IGNORE")).map((l) => new RegExp(/^\/(.*)\/ IGNORE$/.exec(l)![1]!.replace(/\[\[:space:\]\]/g, "\\s"), "i"));
    const dropped = (h: string) => res.some((re) => re.test(h));
    for (const h of [
      "Authentication-Results: mx1.example.org; dkim=pass header.d=example.org",
      "Authentication-Results: mx1.example.org (c); dmarc=pass",
      "Authentication-Results: mx1.example.org 1; dmarc=pass",
      "Authentication-Results: (c) mx1.example.org; dmarc=pass",
      "authentication-results: mx.google.com; dkim=pass",
      "Authentication-Results : mx1.example.org; dmarc=pass",
      "ARC-Seal: i=1; cv=none",
      "ARC-Message-Signature: i=1; a=rsa-sha256",
      "ARC-Authentication-Results: i=1; mx.google.com; dkim=pass",
    ]) expect(dropped(h), h).toBe(true);
    for (const h of ["Subject: Authentication-Results: x", "DKIM-Signature: v=1; a=rsa-sha256", "Received: from x"]) expect(dropped(h), h).toBe(false);
  });
});

describe("DMARC p=quarantine lands in Junk (the dovecot role's global Sieve rule)", () => {
  it("matches this host's dmarc=fail with p=quarantine (or p=reject when not refused), not p=none", () => {
    const v = vars();
    const sieve = render("dovecot", "junk.sieve", { ...v, ...dovecotTemplateVars(v, "2.3") });
    expect(sieve).toContain('header :matches "Authentication-Results" "mx1.example.org;*dmarc=fail (p=quarantine*"');
    expect(sieve).toContain('header :matches "Authentication-Results" "mx1.example.org;*dmarc=fail (p=reject*"');
    expect(sieve).not.toContain("p=none");
    expect(sieve).toContain('fileinto :create "Junk"');
  });
});
