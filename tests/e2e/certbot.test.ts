/**
 * Issue 5, certificates, on mx1 against the lab's Pebble (real HTTP-01 and
 * DNS-01 validation through the lab's Knot), through the real CLI:
 * standalone, dns (RFC 2136 with the lab's acme-key) and webroot each obtain a
 * certificate that 25/465/587/993 serve ("Verification: OK" from outsider with
 * Pebble's root); a second converge changes nothing and leaves certbot's
 * renewal configuration byte-identical; a forced renewal (with the timer's
 * environment) changes the served serial on all four ports; a renewal whose
 * key does not match is refused and the old certificate stays served; files
 * mode serves replaced files within 10 s; a first issuance while DNS points
 * elsewhere is a warning naming the record, and the converge goes on with the
 * self-signed certificate. Debian 13 (mx2: certbot 4, Dovecot 2.4) gets one too.
 * At the end mx1 (and mx2's firewall and certbot roles) are converged back to
 * the lab inventory's certificate mode and the DNS record is restored.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLab, labHost, labSecrets, lookup, setRecord, sshRun, type LabHost, type LabState } from "../lab/index.js";
import { ROOT, site, stepsWith, type CliRun } from "./helpers.js";

const NAME = "mx1.example.test";
const PORTS: { port: number; starttls?: string }[] = [{ port: 25, starttls: "smtp" }, { port: 465 }, { port: 587, starttls: "smtp" }, { port: 993 }];
const LIVE = `/etc/letsencrypt/live/${NAME}`;
const RENEWAL = `/etc/letsencrypt/renewal/${NAME}.conf`;
const NPM = "/opt/npm-sim/letsencrypt"; // a stand-in for Nginx Proxy Manager's own certbot directory

let lab: LabState;
let mx1: LabHost;
let outsider: LabHost;
let bundle: string;
let dnsCredentials: string;
let labHasCertbot = false;
const timings: Record<string, number> = {};

const root = (cmd: string, nothrow = false, timeoutMs = 300_000) => sshRun(mx1, `sudo sh -c ${JSON.stringify(cmd)}`, { nothrow, timeoutMs });

/**
 * The lab inventory with only one host (mx1 unless said) and these vars (plus a secrets file when given).
 * The web side is off unless said: standalone and the webroot test's own web server need port 80.
 */
function inventory(vars: Record<string, unknown>, secrets?: Record<string, unknown>, host = "mx1"): string {
  const inv = YAML.parse(readFileSync(lab.inventory, "utf8"));
  inv.hosts = { [host]: { ...inv.hosts[host], vars: { ...inv.hosts[host].vars, web_enabled: false, webmail_enabled: false, ...vars } } };
  inv.groups = {};
  const dir = mkdtempSync(join(tmpdir(), "mailstead-certbot-"));
  const file = join(dir, "certbot.yml");
  writeFileSync(file, YAML.stringify(inv));
  // The lab's own secrets (the backup's) too, as beside the lab inventory.
  writeFileSync(join(dir, "certbot.secrets.yml"), YAML.stringify({ vars: labSecrets(), hosts: { [host]: secrets ?? {} } }), { mode: 0o600 });
  return file;
}

/** A lab host's own vars in the lab inventory (the web side's switch among them). */
const labVars = (host: string): Record<string, unknown> => ({ web_enabled: false, webmail_enabled: false, ...YAML.parse(readFileSync(lab.inventory, "utf8")).hosts[host].vars });

const pebble = () => ({ certbot_server: lab.acme.directory, certbot_ca_bundle: bundle });

async function converge(label: string, vars: Record<string, unknown>, secrets?: Record<string, unknown>): Promise<CliRun> {
  const r = await site(["-i", inventory(vars, secrets), "--limit", "mx1"]);
  timings[label] = r.seconds;
  return r;
}

