/**
 * The certbot role without a host: settings validation (schema and the role's
 * own refusals), certonly arguments and the renewal lines the re-issue guard
 * wants, the certificate checks' judgement, and the two host scripts run here
 * for real (openssl, sh): the deploy hook switches a good pair atomically, is
 * idempotent, refuses a key that does not match or a certificate for another
 * name and keeps the old one; the issuer names the DNS record to fix.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultValues } from "../../lib/defaults.js";
import { validate } from "../../lib/inventory/validate.js";
import { render } from "../../lib/template.js";
import { evaluateCertChecks, toVerifyChecks } from "../../roles/certbot/checks.js";
import { certbotDefaults } from "../../roles/certbot/defaults.js";
import { accountsDir, certbot, certonlyArgs, renewalWants, settingsProblems, type CertbotVars } from "../../roles/certbot/index.js";
import { tlsDefaults } from "../../roles/tls/defaults.js";
import { HOSTS, labCertbotVars } from "../lab/hosts.js";
import { planRole } from "../../lib/plan.js";
import { lenientFacts, loadRoleFixture, siteInput, siteVars } from "./role-fixture.js";
import { certificateResults } from "../../playbooks/verify.js";
import type { Transport } from "../../lib/transport/types.js";

/** Defaults with standalone mode (the default mode is none), as an inventory choosing it would give. */
const vars = (extra: Partial<CertbotVars> = {}): CertbotVars =>
  ({ ...defaultValues(tlsDefaults), ...defaultValues(certbotDefaults), certbot_mode: "standalone", base_hostname: "mx1", base_domain: "example.test", ...extra }) as CertbotVars;

const schemaProblems = (name: string, value: unknown) =>
  validate(certbotDefaults[name as keyof typeof certbotDefaults]!.schema, { file: "t.yml", data: value, lineOf: () => undefined }, {});

