/** Record computation, TXT splitting and the zone/table formats (dns/records.ts), and host-fact parsing. */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { defaultValues } from "../../lib/defaults.js";
import { dkimPValue, hostAddresses, hostFacts, isPublicAddress, publicKeyDer } from "../../dns/hostfacts.js";
import { mtaStsId, mtaStsPolicy, type SiteVars } from "../../roles/web/sites.js";
import { computeRecords, expandIPv6, formatTable, formatZone, webVars, parseZone, rdata, reverseName, spfRecord, txtChunks, txtStrings, type DnsHostInput } from "../../dns/records.js";
import { dnsDefaults } from "../../roles/dns/defaults.js";
import type { DnsVars } from "../../roles/dns/index.js";

const RSA = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
const vars = defaultValues(dnsDefaults) as unknown as DnsVars;

function host(over: Partial<DnsHostInput["vars"]> = {}, facts: Partial<DnsHostInput["facts"]> = {}): DnsHostInput {
  return {
    fqdn: "mx1.example.org",
    domain: "example.org",
    facts: { ipv4: ["203.0.113.7"], ipv6: [], dkim: [{ selector: "mail", algorithm: "rsa", publicKey: RSA }], ...facts },
    vars: { ...vars, ...over },
  };
}
const find = (h: DnsHostInput, name: string, type: string) => computeRecords(h).filter((r) => r.name === name && r.type === type);

describe("SPF record", () => {
  it("is `mx -all` without a relay", () => {
    expect(spfRecord([])).toBe("v=spf1 mx -all");
    expect(find(host(), "example.org", "TXT")[0]!.value).toBe("v=spf1 mx -all");
    expect(find(host(), "example.org", "TXT")[0]!.note).toBeUndefined();
  });
  it("adds the relay provider's include before -all", () => {
    const h = host({ relay_enabled: true, relay_host: "smtp.provider.example", dns_spf_includes: ["_spf.provider.example"] });
    expect(find(h, "example.org", "TXT")[0]!.value).toBe("v=spf1 mx include:_spf.provider.example -all");
  });
  it("warns in a note when a relay is on but no include is configured", () => {
    const h = host({ relay_enabled: true, relay_host: "smtp.provider.example" });
    expect(find(h, "example.org", "TXT")[0]!.note).toMatch(/dns_spf_includes is empty/);
  });
  it("gives the EHLO name its own SPF (a -all)", () => {
    expect(find(host(), "mx1.example.org", "TXT")[0]!.value).toBe("v=spf1 a -all");
  });
});

describe("DKIM record splitting", () => {
  it("splits a 2048-bit key into strings of at most 255 bytes that join back to the record", () => {
    const rec = find(host(), "mail._domainkey.example.org", "TXT")[0]!;
    expect(rec.value).toBe(`v=DKIM1; k=rsa; p=${RSA}`);
    expect(rec.value.length).toBeGreaterThan(255);
    const parts = txtStrings(rdata(rec));
    expect(parts.length).toBe(2);
    for (const p of parts) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(255);
    expect(parts.join("")).toBe(rec.value);
    expect(rec.note).toMatch(/255/);
  });
  it("txtChunks keeps short values whole and never splits a multi-byte character", () => {
    expect(txtChunks("v=spf1 mx -all")).toEqual(["v=spf1 mx -all"]);
    expect(txtChunks("")).toEqual([""]);
    const s = "é".repeat(200); // 400 bytes
    const c = txtChunks(s);
    expect(c.map((x) => Buffer.byteLength(x))).toEqual([254, 146]);
    expect(c.join("")).toBe(s);
  });
  it("Ed25519: the p= value is the raw 32-byte key", () => {
    const spki = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
    expect(Buffer.from(dkimPValue("ed25519", spki.toString("base64")), "base64").length).toBe(32);
    const h = host({}, { dkim: [{ selector: "mail", algorithm: "rsa", publicKey: RSA }, { selector: "ed", algorithm: "ed25519", publicKey: "AAAA" }] });
    expect(find(h, "ed._domainkey.example.org", "TXT")[0]!.value).toBe("v=DKIM1; k=ed25519; p=AAAA");
  });
});