/** Serial and verification of the certificate each port serves, seen from outsider with Pebble's root. */
async function served(): Promise<Record<number, { serial: string; verified: boolean; issuer: string }>> {
  const script = PORTS.map(({ port, starttls }) => {
    const st = starttls ? `-starttls ${starttls} ` : "";
    return (
      `o=$(timeout 15 openssl s_client -connect ${mx1.address}:${port} ${st}-servername ${NAME} -verify_hostname ${NAME} -CAfile /tmp/pebble-root.pem -brief </dev/null 2>&1; ` +
      `timeout 15 openssl s_client -connect ${mx1.address}:${port} ${st}-servername ${NAME} </dev/null 2>/dev/null | openssl x509 -noout -serial -issuer 2>/dev/null); ` +
      `echo "@@${port} $(printf '%s\\n' "$o" | grep -c '^Verification: OK') $(printf '%s\\n' "$o" | grep '^serial=' | cut -d= -f2) $(printf '%s\\n' "$o" | grep '^issuer=' | tr ' ' _)"`
    );
  }).join("\n");
  const r = await sshRun(outsider, script, { nothrow: true, timeoutMs: 120_000 });
  const out: Record<number, { serial: string; verified: boolean; issuer: string }> = {};
  for (const m of r.stdout.matchAll(/^@@(\d+) (\d+) (\S*) ?(\S*)$/gm)) out[Number(m[1])] = { verified: m[2] === "1", serial: m[3]!, issuer: m[4]! };
  return out;
}

const diskSerial = async () => (await root("openssl x509 -in /etc/mailstead/tls/fullchain.pem -noout -serial")).stdout.trim().replace(/^serial=/, "");

async function expectServedEverywhere(label: string): Promise<string> {
  const s = await served();
  const disk = await diskSerial();
  for (const { port } of PORTS) {
    expect(s[port], `${label}: port ${port}: ${JSON.stringify(s)}`).toMatchObject({ verified: true, serial: disk });
    expect(s[port]!.issuer, `${label}: port ${port}`).toMatch(/Pebble/);
  }
  return disk;
}

