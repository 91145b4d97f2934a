/**
 * The web side on Debian 12 (mx1, example.test) and Debian 13 (mx2, example.net), as the
 * lab inventory has it (web_enabled, certbot webroot through lighttpd, Pebble certificates):
 * outsider fetches the MTA-STS policy and Thunderbird's autoconfig file with curl, trusting
 * only Pebble's root; the policy is the one whose hash dns.ts publishes as the _mta-sts id;
 * HTTP serves ACME challenges and redirects, nothing else; lighttpd runs in mail.slice and
 * its PSS is measured. (verify.ts's fetch of both files runs in tests/e2e/dns-verify.test.ts.)
 */
import { readFileSync } from "node:fs";
import { XMLParser } from "fast-xml-parser";
import YAML from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { parseZone, txtStrings, webVars } from "../../dns/records.js";
import { mtaStsId, mtaStsPolicy } from "../../roles/web/sites.js";
import { dnsZone } from "../../scripts/demo-dns.js";
import { ensureLab, labHost, sshRun, type LabState } from "../lab/index.js";
import { memReport } from "../lab/mem.js";
import { site, stepsWith } from "./helpers.js";

let lab: LabState;
const SITES = [
  { host: "mx1", domain: "example.test", release: "Debian 12" },
  { host: "mx2", domain: "example.net", release: "Debian 13" },
] as const;