describe("the other records", () => {
  it("A/AAAA from the host's addresses, overridden behind NAT", () => {
    expect(find(host({}, { ipv6: ["2001:db8::25"] }), "mx1.example.org", "AAAA")[0]!.value).toBe("2001:db8::25");
    const nat = host({ dns_public_ipv4: "198.51.100.99" }, { ipv4: [] });
    expect(find(nat, "mx1.example.org", "A").map((r) => r.value)).toEqual(["198.51.100.99"]);
    expect(find(nat, "99.100.51.198.in-addr.arpa", "PTR")[0]!.value).toBe("mx1.example.org.");
  });
  it("MX, DMARC (quarantine, rua postmaster) and the PTR to ask the provider for", () => {
    const h = host();
    expect(find(h, "example.org", "MX")[0]!.value).toBe("10 mx1.example.org.");
    expect(find(h, "_dmarc.example.org", "TXT")[0]!.value).toBe("v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org");
    const ptr = find(h, "7.113.0.203.in-addr.arpa", "PTR")[0]!;
    expect(ptr.where).toBe("provider");
    expect(ptr.note).toMatch(/Oracle Cloud.*support request.*after the A record exists/);
    expect(find(host({ dns_dmarc_policy: "reject", dns_dmarc_rua: "dmarc@example.net" }), "_dmarc.example.org", "TXT")[0]!.value).toBe("v=DMARC1; p=reject; rua=mailto:dmarc@example.net");
  });
  it("MTA-STS with the web side only; the id is the served policy's hash and changes exactly when it does", () => {
    expect(find(host(), "_mta-sts.example.org", "TXT")).toEqual([]);
    expect(find(host(), "mta-sts.example.org", "CNAME")).toEqual([]);
    const h = host({ web_enabled: true, dns_tlsrpt_enabled: true });
    const site = { fqdn: "mx1.example.org", domain: "example.org" };
    const policy = mtaStsPolicy(webVars({ web_enabled: true }), site);
    expect(policy).toBe("version: STSv1\r\nmode: testing\r\nmx: mx1.example.org\r\nmax_age: 604800\r\n");
    expect(find(h, "_mta-sts.example.org", "TXT")[0]!.value).toBe(`v=STSv1; id=${mtaStsId(policy)}`);
    expect(mtaStsId(policy)).toMatch(/^[0-9a-f]{20}$/);
    // Each setting of the policy changes the id; a setting outside it does not.
    const id = (over: Partial<SiteVars>) => find(host({ web_enabled: true, ...over }), "_mta-sts.example.org", "TXT")[0]!.value;
    const ids = [id({}), id({ web_mta_sts_mode: "enforce" }), id({ web_mta_sts_max_age: 86400 }), id({ web_mta_sts_extra_mx: ["mx2.example.org"] })];
    expect(new Set(ids).size).toBe(4);
    expect(id({ web_hsts_max_age: 0 } as Partial<SiteVars>)).toBe(ids[0]);
    expect(id({ web_autoconfig_enabled: false })).toBe(ids[0]);
    expect(find(h, "mta-sts.example.org", "CNAME")[0]!.value).toBe("mx1.example.org.");
    expect(find(h, "autoconfig.example.org", "CNAME")[0]!.value).toBe("mx1.example.org.");
    expect(find(host({ web_enabled: true, web_autoconfig_enabled: false }), "autoconfig.example.org", "CNAME")).toEqual([]);
    expect(find(h, "_smtp._tls.example.org", "TXT")[0]!.value).toBe("v=TLSRPTv1; rua=mailto:postmaster@example.org");
    expect(formatZone(computeRecords(h))).toContain("mta-sts.example.org.\t3600\tIN\tCNAME\tmx1.example.org.");
  });
  it("autoconfiguration SRV records (RFC 6186/8314), off on request", () => {
    expect(find(host(), "_submissions._tcp.example.org", "SRV")[0]!.value).toBe("0 1 465 mx1.example.org.");
    expect(find(host(), "_imaps._tcp.example.org", "SRV")[0]!.value).toBe("0 1 993 mx1.example.org.");
    expect(find(host(), "_imap._tcp.example.org", "SRV")[0]!.value).toBe("0 0 0 .");
    expect(computeRecords(host({ dns_srv_records: false })).filter((r) => r.type === "SRV")).toEqual([]);
  });
  it("reverse names for IPv4 and IPv6", () => {
    expect(reverseName("203.0.113.7")).toBe("7.113.0.203.in-addr.arpa");
    expect(expandIPv6("2001:db8::1")).toBe("2001:0db8:0000:0000:0000:0000:0000:0001");
    expect(reverseName("2001:db8::1")).toBe(`1.0.0.0.${"0.".repeat(20)}8.b.d.0.1.0.0.2.ip6.arpa`);
  });
});

