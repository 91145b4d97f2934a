/**
 * playbooks/dns.ts and playbooks/verify.ts against the lab DNS: the records
 * dns.ts prints, loaded into Knot, make verify.ts pass; each record broken on
 * purpose makes it fail naming that record. Every change is undone (afterAll).
 */
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteRecord, ensureLab, labHost, lookup, setRecord, sshRun, type LabState } from "../lab/index.js";
import { dnsLabVars, LAB_DNSBL, LAB_RESOLVER, publishDns, type DnsSnapshot } from "./dns-lab.js";
import { playbook, site, stepsWith } from "./helpers.js";
import { testUsers, writeMailInventory, type MailInventory } from "./mail-inventory.js";

let lab: LabState;
let inv: MailInventory;
let snap: DnsSnapshot | undefined;
let zone = "";
const PTR = "10.100.51.198.in-addr.arpa";

interface VerifyJson {
  results: { host: string; check: string; record: string; status: string; detail: string; fix?: string }[];
  pass: number;
  warn: number;
  fail: number;
}

const cli = playbook;

async function verify(limit = "mx1"): Promise<{ code: number | null; json: VerifyJson; raw: string }> {
  const t0 = performance.now();
  const r = await cli("playbooks/verify.ts", ["-i", inv.path, "--limit", limit, "--resolver", LAB_RESOLVER, "--no-certificates", "--json"]);
  console.log(`verify.ts --limit ${limit}: exit ${r.code} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    return { code: r.code, json: JSON.parse(r.stdout) as VerifyJson, raw: r.stdout + r.stderr };
  } catch {
    throw new Error(`verify.ts printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

const failing = (j: VerifyJson) => j.results.filter((r) => r.status === "fail").map((r) => `${r.check} ${r.record}`);

beforeAll(async () => {
  lab = await ensureLab();
  inv = writeMailInventory(lab, testUsers(), { extra: { mx1: dnsLabVars, mx2: dnsLabVars } });
  // What verify needs on the hosts: the DKIM key (opendkim role) and, for the outbound check,
  // Postfix answering on mx2's port 25: the whole site, so this file does not depend on
  // another having converged the hosts first (a fresh lab failed outbound-25 otherwise).
  const conv = await site(["-i", inv.path, "--limit", "mail"]);
  expect(stepsWith(conv, "failed"), conv.stdout.slice(-2000)).toEqual([]);
  const p = await publishDns(inv.path, lab);
  snap = p.snap;
  zone = p.zone;
});

afterAll(async () => {
  await setRecord(PTR, "PTR", ["mx1.example.test."], { state: lab }).catch((e) => console.log(`PTR restore: ${e}`));
  await deleteRecord(`10.100.51.198.${LAB_DNSBL}`, "A", { state: lab }).catch((e) => console.log(`DNSBL cleanup: ${e}`));
  await snap?.restore();
});

describe("dns.ts and verify.ts against the lab DNS", () => {
  it("dns.ts prints every record, the DKIM key split into ≤ 255-byte strings; table and json formats too", async () => {
    expect(zone).toMatch(/^mx1\.example\.test\.\t\d+\tIN\tA\t198\.51\.100\.10$/m);
    expect(zone).toMatch(/^example\.test\.\t\d+\tIN\tMX\t10 mx1\.example\.test\.$/m);
    expect(zone).toMatch(/^example\.test\.\t\d+\tIN\tTXT\t"v=spf1 mx -all"$/m);
    expect(zone).toMatch(/^_dmarc\.example\.test\.\t\d+\tIN\tTXT\t"v=DMARC1; p=quarantine; rua=mailto:postmaster@example\.test"$/m);
    expect(zone).toMatch(/^; ask your provider for: 10\.100\.51\.198\.in-addr\.arpa\.\t\d+\tIN\tPTR\tmx1\.example\.test\.$/m);
    const dkim = /^mail\._domainkey\.example\.test\.\t\d+\tIN\tTXT\t(.+)$/m.exec(zone)?.[1];
    expect(dkim).toBeDefined();
    const parts = [...dkim!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(255);
    // What Knot serves now is what dns.ts printed (the strings joined).
    expect((await lookup("mail._domainkey.example.test", "TXT", lab)).join("").replace(/"\s*"/g, "").replace(/"/g, "")).toBe(parts.join(""));
    const table = await cli("playbooks/dns.ts", ["-i", inv.path, "--limit", "mx1", "--format", "table"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^_dmarc\.example\.test\s+TXT\s+3600\s+"v=DMARC1/m);
    const json = await cli("playbooks/dns.ts", ["-i", inv.path, "--limit", "mx1", "--format", "json"]);
    const j = JSON.parse(json.stdout) as { host: string; records: { name: string; type: string }[] }[];
    expect(j[0]!.records.some((r) => r.type === "PTR")).toBe(true);
  });

  it("the published records make verify.ts pass (exit 0) on both hosts", async () => {
    const r = await verify("mail");
    expect(failing(r.json), r.raw).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.json.warn, r.raw).toBe(0);
    for (const c of ["address", "ptr", "mx", "spf", "dkim", "dmarc", "dnsbl", "outbound-25"]) {
      expect(r.json.results.some((x) => x.check === c && x.status === "pass" && x.host === "mx1"), `${c} on mx1\n${r.raw}`).toBe(true);
    }
    // The web side (both hosts): the _mta-sts id, the name, the policy fetched over verified HTTPS
    // and every MX in it; the autoconfig file fetched as a client does.
    for (const host of ["mx1", "mx2"]) {
      const web = r.json.results.filter((x) => x.host === host && (x.check === "mta-sts" || x.check === "autoconfig"));
      expect(web.map((x) => `${x.check} ${x.record} ${x.status}`), r.raw).toEqual([
        `mta-sts _mta-sts.${host === "mx1" ? "example.test" : "example.net"} TXT pass`,
        `mta-sts mta-sts.${host === "mx1" ? "example.test" : "example.net"} A pass`,
        `mta-sts https://mta-sts.${host === "mx1" ? "example.test" : "example.net"}/.well-known/mta-sts.txt pass`,
        `mta-sts ${host === "mx1" ? "example.test" : "example.net"} MX pass`,
        `autoconfig https://autoconfig.${host === "mx1" ? "example.test" : "example.net"}/mail/config-v1.1.xml pass`,
      ]);
    }
  });

  it("a wrong DKIM key fails naming the DKIM record", async () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
    const value = `v=DKIM1; k=rsa; p=${other}`;
    await setRecord("mail._domainkey.example.test", "TXT", [(value.match(/.{1,200}/g) ?? []).map((s) => `"${s}"`).join(" ")], { state: lab });
    const r = await verify();
    expect(r.code).toBe(1);
    expect(failing(r.json)).toEqual(["dkim mail._domainkey.example.test TXT"]);
    expect(r.json.results.find((x) => x.check === "dkim")!.detail).toMatch(/not the host's key/);
    await snap!.restore();
    await publishDns(inv.path, lab);
  });

  it("a missing SPF record fails naming SPF", async () => {
    await deleteRecord("example.test", "TXT", { state: lab });
    const r = await verify();
    expect(r.code).toBe(1);
    expect(failing(r.json)).toEqual(["spf example.test TXT (SPF)"]);
    expect(r.json.results.find((x) => x.check === "spf")!.fix).toMatch(/v=spf1 mx -all/);
    await publishDns(inv.path, lab);
  });

  it("a PTR that does not name the EHLO host fails naming the PTR", async () => {
    await setRecord(PTR, "PTR", ["somebody-else.example.net."], { state: lab });
    try {
      const r = await verify();
      expect(r.code).toBe(1);
      expect(failing(r.json)).toEqual([`ptr ${PTR} PTR`]);
      expect(r.json.results.find((x) => x.check === "ptr")!.fix).toMatch(/Oracle Cloud: a support request/);
    } finally {
      await setRecord(PTR, "PTR", ["mx1.example.test."], { state: lab });
    }
  });

  it("a DKIM record removed from DNS fails naming the selector, and passes once published again", async () => {
    await deleteRecord("mail._domainkey.example.test", "TXT", { state: lab });
    try {
      const r = await verify();
      expect(r.code).toBe(1);
      expect(failing(r.json)).toEqual([expect.stringMatching(/^dkim mail\._domainkey\.example\.test/)]);
      expect(r.json.results.find((x) => x.check === "dkim" && x.status === "fail")!.fix).toBeTruthy();
    } finally {
      await publishDns(inv.path, lab);
    }
    expect((await verify()).code).toBe(0);
  });

  it("a missing DMARC record fails naming DMARC", async () => {
    await deleteRecord("_dmarc.example.test", "TXT", { state: lab });
    const r = await verify();
    expect(r.code).toBe(1);
    expect(failing(r.json)).toEqual(["dmarc _dmarc.example.test TXT"]);
    await publishDns(inv.path, lab);
  });

  it("a list answering 127.255.255.254 (Spamhaus: your resolver is refused) is a resolver problem, not a listing", async () => {
    await setRecord(`10.100.51.198.${LAB_DNSBL}`, "A", ["127.255.255.254"], { state: lab });
    try {
      const r = await verify();
      expect(r.code).toBe(0);
      const d = r.json.results.find((x) => x.check === "dnsbl" && x.record === `198.51.100.10 on ${LAB_DNSBL}`)!;
      expect(d).toMatchObject({ status: "warn", detail: expect.stringContaining("query refused") });
      expect(d.fix).toMatch(/resolver of your own/);
    } finally {
      await deleteRecord(`10.100.51.198.${LAB_DNSBL}`, "A", { state: lab });
    }
  });

  it("the host's address listed on a (lab) DNSBL fails naming the list", async () => {
    await setRecord(`10.100.51.198.${LAB_DNSBL}`, "A", ["127.0.0.2"], { state: lab });
    try {
      const r = await verify();
      expect(r.code).toBe(1);
      expect(failing(r.json)).toEqual([`dnsbl 198.51.100.10 on ${LAB_DNSBL}`]);
      // the host's watchdog sees it too, through the host's own resolver (its hourly check)
      const w = await sshRun(labHost(lab, "mx1"), "sudo -n mailstead-check dnsbl", { nothrow: true });
      expect(w.exitCode, w.stdout + w.stderr).toBe(1);
      expect(w.stdout).toContain(`198.51.100.10 on ${LAB_DNSBL} (127.0.0.2)`);
    } finally {
      await deleteRecord(`10.100.51.198.${LAB_DNSBL}`, "A", { state: lab });
    }
    expect((await verify()).code).toBe(0);
    const w = await sshRun(labHost(lab, "mx1"), "sudo -n mailstead-check dnsbl", { nothrow: true });
    expect(w.exitCode, w.stdout + w.stderr).toBe(0);
  });
});