const outsider = () => labHost(lab, "outsider");
const root = (host: string, cmd: string) => sshRun(labHost(lab, host), `sudo -n sh -c '${cmd.replace(/'/g, `'\\''`)}'`, { timeoutMs: 60_000 });

/** curl from outsider: the status, the headers (lowercased) and the body. Only Pebble's root is trusted. */
async function curl(url: string, extra = ""): Promise<{ status: number; headers: Record<string, string>; body: string; raw: string }> {
  const r = await sshRun(outsider(), `curl -sS --max-time 10 --cacert /tmp/pebble-root.pem -D /tmp/h.txt -o /tmp/b.txt ${extra} '${url}'; echo "rc=$?"; cat /tmp/h.txt; echo @@body; cat /tmp/b.txt`, { nothrow: true, timeoutMs: 30_000 });
  const [head = "", body = ""] = r.stdout.split("@@body\n");
  const lines = head.split(/\r?\n/);
  const status = Number(/^HTTP\/\S+ (\d{3})/m.exec(head)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    if (i > 0 && !l.startsWith("rc=")) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, body, raw: `${r.stdout}${r.stderr}` };
}

const hostVars = (name: string) => (YAML.parse(readFileSync(lab.inventory, "utf8")) as { hosts: Record<string, { vars: Record<string, unknown> }> }).hosts[name]!.vars;

beforeAll(async () => {
  lab = await ensureLab();
  const r = await site(["-i", lab.inventory, "--limit", "mail"]);
  expect(stepsWith(r, "failed"), r.stdout.slice(-3000)).toEqual([]);
  expect(r.code, r.stdout.slice(-3000)).toBe(0);
  await sshRun(outsider(), "cat > /tmp/pebble-root.pem", { input: readFileSync(lab.acme.rootCa, "utf8") });
  const missing = await sshRun(outsider(), "command -v curl", { nothrow: true });
  if (missing.exitCode !== 0) await sshRun(outsider(), "sudo -n apt-get install -y -q curl", { timeoutMs: 180_000 });
}, 900_000);

describe.each(SITES)("the web side of $domain on $host ($release)", ({ host, domain }) => {
  const fqdn = `${host}.${domain}`;

  it("serves the MTA-STS policy over HTTPS that verifies to Pebble's root, text/plain, with security headers; its hash is dns.ts's _mta-sts id", async () => {
    const r = await curl(`https://mta-sts.${domain}/.well-known/mta-sts.txt`);
    expect(r.raw).toContain("rc=0");
    expect(r.status).toBe(200);
    const want = mtaStsPolicy(webVars(hostVars(host)), { fqdn, domain });
    expect(r.body).toBe(want);
    expect(r.body).toMatch(new RegExp(`^version: STSv1\\r\\nmode: testing\\r\\nmx: ${fqdn.replace(/\./g, "\\.")}\\r\\nmax_age: 604800\\r\\n$`));
    expect(r.headers["content-type"]).toMatch(/^text\/plain/);
    expect(r.headers["strict-transport-security"]).toBe("max-age=63072000");
    expect(r.headers["content-security-policy"]).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(r.headers["referrer-policy"]).toBe("no-referrer");
    expect(r.headers.server).toBeUndefined();
    // dns.ts (from the inventory and the host's facts) publishes the hash of what was served.
    const zone = parseZone(dnsZone(lab.inventory, host));
    const txt = zone.find((e) => e.name === `_mta-sts.${domain}` && e.type === "TXT");
    expect(txtStrings(txt!.rdata).join("")).toBe(`v=STSv1; id=${mtaStsId(r.body)}`);
    expect(zone.find((e) => e.name === `mta-sts.${domain}` && e.type === "CNAME")?.rdata).toBe(`${fqdn}.`);
  });

  it("serves Thunderbird's autoconfig for the domain: IMAPS 993 and submission 465/587 on this host, the address as login", async () => {
    const r = await curl(`https://autoconfig.${domain}/mail/config-v1.1.xml?emailaddress=alice%40${domain}`);
    expect(r.status, r.raw).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/xml/);
    const p = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (n) => n.endsWith("Server") }).parse(r.body).clientConfig.emailProvider;
    expect(p["@id"]).toBe(domain);
    const servers = [...p.incomingServer, ...p.outgoingServer].map((s: { hostname: string; port: number; socketType: string; username: string }) => `${s.hostname}:${s.port}/${s.socketType}/${s.username}`);
    expect(servers).toEqual([`${fqdn}:993/SSL/%EMAILADDRESS%`, `${fqdn}:465/SSL/%EMAILADDRESS%`, `${fqdn}:587/STARTTLS/%EMAILADDRESS%`]);
  });

  it("answers over HTTP/1.1 only (no h2 in ALPN), and answers Outlook's autodiscover POST (either path case) and serves alice's Apple profile, without a password", async () => {
    const alpn = await sshRun(outsider(), `timeout 10 openssl s_client -connect ${fqdn}:443 -servername ${fqdn} -alpn h2,http/1.1 </dev/null 2>&1 | grep -i '^ALPN'`, { nothrow: true });
    expect(alpn.stdout).not.toMatch(/h2/);
    const body = `<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@${domain}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`;
    for (const path of ["/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"]) {
      const r = await curl(`https://autodiscover.${domain}${path}`, `-X POST -H 'Content-Type: text/xml' --data-binary '${body}'`);
      expect(r.status, r.raw).toBe(200);
      const acc = new XMLParser({ isArray: (n) => n === "Protocol" }).parse(r.body).Autodiscover.Response.Account;
      expect(acc.Protocol.map((p: { Type: string; Server: string; Port: number }) => `${p.Type} ${p.Server}:${p.Port}`)).toEqual([`IMAP ${fqdn}:993`, `SMTP ${fqdn}:465`]);
    }
    const users = (hostVars(host).mailbox_users as { name: string }[] | undefined) ?? [];
    expect(users.length, "the lab inventory has mailboxes on this host").toBeGreaterThan(0);
    const user = users[0]!.name;
    const p = await curl(`https://autoconfig.${domain}/apple/${user}.mobileconfig`);
    expect(p.status, p.raw).toBe(200);
    expect(p.headers["content-type"]).toBe("application/x-apple-aspen-config");
    expect(p.body).toContain(`<key>EmailAddress</key><string>${user}@${domain}</string>`);
    expect(p.body).not.toMatch(/<key>(Incoming|Outgoing)Password<\/key>/);
    expect((await curl(`https://autoconfig.${domain}/apple/nobody-here.mobileconfig`)).status).toBe(404);
  });

  it("HTTP: ACME challenges from certbot's webroot, 308 to HTTPS for our names, 404 for any other name", async () => {
    const token = `t${Date.now()}`;
    await root(host, `echo ${token}-ok > /var/lib/mailstead/acme-webroot/.well-known/acme-challenge/${token}`);
    try {
      const acme = await curl(`http://mta-sts.${domain}/.well-known/acme-challenge/${token}`);
      expect(acme.status, acme.raw).toBe(200);
      expect(acme.body.trim()).toBe(`${token}-ok`);
    } finally {
      await root(host, `rm -f /var/lib/mailstead/acme-webroot/.well-known/acme-challenge/${token}`);
    }
    for (const name of [fqdn, `mta-sts.${domain}`, `autoconfig.${domain}`, `autodiscover.${domain}`]) {
      const r = await curl(`http://${name}/some/path?x=1`);
      expect(r.status, r.raw).toBe(308);
      expect(r.headers.location).toBe(`https://${name}/some/path?x=1`);
    }
    const other = await curl(`http://${fqdn}/x`, `-H 'Host: evil.example'`);
    expect(other.status, other.raw).toBe(404);
    const otherTls = await curl(`https://mta-sts.${domain}/.well-known/mta-sts.txt`, `-H 'Host: evil.example'`);
    expect(otherTls.status, otherTls.raw).toBe(404);
  });

  it("every web name is on the certificate 443 serves, and TLS below 1.2 is refused", async () => {
    const names = [`mta-sts.${domain}`, `autoconfig.${domain}`, `autodiscover.${domain}`, fqdn];
    const script = names
      .map((n) => `echo "@@${n} $(timeout 10 openssl s_client -connect ${fqdn}:443 -servername ${n} -verify_hostname ${n} -CAfile /tmp/pebble-root.pem -brief </dev/null 2>&1 | grep -c '^Verification: OK')"`)
      .concat(`echo "@@tls11 $(timeout 10 openssl s_client -connect ${fqdn}:443 -tls1_1 </dev/null 2>&1 | grep -c '^New, TLS')"`)
      .join("\n");
    const r = await sshRun(outsider(), script, { nothrow: true, timeoutMs: 60_000 });
    for (const n of names) expect(r.stdout, n).toContain(`@@${n} 1`);
    expect(r.stdout).toContain("@@tls11 0");
  });

  it("a reload (a package's postinst, logrotate, an operator) never takes the site down: lighttpd restarts as root and serves on", async () => {
    // Debian's own reload (SIGUSR1) re-read the certificate as www-data and exited 255; the site
    // was down for Restart='s 5 s (seen in CI during the restore's converge).
    const before = await root(host, "systemctl show -P NRestarts lighttpd; systemctl show -P MainPID lighttpd; date '+%Y-%m-%d %H:%M:%S'");
    const [restarts, pid, since] = before.stdout.trim().split("\n");
    expect((await root(host, "systemctl reload lighttpd && echo reloaded")).stdout.trim()).toBe("reloaded");
    // the restart follows the reload 2 s later (a transient timer): wait for a new main process
    let now = { pid, state: "" };
    for (let i = 0; i < 40 && !(now.pid !== pid && now.pid !== "0" && now.state === "active"); i++) {
      await new Promise((r) => setTimeout(r, 250));
      const [p2, st] = (await root(host, "systemctl show -P MainPID lighttpd; systemctl is-active lighttpd || true")).stdout.trim().split("\n");
      now = { pid: p2 ?? "", state: st ?? "" };
    }
    expect(now.state, "lighttpd active after the reload").toBe("active");
    expect(now.pid, "the reload restarted lighttpd (a new main process)").not.toBe(pid);
    const r = await curl(`https://mta-sts.${domain}/.well-known/mta-sts.txt`);
    expect(r.status, r.raw).toBe(200);
    const after = await root(host, `systemctl show -P NRestarts lighttpd; journalctl -u lighttpd --since '${since}' --no-pager -o cat | grep -c -e 'Failed with result' -e 'status=255' || true`);
    // no automatic restart (NRestarts counts only those) and no failure in the journal
    expect(after.stdout.trim().split("\n"), after.stdout).toEqual([restarts, "0"]);
  });

  it("lighttpd runs in mail.slice; its idle PSS is measured", async () => {
    const slice = await root(host, "systemctl show -p Slice --value lighttpd");
    expect(slice.stdout.trim()).toBe("mail.slice");
    const m = await memReport(labHost(lab, host));
    const u = m.units.find((x) => x.unit === "lighttpd.service");
    expect(u, JSON.stringify(m.units)).toBeDefined();
    console.log(`${host}: lighttpd.service PSS ${(u!.pssKiB / 1024).toFixed(2)} MiB in ${u!.processes} process(es)`);
    // Measured 3.1-3.9 MiB (Debian 12) and 4.9 MiB (Debian 13), most of it libcrypto/libssl pages (docs/web.md).
    expect(u!.pssKiB).toBeLessThan(6 * 1024);
  });
});