describe("zone and table formats", () => {
  it("zone: absolute names, TTL, IN, quoted split TXT, PTR commented out; parses back", () => {
    const recs = computeRecords(host());
    const z = formatZone(recs);
    expect(z).toMatch(/^mx1\.example\.org\.\t3600\tIN\tA\t203\.0\.113\.7$/m);
    expect(z).toMatch(/^example\.org\.\t3600\tIN\tTXT\t"v=spf1 mx -all"$/m);
    expect(z).toMatch(/^; ask your provider for: 7\.113\.0\.203\.in-addr\.arpa\.\t3600\tIN\tPTR\tmx1\.example\.org\.$/m);
    expect(z).toMatch(/^mail\._domainkey\.example\.org\.\t3600\tIN\tTXT\t"v=DKIM1; k=rsa; p=[^"]+" "[^"]+"$/m);
    const back = parseZone(z);
    expect(back.length).toBe(recs.filter((r) => r.where === "zone").length);
    expect(back.some((e) => e.type === "PTR")).toBe(false);
    const dk = back.find((e) => e.name === "mail._domainkey.example.org")!;
    expect(txtStrings(dk.rdata).join("")).toBe(`v=DKIM1; k=rsa; p=${RSA}`);
  });
  it("quotes and backslashes in TXT are escaped", () => {
    expect(rdata({ type: "TXT", value: 'a"b\\c' })).toBe('"a\\"b\\\\c"');
    expect(txtStrings('"a\\"b\\\\c"')).toEqual(['a"b\\c']);
  });
  it("table: a row per record and the notes below", () => {
    const t = formatTable(computeRecords(host()));
    expect(t).toMatch(/^name\s+type\s+ttl\s+value$/m);
    expect(t).toMatch(/^example\.org\s+MX\s+3600\s+10 mx1\.example\.org\.$/m);
    expect(t).toMatch(/^7\.113\.0\.203\.in-addr\.arpa \(ask provider\)\s+PTR/m);
    expect(t).toMatch(/^Notes:$/m);
  });
  it("parseZone refuses what it cannot read", () => {
    expect(() => parseZone("example.org. IN A 1.2.3.4")).toThrow(/cannot parse/);
  });
});

describe("host facts", () => {
  it("the address fact keeps public addresses and reports private ones (NAT)", () => {
    const a = hostAddresses.parse(["10.0.0.12/24", "203.0.113.7/24", "2001:db8::25/64", "fe80::1/64", ""].join("\n"));
    expect(a).toEqual({ ipv4: ["203.0.113.7"], ipv6: ["2001:db8::25"], privateAddresses: ["10.0.0.12", "fe80::1"] });
    expect(hostAddresses.command()).toContain("ip -o addr show scope global");
  });
  it("the key fact reads the public half, or null for a missing key; missing keys are reported", () => {
    expect(publicKeyDer.command("/etc/opendkim/keys/example.org/mail.private")).toContain("openssl pkey -in /etc/opendkim/keys/example.org/mail.private -pubout -outform DER");
    expect(publicKeyDer.parse(`${RSA}\n`, "x")).toBe(RSA);
    expect(publicKeyDer.parse("missing\n", "x")).toBeNull();
    const f = hostFacts({ ipv4: ["203.0.113.7"], ipv6: [], privateAddresses: [] }, [
      { selector: "mail", algorithm: "rsa", path: "/k1", der: RSA },
      { selector: "ed", algorithm: "ed25519", path: "/k2", der: null },
    ]);
    expect(f.dkim).toEqual([{ selector: "mail", algorithm: "rsa", publicKey: RSA }]);
    expect(f.missingKeys).toEqual(["ed"]);
  });
  it("knows which addresses are not public", () => {
    for (const ip of ["10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "127.0.0.1", "fd00::1", "::1"]) expect(isPublicAddress(ip), ip).toBe(false);
    for (const ip of ["203.0.113.7", "198.51.100.10", "2001:db8::1"]) expect(isPublicAddress(ip), ip).toBe(true);
  });
});