function expectClean(r: CliRun): void {
  expect(stepsWith(r, "failed"), r.stdout + r.stderr).toEqual([]);
  expect(stepsWith(r, "warning"), r.stdout).toEqual([]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

beforeAll(async () => {
  lab = await ensureLab();
  mx1 = labHost(lab, "mx1");
  outsider = labHost(lab, "outsider");
  // Pebble's HTTPS CA (for certbot) and its issuing root (for the chain checks): the lab's trust bundle.
  bundle = `${readFileSync(lab.acme.serverCa, "utf8").trim()}\n${readFileSync(lab.acme.rootCa, "utf8").trim()}\n`;
  await sshRun(outsider, "cat > /tmp/pebble-root.pem", { input: readFileSync(lab.acme.rootCa, "utf8") });
  const k = lab.dns.tsig.acme;
  dnsCredentials = [
    `dns_rfc2136_server = ${lab.dns.server}`,
    `dns_rfc2136_port = ${lab.dns.port}`,
    `dns_rfc2136_name = ${k.name}`,
    `dns_rfc2136_secret = ${k.secret}`,
    `dns_rfc2136_algorithm = ${k.algorithm.toUpperCase()}`,
  ].join("\n");
  labHasCertbot = /certbot_mode/.test(readFileSync(lab.inventory, "utf8"));
}, 300_000);

afterAll(async () => {
  if (!lab) return;
  // DNS back to the lab's record, the web server of the webroot test gone, mx1 back to the lab inventory's mode.
  await setRecord(NAME, "A", [mx1.address]).catch(() => {});
  await root("systemctl stop mailstead-test-web 2>/dev/null; true", true).catch(() => {});
  // the Nginx Proxy Manager stand-in, its TSIG credentials and the simulated bad renewal
  await root("rm -rf /opt/npm-sim /root/npm-rfc2136.ini /root/bad-lineage /tmp/npm-work /tmp/npm-logs", true).catch(() => {});
  const r = await site(["-i", inventory({ ...labVars("mx1"), ...(labHasCertbot ? {} : { certbot_mode: "none" }) }), "--limit", "mx1"]);
  // mx2: back to the lab inventory's settings for the roles this file touched there
  const r2 = await site(["-i", inventory(labVars("mx2"), undefined, "mx2"), "--limit", "mx2", "--tags", "firewall,web,certbot"]);
  expect(stepsWith(r2, "failed"), r2.stdout).toEqual([]);
  console.log(`certbot e2e timings (s): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Number(v.toFixed(1))])))}; restore ${r.seconds.toFixed(1)}`);
  expect(stepsWith(r, "failed"), r.stdout).toEqual([]);
}, 600_000);

describe("certbot against Pebble on mx1", () => {
  let renewalBefore = "";

  it("standalone: gets a certificate for mx1.example.test; 25/465/587/993 serve it (Verification: OK); port 80 opened", async () => {
    // From a clean slate: no lineage, the self-signed pair served.
    expectClean(await converge("none", { certbot_mode: "none" }));
    const r = await converge("standalone first", { certbot_mode: "standalone", ...pebble() });
    expectClean(r);
    expect(stepsWith(r, "changed")).toEqual(expect.arrayContaining([`mx1 certbot: Get a certificate for ${NAME} (standalone)`]));
    await expectServedEverywhere("standalone");
    const nft = await root("nft list table inet mailstead");
    expect(nft.stdout).toMatch(/tcp dport .*\b80\b/);
    const verify = r.report.steps.filter((s) => s.role === "certbot" && s.kind === "verify");
    expect(verify.length).toBeGreaterThanOrEqual(11);
    expect(verify.filter((s) => s.status !== "ok")).toEqual([]);
    const conf = (await root(`cat ${RENEWAL}`)).stdout;
    expect(conf).toContain("authenticator = standalone");
    expect(conf).toContain("renew_hook = /usr/local/sbin/mailstead-cert-deploy");
    expect(conf).toContain("key_type = ecdsa");
    expect((await root(`openssl x509 -in ${LIVE}/cert.pem -noout -text`)).stdout).toMatch(/ASN1 OID: prime256v1/);
  }, 600_000);

  it("a second converge changes nothing and leaves the renewal configuration byte-identical", async () => {
    renewalBefore = (await root(`sha256sum ${RENEWAL}; stat -c %Y ${RENEWAL}`)).stdout;
    const r = await converge("standalone second", { certbot_mode: "standalone", ...pebble() });
    expectClean(r);
    expect(stepsWith(r, "changed")).toEqual([]);
    expect(r.stdout).toMatch(/^mx1\s+ok=\d+ changed=0 failed=0 skipped=\d+$/m);
    expect((await root(`sha256sum ${RENEWAL}; stat -c %Y ${RENEWAL}`)).stdout).toBe(renewalBefore);
  }, 600_000);

  it("verify.ts judges the served certificate: every certificate check passes on mx1", async () => {
    const v = spawnSync(process.execPath, ["--import", "tsx", "playbooks/verify.ts", "-i", inventory({ certbot_mode: "standalone", ...pebble() }), "--limit", "mx1", "--resolver", "198.51.100.1", "--no-outbound", "--json"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 180_000,
    });
    const j = JSON.parse(v.stdout) as { results: { check: string; record: string; status: string; detail: string }[] };
    const certs = j.results.filter((x) => x.check === "certificate");
    // 4 ports x (served = on disk, chain verifies) + names the host + days left
    expect(certs.length, v.stdout + v.stderr).toBe(10);
    expect(certs.filter((x) => x.status !== "pass"), v.stdout).toEqual([]);
  }, 300_000);

  it("a forced renewal with the timer's environment changes the served serial on all four ports", async () => {
    const before = await expectServedEverywhere("before renewal");
    const env = (await root("systemctl show -p Environment --value certbot.service")).stdout.trim();
    expect(env).toContain("REQUESTS_CA_BUNDLE=/etc/mailstead/certbot/ca-bundle.pem");
    const t0 = performance.now();
    // Through python only to read the renewal's peak memory (certbot is no daemon: it costs memory only while it runs).
    const renew = `env ${env} certbot renew --force-renewal --no-random-sleep-on-renew --cert-name ${NAME}`;
    const r = await root(`python3 -c 'import resource,subprocess,sys; p=subprocess.run(sys.argv[1], shell=True, stderr=subprocess.STDOUT); print("maxrss_kb=%d" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)' '${renew}'`);
    timings["forced renewal"] = (performance.now() - t0) / 1000;
    timings["forced renewal peak RSS MiB"] = Number(/maxrss_kb=(\d+)/.exec(r.stdout)?.[1] ?? 0) / 1024;
    expect(r.stdout).toMatch(/success/i);
    const after = await expectServedEverywhere("after renewal");
    expect(after).not.toBe(before);
    const log = await root("journalctl -t mailstead-cert --no-pager -n 20");
    expect(log.stdout).toContain(`serving certificate serial ${after}`);
    expect(log.stdout).toMatch(/reloaded postfix[\s\S]*reloaded dovecot/);
  }, 600_000);

  it("a renewal whose key does not match its certificate is refused by the hook; the old certificate stays served", async () => {
    const before = await expectServedEverywhere("before bad renewal");
    // What certbot hands the deploy hook, with a key that is not the certificate's.
    await root(`rm -rf /root/bad-lineage && mkdir -p /root/bad-lineage && cp -L ${LIVE}/fullchain.pem /root/bad-lineage/ && openssl ecparam -name prime256v1 -genkey -noout -out /root/bad-lineage/privkey.pem`);
    const r = await root(`RENEWED_LINEAGE=/root/bad-lineage RENEWED_DOMAINS=${NAME} /usr/local/sbin/mailstead-cert-deploy`, true);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/REFUSED .*does not belong to the certificate/);
    expect((await root("journalctl -t mailstead-cert --no-pager -n 5")).stdout).toContain("REFUSED");
    expect(await expectServedEverywhere("after bad renewal")).toBe(before);
  }, 300_000);

  it("dns (RFC 2136, TSIG): the settings change replaces the certificate through DNS-01; port 80 closed again; second run changed=0", async () => {
    const before = await diskSerial();
    const vars = { certbot_mode: "dns", certbot_dns_plugin: "rfc2136", certbot_dns_propagation_seconds: 0, certbot_reuse_key: true, ...pebble() };
    const r = await converge("dns first", vars, { certbot_dns_credentials: dnsCredentials });
    expectClean(r);
    // the TSIG secret never shows
    expect(r.stdout + r.stderr + JSON.stringify(r.report)).not.toContain(lab.dns.tsig.acme.secret);
    const after = await expectServedEverywhere("dns");
    expect(after).not.toBe(before);
    const conf = (await root(`cat ${RENEWAL}`)).stdout;
    expect(conf).toContain("authenticator = dns-rfc2136");
    expect((await root("stat -c '%a %U' /etc/mailstead/certbot/dns-rfc2136.ini")).stdout.trim()).toBe("600 root");
    expect((await root("nft list table inet mailstead")).stdout).not.toMatch(/tcp dport .*\b80\b/);
    const again = await converge("dns second", vars, { certbot_dns_credentials: dnsCredentials });
    expectClean(again);
    expect(stepsWith(again, "changed")).toEqual([]);
    // certbot_reuse_key: a renewal (DNS-01 through the saved settings) keeps the key, so a DANE TLSA 3 1 1 record stays valid.
    expect(conf).toContain("reuse_key = True");
    const spki = async () => (await root("openssl x509 -in /etc/mailstead/tls/fullchain.pem -noout -pubkey | sha256sum")).stdout;
    const keyBefore = await spki();
    await root(`env REQUESTS_CA_BUNDLE=/etc/mailstead/certbot/ca-bundle.pem certbot renew --force-renewal --no-random-sleep-on-renew --cert-name ${NAME} 2>&1`);
    expect(await expectServedEverywhere("dns renewal")).not.toBe(after);
    expect(await spki()).toBe(keyBefore);
  }, 600_000);

  it("webroot: a web server that owns port 80 serves the challenge from the webroot", async () => {
    const before = await diskSerial();
    await root("mkdir -p /var/lib/mailstead/acme-webroot && systemd-run --unit=mailstead-test-web --collect python3 -m http.server 80 --bind 0.0.0.0 --directory /var/lib/mailstead/acme-webroot");
    try {
      // and the RSA option: the key type change replaces the certificate too
      const r = await converge("webroot", { certbot_mode: "webroot", certbot_key_type: "rsa", firewall_extra_tcp_ports: [80], ...pebble() });
      expectClean(r);
      expect(await expectServedEverywhere("webroot")).not.toBe(before);
      expect((await root("openssl x509 -in /etc/mailstead/tls/fullchain.pem -noout -text")).stdout).toMatch(/Public-Key: \(2048 bit\)[\s\S]*rsaEncryption|rsaEncryption[\s\S]*Public-Key: \(2048 bit\)/);
      expect((await root(`cat ${RENEWAL}`)).stdout).toContain(`${NAME} = /var/lib/mailstead/acme-webroot`);
    } finally {
      await root("systemctl stop mailstead-test-web", true);
    }
  }, 600_000);

  it("files: certificates managed elsewhere are served, and replacing them reaches every port within 10 s", async () => {
    // Nginx Proxy Manager keeps its own certbot tree; stand one up with the lab's DNS-01 key.
    const npmCertbot = `env REQUESTS_CA_BUNDLE=/etc/mailstead/certbot/ca-bundle.pem certbot --config-dir ${NPM} --work-dir /tmp/npm-work --logs-dir /tmp/npm-logs`;
    await root(`rm -rf ${NPM} /opt/npm-sim/copy && mkdir -p ${NPM}`);
    await sshRun(mx1, "sudo sh -c 'umask 077; cat > /root/npm-rfc2136.ini'", { input: `${dnsCredentials}\n` });
    const get = await root(
      `${npmCertbot} certonly -n --agree-tos --register-unsafely-without-email --server ${lab.acme.directory} --cert-name npm-1 -d ${NAME} ` +
        `--authenticator dns-rfc2136 --dns-rfc2136-credentials /root/npm-rfc2136.ini --dns-rfc2136-propagation-seconds 0 2>&1`,
    );
    expect(get.stdout).toMatch(/Successfully received certificate/);
    const files = { certbot_mode: "files", certbot_files_fullchain: `${NPM}/live/npm-1/fullchain.pem`, certbot_files_privkey: `${NPM}/live/npm-1/privkey.pem`, ...pebble() };
    const r = await converge("files", files);
    expectClean(r);
    const first = await expectServedEverywhere("files");
    expect(first).toBe((await root(`openssl x509 -in ${NPM}/live/npm-1/cert.pem -noout -serial`)).stdout.trim().replace(/^serial=/, ""));
    expect((await root("systemctl is-active mailstead-cert-files.path")).stdout.trim()).toBe("active");
    // certbot's own lineage is no longer renewed (its hook would re-point the services)
    expect((await root(`test -e ${RENEWAL} && echo present || echo gone`)).stdout.trim()).toBe("gone");

    // NPM renews: new files behind the same paths (certbot re-points the live symlinks).
    await root(`${npmCertbot} renew --force-renewal --no-random-sleep-on-renew --cert-name npm-1 2>&1`);
    const want = (await root(`openssl x509 -in ${NPM}/live/npm-1/cert.pem -noout -serial`)).stdout.trim().replace(/^serial=/, "");
    expect(want).not.toBe(first);
    const t0 = performance.now();
    let s = await served();
    while (!PORTS.every(({ port }) => s[port]?.serial === want) && performance.now() - t0 < 15_000) {
      await new Promise((res) => setTimeout(res, 500));
      s = await served();
    }
    const seconds = (performance.now() - t0) / 1000;
    timings["files: replaced -> served on all ports"] = seconds;
    for (const { port } of PORTS) expect(s[port], `port ${port}`).toMatchObject({ serial: want, verified: true });
    expect(seconds).toBeLessThanOrEqual(10);

    // Plain copies over the files (certificate first, the key a moment later) work too.
    const third = await root(
      `${npmCertbot} certonly -n --agree-tos --register-unsafely-without-email --server ${lab.acme.directory} --cert-name npm-2 -d ${NAME} ` +
        `--authenticator dns-rfc2136 --dns-rfc2136-credentials /root/npm-rfc2136.ini --dns-rfc2136-propagation-seconds 0 2>&1 && openssl x509 -in ${NPM}/live/npm-2/cert.pem -noout -serial`,
    );
    const want3 = /serial=(\S+)/.exec(third.stdout)![1]!;
    const files2 = { ...files, certbot_files_fullchain: "/opt/npm-sim/copy/fullchain.pem", certbot_files_privkey: "/opt/npm-sim/copy/privkey.pem" };
    await root(`mkdir -p /opt/npm-sim/copy && cp -L ${NPM}/live/npm-1/fullchain.pem ${NPM}/live/npm-1/privkey.pem /opt/npm-sim/copy/`);
    expectClean(await converge("files (copies)", files2));
    const t1 = performance.now();
    await root(`cp -L ${NPM}/live/npm-2/fullchain.pem /opt/npm-sim/copy/fullchain.pem && sleep 1 && cp -L ${NPM}/live/npm-2/privkey.pem /opt/npm-sim/copy/privkey.pem`);
    s = await served();
    while (!PORTS.every(({ port }) => s[port]?.serial === want3) && performance.now() - t1 < 15_000) {
      await new Promise((res) => setTimeout(res, 500));
      s = await served();
    }
    timings["files (copies): replaced -> served"] = (performance.now() - t1) / 1000;
    for (const { port } of PORTS) expect(s[port], `port ${port}`).toMatchObject({ serial: want3, verified: true });
    expect((performance.now() - t1) / 1000).toBeLessThanOrEqual(10);
  }, 600_000);

  it("Debian 13 (mx2, certbot 4, Dovecot 2.4): standalone gets a certificate served on all four ports; a second run changes nothing", async () => {
    const mx2 = labHost(lab, "mx2");
    await sshRun(outsider, "cat > /tmp/pebble-root.pem", { input: readFileSync(lab.acme.rootCa, "utf8") });
    const inv = inventory({ certbot_mode: "standalone", ...pebble() }, undefined, "mx2");
    const first = await site(["-i", inv, "--limit", "mx2", "--tags", "firewall,web,certbot"]);
    timings["mx2 standalone"] = first.seconds;
    expectClean(first);
    const second = await site(["-i", inv, "--limit", "mx2", "--tags", "firewall,web,certbot"]);
    expectClean(second);
    expect(stepsWith(second, "changed")).toEqual([]);
    const script = PORTS.map(({ port, starttls }) =>
      `echo "@@${port} $(timeout 15 openssl s_client -connect ${mx2.address}:${port} ${starttls ? `-starttls ${starttls} ` : ""}-servername mx2.example.net -verify_hostname mx2.example.net -CAfile /tmp/pebble-root.pem -brief </dev/null 2>&1 | grep -c '^Verification: OK')"`,
    ).join("\n");
    const r = await sshRun(outsider, script, { nothrow: true, timeoutMs: 120_000 });
    for (const { port } of PORTS) expect(r.stdout, `mx2 port ${port}`).toContain(`@@${port} 1`);
  }, 600_000);

  it("first issuance while DNS points elsewhere: a WARNING naming the record, the converge goes on with the self-signed certificate", async () => {
    // A fresh host: no lineage, the self-signed pair served.
    expectClean(await converge("none again", { certbot_mode: "none" }));
    // A new ACME account, so the CA must validate again. Pebble reuses a valid authorization of
    // the same account 1 time in 100 even with PEBBLE_AUTHZREUSE=0 (wfe.go makeAuthorizations:
    // `rand.Intn(100) > authzReusePercent`); that issued a certificate here in a clean-clone CI.
    await root("rm -rf /etc/letsencrypt/accounts");
    await setRecord(NAME, "A", ["198.51.100.99"]);
    try {
      expect(await lookup(NAME, "A")).toEqual(["198.51.100.99"]);
      const r = await converge("dns not pointing", { certbot_mode: "standalone", ...pebble() });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(stepsWith(r, "failed")).toEqual([]);
      const warned = r.report.steps.filter((s) => s.status === "warning");
      const issue = warned.find((s) => s.title.startsWith("Get a certificate"));
      expect(issue?.warning, r.stdout).toContain(`fix the DNS record: ${NAME} A (and AAAA) must point at this host's public address`);
      expect(issue?.warning).toContain("198.51.100.99");
      expect(r.stdout).toMatch(/^mx1\s+ok=\d+ changed=\d+ failed=0 skipped=\d+ warnings=\d+$/m);
      expect(r.stdout).toContain(`WARNING [mx1] certbot: Get a certificate for ${NAME}`);
      // every later role ran and verified
      expect(r.report.steps.some((s) => s.role === "dovecot" && s.kind === "verify" && s.status === "ok")).toBe(true);
      // the chain check only warns while the self-signed stand-in is served
      expect(warned.some((s) => s.title === "verify: port 993 chain verifies to a trusted root")).toBe(true);
      const ss = (await root("openssl x509 -in /etc/mailstead/tls/selfsigned/fullchain.pem -noout -serial")).stdout.trim().replace(/^serial=/, "");
      const s = await served();
      for (const { port } of PORTS) expect(s[port], `port ${port}`).toMatchObject({ serial: ss, verified: false });
    } finally {
      await setRecord(NAME, "A", [mx1.address]);
    }
    // DNS fixed: the next converge gets the certificate without anything else.
    const fixed = await converge("dns fixed", { certbot_mode: "standalone", ...pebble() });
    expectClean(fixed);
    await expectServedEverywhere("after DNS fixed");
  }, 600_000);
});