describe("certbot settings", () => {
  it("defaults: off (none), Let's Encrypt production, ECDSA, no key reuse; every setting has a why", () => {
    const v = { ...defaultValues(certbotDefaults) } as unknown as CertbotVars;
    expect(v.certbot_mode).toBe("none");
    expect(v.certbot_server).toBe("https://acme-v02.api.letsencrypt.org/directory");
    expect(v.certbot_key_type).toBe("ecdsa");
    expect(v.certbot_reuse_key).toBe(false);
    expect(certbotDefaults.certbot_dns_credentials.sensitive).toBe(true);
    for (const [k, s] of Object.entries(certbotDefaults)) expect(s.why.length, k).toBeGreaterThan(20);
  });

  it("schema rejects a bad mode, an http server URL, a non-PEM bundle, a bad name and accepts good values", () => {
    expect(schemaProblems("certbot_mode", "manual")).not.toEqual([]);
    expect(schemaProblems("certbot_mode", "dns")).toEqual([]);
    expect(schemaProblems("certbot_server", "http://acme.example/dir")).not.toEqual([]);
    expect(schemaProblems("certbot_ca_bundle", "not a cert")).not.toEqual([]);
    expect(schemaProblems("certbot_ca_bundle", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")).toEqual([]);
    expect(schemaProblems("certbot_extra_names", ["mail.example.org"])).toEqual([]);
    expect(schemaProblems("certbot_extra_names", ["bad name"])).not.toEqual([]);
    expect(schemaProblems("certbot_dns_plugin", "rfc2136")).toEqual([]);
    expect(schemaProblems("certbot_dns_plugin", "gandi")).not.toEqual([]);
    expect(schemaProblems("certbot_dns_propagation_seconds", null)).toEqual([]);
    expect(schemaProblems("certbot_dns_propagation_seconds", -1)).not.toEqual([]);
    expect(schemaProblems("certbot_email", "not-an-address")).not.toEqual([]);
  });

  it("the role refuses settings that cannot work when the inventory loads", () => {
    expect(settingsProblems(vars())).toEqual([]);
    expect(settingsProblems(vars({ certbot_mode: "dns" }))[0]).toMatchObject({ setting: "certbot_dns_credentials", message: expect.stringMatching(/certbot_dns_credentials \(a secret\) is empty/) });
    expect(settingsProblems(vars({ certbot_mode: "dns", certbot_dns_credentials: "dns_rfc2136_server = 192.0.2.1\n" }))).toEqual([]);
    expect(settingsProblems(vars({ certbot_mode: "files" })).map((p) => p.setting)).toEqual(["certbot_files_fullchain", "certbot_files_privkey"]);
    // the role's validate is these problems: they are reported when the inventory loads
    expect(certbot.validate!(vars({ certbot_mode: "files" }), { host: "h", loginUser: "root" })).toHaveLength(2);
  });

  it("opens port 80 only in standalone mode", () => {
    expect(certbot.ports!(vars())).toEqual([expect.objectContaining({ port: 80, proto: "tcp" })]);
    for (const m of ["webroot", "dns", "files", "none"] as const) expect(certbot.ports!(vars({ certbot_mode: m }))).toEqual([]);
  });
});

describe("the lab inventory's certificate settings", () => {
  it("mx1 and mx2 get a Pebble certificate (webroot through the web role, Pebble's URL, its HTTPS CA + issuing root); the other hosts nothing", () => {
    const ca = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
    const root = "-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----";
    const mx1 = HOSTS.find((h) => h.name === "mx1")!;
    expect(labCertbotVars(mx1, "https://198.51.100.1:14000/dir", ca, root)).toEqual({ certbot_mode: "webroot", certbot_server: "https://198.51.100.1:14000/dir", certbot_ca_bundle: `${ca}${root}\n` });
    const mx2 = HOSTS.find((h) => h.name === "mx2")!;
    expect(labCertbotVars(mx2, "https://198.51.100.1:14000/dir", ca, root)).toMatchObject({ certbot_mode: "webroot" });
    for (const h of HOSTS.filter((x) => x.group !== "mail")) expect(labCertbotVars(h, "https://198.51.100.1:14000/dir", ca, root)).toEqual({});
    expect(schemaProblems("certbot_ca_bundle", `${ca}${root}\n`)).toEqual([]);
  });
});

describe("certonly arguments and the renewal configuration they leave", () => {
  it("standalone, ECDSA P-256, no email, the deploy hook", () => {
    expect(certonlyArgs(vars())).toEqual([
      "--cert-name", "mx1.example.test", "-d", "mx1.example.test", "--server", "https://acme-v02.api.letsencrypt.org/directory",
      "--register-unsafely-without-email", "--key-type", "ecdsa", "--elliptic-curve", "secp256r1", "--no-reuse-key",
      "--deploy-hook", "/usr/local/sbin/mailstead-cert-deploy", "--standalone", "--preferred-challenges", "http",
    ]);
    expect(renewalWants(vars())).toEqual([
      "server = https://acme-v02.api.letsencrypt.org/directory", "key_type = ecdsa", "renew_hook = /usr/local/sbin/mailstead-cert-deploy", "authenticator = standalone",
    ]);
  });

  it("dns rfc2136 with propagation 0, RSA, reused key, extra name", () => {
    const v = vars({ certbot_mode: "dns", certbot_dns_propagation_seconds: 0, certbot_key_type: "rsa", certbot_reuse_key: true, certbot_extra_names: ["mail.example.test"], certbot_email: "a@example.test" });
    const a = certonlyArgs(v);
    expect(a).toEqual(expect.arrayContaining(["-d", "mail.example.test", "-m", "a@example.test", "--rsa-key-size", "2048", "--reuse-key", "--authenticator", "dns-rfc2136"]));
    expect(a.join(" ")).toContain("--dns-rfc2136-credentials /etc/mailstead/certbot/dns-rfc2136.ini --dns-rfc2136-propagation-seconds 0");
    expect(renewalWants(v)).toEqual(expect.arrayContaining(["reuse_key = True", "key_type = rsa", "authenticator = dns-rfc2136", "dns_rfc2136_credentials = /etc/mailstead/certbot/dns-rfc2136.ini", "dns_rfc2136_propagation_seconds = 0"]));
  });

  it("webroot maps every name to the webroot", () => {
    const v = vars({ certbot_mode: "webroot", certbot_webroot_path: "/srv/acme" });
    expect(certonlyArgs(v).join(" ")).toContain("--webroot -w /srv/acme");
    expect(renewalWants(v)).toContain("mx1.example.test = /srv/acme");
  });

  it("accounts live per ACME server (host:port/path)", () => {
    expect(accountsDir("https://198.51.100.1:14000/dir")).toBe("/etc/letsencrypt/accounts/198.51.100.1:14000/dir");
    expect(accountsDir("https://acme-v02.api.letsencrypt.org/directory")).toBe("/etc/letsencrypt/accounts/acme-v02.api.letsencrypt.org/directory");
  });
});

describe("certificate checks (judgement)", () => {
  const opts = { hostname: "mx1.example.test", certPath: "/etc/mailstead/tls/fullchain.pem", selfSignedPath: "/s.pem" };
  const out = (o: { days?: number; port993?: string; verify?: string; selfsigned?: boolean; host?: string } = {}) =>
    [
      "@@disk fp=AA:BB",
      "@@disk end=Jan  1 00:00:00 2030 GMT",
      `@@disk days=${o.days ?? 60}`,
      `@@disk host=${o.host ?? "1"}`,
      `@@disk selfsigned=${o.selfsigned ? "AA:BB" : "CC:DD"}`,
      ...[25, 465, 587].map((p) => `@@port ${p} fp=AA:BB\n@@port ${p} verify=${o.verify ?? "Verify return code: 0 (ok)"}`),
      `@@port 993 fp=${o.port993 ?? "AA:BB"}\n@@port 993 verify=${o.verify ?? "Verify return code: 0 (ok)"}`,
    ].join("\n");
  const levels = (items: { name: string; level: string }[]) => Object.fromEntries(items.map((i) => [i.name, i.level]));

  it("all pass for a served, trusted, named, fresh certificate", () => {
    const items = evaluateCertChecks(out(), opts);
    expect(items).toHaveLength(10);
    expect(items.every((i) => i.level === "pass")).toBe(true);
  });

  it("days left: >14 pass, 3..14 warn, <3 fail", () => {
    const d = (days: number) => levels(evaluateCertChecks(out({ days }), opts))["certificate has more than 14 days left"];
    expect([d(15), d(14), d(3), d(2), d(-1)]).toEqual(["pass", "warn", "warn", "fail", "fail"]);
  });

  it("a port serving another certificate fails with the reload to do; a wrong name fails", () => {
    const items = evaluateCertChecks(out({ port993: "EE:FF", host: "0" }), opts);
    const bad = items.find((i) => i.name.startsWith("port 993") && i.name.includes("serves"))!;
    expect(bad.level).toBe("fail");
    expect(bad.fix).toContain("systemctl reload dovecot");
    expect(levels(items)["certificate names mx1.example.test"]).toBe("fail");
  });

  it("untrusted chain: a failure, but a warning while the self-signed stand-in is served; skipped in none mode", () => {
    const bad = "Verify return code: 19 (self-signed certificate in certificate chain)";
    expect(levels(evaluateCertChecks(out({ verify: bad }), opts))["port 25 chain verifies to a trusted root"]).toBe("fail");
    const ss = evaluateCertChecks(out({ verify: bad, selfsigned: true }), opts);
    expect(levels(ss)["port 25 chain verifies to a trusted root"]).toBe("warn");
    expect(toVerifyChecks(ss).find((c) => c.name === "port 25 chain verifies to a trusted root")).toMatchObject({ ok: false, warn: true });
    expect(evaluateCertChecks(out({ verify: bad }), { ...opts, skipChain: true }).some((i) => i.name.includes("chain"))).toBe(false);
  });
});

// ---- the host scripts, run here with real openssl ------------------------------------------------

const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

function makeCert(dir: string, name: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", `/CN=${cn}`, "-addext", `subjectAltName=DNS:${cn}`, "-keyout", key, "-out", cert], { stdio: "ignore" });
  return { cert, key };
}

function deployScript(tlsDir: string): string {
  const v = vars({ tls_dir: tlsDir, certbot_reload_services: [] });
  const tv = { fqdn: "mx1.example.test", fqdn_q: "mx1.example.test", tls_dir: tlsDir, tls_dir_q: tlsDir, services_q: "''", restart_q: "''", keep: 2 };
  return render("certbot", "mailstead-cert-deploy", { ...v, ...tv });
}

describe.skipIf(!have("openssl"))("mailstead-cert-deploy (run locally)", () => {
  it("switches to a good pair, is idempotent, refuses a mismatched key and a wrong name, keeps the old pair", () => {
    const d = mkdtempSync(join(tmpdir(), "mailstead-deploy-"));
    const tls = join(d, "tls");
    mkdirSync(join(tls, "selfsigned"), { recursive: true });
    const ss = makeCert(d, "ss", "mx1.example.test");
    writeFileSync(join(tls, "selfsigned/fullchain.pem"), readFileSync(ss.cert));
    writeFileSync(join(tls, "selfsigned/privkey.pem"), readFileSync(ss.key));
    execFileSync("sh", ["-c", `cd ${tls} && ln -s selfsigned current && ln -s current/fullchain.pem fullchain.pem && ln -s current/privkey.pem privkey.pem`]);
    const script = join(d, "deploy");
    writeFileSync(script, deployScript(tls));
    chmodSync(script, 0o755);
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(script, args, { encoding: "utf8", env: { ...process.env, ...env } });

    const a = makeCert(d, "a", "mx1.example.test");
    expect(run(["--check", a.cert, a.key]).status).toBe(1);
    const first = run([a.cert, a.key]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain("serving certificate serial");
    const served = () => readFileSync(join(tls, "fullchain.pem"), "utf8");
    expect(served()).toBe(readFileSync(a.cert, "utf8"));
    expect(readFileSync(join(tls, "privkey.pem"), "utf8")).toBe(readFileSync(a.key, "utf8"));
    expect(readlinkSync(join(tls, "current"))).toMatch(/^versions\/[0-9a-f]{16}$/);
    expect(run(["--check", a.cert, a.key]).status).toBe(0);

    // idempotent: the same pair again changes nothing
    const again = run([a.cert, a.key]);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain("already served; nothing to do");

    // a renewal whose key does not match its certificate is refused; the old pair stays
    const b = makeCert(d, "b", "mx1.example.test");
    const other = makeCert(d, "other", "mx1.example.test");
    const lineage = join(d, "live");
    mkdirSync(lineage);
    writeFileSync(join(lineage, "fullchain.pem"), readFileSync(b.cert));
    writeFileSync(join(lineage, "privkey.pem"), readFileSync(other.key));
    const refused = run([], { RENEWED_LINEAGE: lineage });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/REFUSED .*does not belong to the certificate/);
    expect(served()).toBe(readFileSync(a.cert, "utf8"));

    // a certificate for another name is refused too
    const wrong = makeCert(d, "wrong", "other.example.test");
    expect(run([wrong.cert, wrong.key]).stderr).toContain("does not name mx1.example.test");
    expect(served()).toBe(readFileSync(a.cert, "utf8"));

    // a good renewal through RENEWED_LINEAGE switches; only KEEP=2 versions are kept
    writeFileSync(join(lineage, "privkey.pem"), readFileSync(b.key));
    expect(run([], { RENEWED_LINEAGE: lineage }).status).toBe(0);
    expect(served()).toBe(readFileSync(b.cert, "utf8"));
    const c = makeCert(d, "c", "mx1.example.test");
    expect(run([c.cert, c.key]).status).toBe(0);
    expect(execFileSync("ls", [join(tls, "versions")], { encoding: "utf8" }).trim().split("\n")).toHaveLength(2);
  });
});

describe("mailstead-cert-issue's diagnosis (fake certbot)", () => {
  const PEBBLE_FAIL = [
    "Saving debug log to /var/log/letsencrypt/letsencrypt.log",
    "Requesting a certificate for mx1.example.test",
    "",
    "Certbot failed to authenticate some domains (authenticator: standalone). The Certificate Authority reported these problems:",
    "  Domain: mx1.example.test",
    "  Type:   connection",
    "  Detail: 198.51.100.99: Fetching http://mx1.example.test/.well-known/acme-challenge/abc: Connection refused",
    "",
    "Hint: The Certificate Authority failed to download the challenge files from the temporary standalone webserver started by Certbot on port 80.",
    "",
    "Some challenges have failed.",
    "Ask for help or search for solutions at https://community.letsencrypt.org. See the logfile /var/log/letsencrypt/letsencrypt.log or re-run Certbot with -v for more details.",
  ].join("\n");

  function runIssue(certbotOutput: string, extra: Partial<CertbotVars> = {}) {
    const d = mkdtempSync(join(tmpdir(), "mailstead-issue-"));
    mkdirSync(join(d, "bin"));
    writeFileSync(join(d, "out.txt"), certbotOutput);
    writeFileSync(join(d, "bin/certbot"), `#!/bin/sh\ncat ${join(d, "out.txt")}\nexit 1\n`);
    chmodSync(join(d, "bin/certbot"), 0o755);
    // The script the role really plans, from mx1's recorded fresh facts (the DNS plugin's policy added).
    const fx = loadRoleFixture("certbot", "debian12-fresh");
    const facts = { ...fx.facts, 'apt.policy:["python3-certbot-dns-rfc2136"]': { "python3-certbot-dns-rfc2136": { installed: null, candidate: "2.1.0-1" } } };
    const planned = planRole(certbot, { ...siteInput({ ...fx, vars: { ...vars(), ...fx.vars, ...extra } }), facts: lenientFacts(facts) });
    const plan = planned.steps.find((s) => s.title === "Install the certificate issuer")!;
    const text = String(plan.commands[0]!.stdin).replace(/^PATH=.*$/m, `PATH=${join(d, "bin")}:/usr/sbin:/usr/bin:/sbin:/bin`);
    writeFileSync(join(d, "issue"), text);
    chmodSync(join(d, "issue"), 0o755);
    return spawnSync(join(d, "issue"), [], { encoding: "utf8" });
  }

  it("standalone, DNS points elsewhere: names the A record and the address the CA used, keeps self-signed", () => {
    const r = runIssue(PEBBLE_FAIL);
    expect(r.status).toBe(1);
    const last = r.stderr.trim().split("\n").slice(-3).join("\n");
    expect(last).toContain("the CA connected to 198.51.100.99");
    expect(last).toContain("fix the DNS record: mx1.example.test A (and AAAA) must point at this host's public address");
    expect(last).toContain("keep the self-signed certificate");
  });

  it("dns mode: names the _acme-challenge TXT record", () => {
    const out = PEBBLE_FAIL.replace("Type:   connection", "Type:   unauthorized").replace(/Detail: .*/, "Detail: No TXT records found for DNS challenge");
    const r = runIssue(out, { certbot_mode: "dns", certbot_dns_credentials: "x = y" });
    expect(r.stderr).toContain("_acme-challenge.mx1.example.test TXT");
  });

  it("port 80 taken: says so and points to webroot", () => {
    const r = runIssue("Could not bind TCP port 80 because it is already in use by another process on this system (such as a web server).");
    expect(r.stderr).toContain("port 80 is taken by another program");
    expect(r.stderr).toContain("certbot_mode webroot");
  });
});

describe("status.ts and verify.ts judge the served certificates with the certbot role's own options", () => {
  // A host whose every port serves the certificate on disk, except 443 when told: what the
  // script would print there, port by port as the command asks.
  const fake = (stale443 = false) => {
    const cmds: string[] = [];
    const t = {
      run: async (cmd: string) => {
        cmds.push(cmd);
        const ports = [...cmd.matchAll(/127\.0\.0\.1:(\d+) /g)].map((m) => m[1]);
        const lines = ["@@disk fp=AA:BB", "@@disk end=Mar 1 00:00:00 2027 GMT", "@@disk days=80", "@@disk host=1", "@@disk verify=OK", "@@disk selfsigned=CC:DD"];
        for (const p of ports) lines.push(`@@port ${p} fp=${p === "443" && stale443 ? "EE:FF" : "AA:BB"}`, `@@port ${p} verify=Verify return code: 0 (ok)`);
        return { stdout: lines.join("\n") + "\n", stderr: "", code: 0 };
      },
    } as unknown as Transport;
    return { t, cmds };
  };
  const vars = (web: boolean) => siteVars({ base_hostname: "mx1", base_domain: "example.org", web_enabled: web });

  it("the four mail ports; with the web side on, 443 for the MTA-STS name too, named in each result", async () => {
    const off = fake();
    const mail = await certificateResults(off.t, vars(false));
    expect(off.cmds).toHaveLength(1);
    for (const p of [25, 465, 587, 993]) expect(off.cmds[0]).toContain(`127.0.0.1:${p} `);
    expect(off.cmds[0]).not.toContain("127.0.0.1:443");
    expect(mail.filter((r) => r.status !== "pass")).toEqual([]);
    expect(mail.some((r) => r.record?.includes("443"))).toBe(false);
    const on = fake();
    const both = await certificateResults(on.t, vars(true));
    expect(on.cmds).toHaveLength(2);
    expect(on.cmds[1]).toContain("127.0.0.1:443 -servername mta-sts.example.org");
    expect(both.filter((r) => r.record?.endsWith("(mta-sts.example.org)")).map((r) => [r.record, r.status])).toEqual([
      ["port 443 serves the certificate on disk (mta-sts.example.org)", "pass"],
      ["port 443 chain verifies to a trusted root (mta-sts.example.org)", "pass"],
      ["certificate names mta-sts.example.org (mta-sts.example.org)", "pass"],
    ]);
    // lighttpd not reloaded after a renewal: 443 fails with the reload to do
    const stale = await certificateResults(fake(true).t, vars(true));
    expect(stale.filter((r) => r.status === "fail")).toEqual([
      expect.objectContaining({ record: "port 443 serves the certificate on disk (mta-sts.example.org)", fix: expect.stringContaining("systemctl reload lighttpd") }),
    ]);
  });
});
