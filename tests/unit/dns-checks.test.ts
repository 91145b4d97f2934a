/** verify.ts's check modules and the SPF evaluator against fixture DNS answers (no network). */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { defaultValues } from "../../lib/defaults.js";
import { autoconfigCheck, mxMatches, policyMx, type HttpsAnswer, type HttpsFetch } from "../../dns/checks.js";
import { addressCheck, checkModules, dkimCheck, dmarcCheck, dnsblCheck, dnsblName, mtaStsCheck, mxCheck, outboundCheck, ptrCheck, runChecks, spfCheck, type CheckContext } from "../../dns/checks.js";
import { webVars, type DnsHostInput } from "../../dns/records.js";
import { mtaStsId, mtaStsPolicy } from "../../roles/web/sites.js";
import { fixtureResolver, type DnsLookup } from "../../dns/resolver.js";
import { checkSpf } from "../../dns/spf.js";
import { dnsDefaults } from "../../roles/dns/defaults.js";
import type { DnsVars } from "../../roles/dns/index.js";

const KEY = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
const OTHER = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
const IP = "203.0.113.7";

function host(over: Partial<DnsHostInput["vars"]> = {}): DnsHostInput {
  return {
    fqdn: "mx1.example.org",
    domain: "example.org",
    facts: { ipv4: [IP], ipv6: [], dkim: [{ selector: "mail", algorithm: "rsa", publicKey: KEY }] },
    vars: { ...(defaultValues(dnsDefaults) as unknown as DnsVars), dns_dnsbl_zones: ["bl.example.net"], ...over },
  };
}

/** A zone where everything is right. */
function good(): Record<string, string[]> {
  return {
    "mx1.example.org A": [IP],
    [`${IP} PTR`]: ["mx1.example.org"],
    "example.org MX": ["10 mx1.example.org."],
    "_smtp._tls.example.org TXT": ["v=TLSRPTv1; rua=mailto:postmaster@example.org"],
    "example.org TXT": ["v=spf1 mx -all", "google-site-verification=xyz"],
    "mx1.example.org TXT": ["v=spf1 a -all"],
    "mail._domainkey.example.org TXT": [`v=DKIM1; k=rsa; p=${KEY}`],
    "_dmarc.example.org TXT": ["v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org"],
    "gmail.com MX": ["5 gmail-smtp-in.l.google.com."],
    "gmail-smtp-in.l.google.com A": ["192.0.2.25"],
  };
}
const ctx = (records: Record<string, string[]>, over: Partial<DnsHostInput["vars"]> = {}, probeOk = true): CheckContext => ({
  host: host(over),
  dns: fixtureResolver(records),
  probe: async (a) => (probeOk ? { ok: true, detail: `220 ${a} ESMTP` } : { ok: false, detail: "no answer in 8 s (blocked)" }),
});
const statuses = async (m: { run(c: CheckContext): Promise<{ status: string }[]> }, c: CheckContext) => (await m.run(c)).map((r) => r.status);

describe("a correct zone passes every check", () => {
  it("all pass, nothing warns", async () => {
    const r = await runChecks(ctx(good()));
    expect(r.filter((x) => x.status !== "pass")).toEqual([]);
    expect(new Set(r.map((x) => x.check))).toEqual(new Set(["address", "ptr", "mx", "spf", "dkim", "dmarc", "tls-rpt", "dnsbl", "outbound-25"]));
  });
  it("checkModules is a list more modules can join", () => {
    expect(checkModules.map((m) => m.name)).toEqual(["address", "ptr", "mx", "spf", "dkim", "dmarc", "mta-sts", "autoconfig", "dnsbl", "outbound-25"]);
  });
});

describe("each mistake fails naming its record, with a fix", () => {
  it("A missing or pointing elsewhere", async () => {
    const z = good();
    z["mx1.example.org A"] = ["192.0.2.1"];
    const [r] = await addressCheck.run(ctx(z));
    expect(r).toMatchObject({ status: "fail", record: "mx1.example.org A" });
    expect(r!.fix).toMatch(/set mx1\.example\.org A to 203\.0\.113\.7 and remove 192\.0\.2\.1/);
  });
  it("PTR mismatch, and a PTR that is not forward-confirmed", async () => {
    const z = good();
    z[`${IP} PTR`] = ["ip-203-0-113-7.provider.example"];
    const [r] = await ptrCheck.run(ctx(z));
    expect(r).toMatchObject({ status: "fail", record: "7.113.0.203.in-addr.arpa PTR" });
    expect(r!.fix).toMatch(/Oracle Cloud: a support request, after the A record exists/);
    const z2 = good();
    z2["mx1.example.org A"] = [];
    expect((await ptrCheck.run(ctx(z2)))[0]!.detail).toMatch(/not forward-confirmed/);
  });
  it("MX missing", async () => {
    const z = good();
    delete z["example.org MX"];
    expect((await mxCheck.run(ctx(z)))[0]).toMatchObject({ status: "fail", fix: "add example.org. MX 10 mx1.example.org." });
  });
  it("SPF missing, two SPF records, not authorising the host, no -all", async () => {
    const z = good();
    z["example.org TXT"] = ["something else"];
    expect((await spfCheck.run(ctx(z)))[0]).toMatchObject({ status: "fail", record: "example.org TXT (SPF)", fix: "add example.org TXT v=spf1 mx -all" });
    z["example.org TXT"] = ["v=spf1 mx -all", "v=spf1 a -all"];
    expect((await spfCheck.run(ctx(z)))[0]!.detail).toMatch(/2 SPF records/);
    z["example.org TXT"] = ["v=spf1 ip4:192.0.2.0/24 -all"];
    expect(await statuses(spfCheck, ctx(z))).toEqual(["pass", "fail"]);
    z["example.org TXT"] = ["v=spf1 mx ?all"];
    expect(await statuses(spfCheck, ctx(z))).toEqual(["pass", "pass", "warn"]);
  });
  it("SPF over the 10-lookup limit is a permerror", async () => {
    const z = good();
    z["example.org TXT"] = [`v=spf1 mx ${Array.from({ length: 10 }, (_, i) => `include:s${i}.example.net`).join(" ")} -all`];
    for (let i = 0; i < 10; i++) z[`s${i}.example.net TXT`] = ["v=spf1 -all"];
    const r = await spfCheck.run(ctx(z));
    expect(r[0]).toMatchObject({ status: "fail" });
    expect(r[0]!.detail).toMatch(/more than 10 DNS lookups/);
  });
  it("with a relay: the provider's include must be in the record", async () => {
    const relay = { relay_enabled: true, relay_host: "smtp.provider.example", dns_spf_includes: ["_spf.provider.example"] };
    const z = good();
    z["_spf.provider.example TXT"] = ["v=spf1 ip4:192.0.2.0/24 -all"];
    expect((await spfCheck.run(ctx(z, relay)))[1]).toMatchObject({ status: "fail" });
    z["example.org TXT"] = ["v=spf1 mx include:_spf.provider.example -all"];
    expect(await statuses(spfCheck, ctx(z, relay))).toEqual(["pass", "pass"]);
    expect((await spfCheck.run(ctx(z, { relay_enabled: true, relay_host: "x" })))[1]).toMatchObject({ status: "warn" });
  });
  it("DKIM key differs from the host's, or is missing", async () => {
    const z = good();
    z["mail._domainkey.example.org TXT"] = [`v=DKIM1; k=rsa; p=${OTHER}`];
    const [r] = await dkimCheck.run(ctx(z));
    expect(r).toMatchObject({ status: "fail", record: "mail._domainkey.example.org TXT" });
    expect(r!.detail).toMatch(/not the host's key/);
    delete z["mail._domainkey.example.org TXT"];
    expect((await dkimCheck.run(ctx(z)))[0]!.detail).toMatch(/no DKIM key record/);
    // A key split by the provider with spaces still compares equal.
    z["mail._domainkey.example.org TXT"] = [`v=DKIM1; k=rsa; p=${KEY.slice(0, 100)} ${KEY.slice(100)}`];
    expect(await statuses(dkimCheck, ctx(z))).toEqual(["pass"]);
  });
  it("DMARC missing, weaker than wanted, duplicated, without rua", async () => {
    const z = good();
    delete z["_dmarc.example.org TXT"];
    expect((await dmarcCheck.run(ctx(z)))[0]).toMatchObject({ status: "fail", record: "_dmarc.example.org TXT" });
    z["_dmarc.example.org TXT"] = ["v=DMARC1; p=none; rua=mailto:postmaster@example.org"];
    expect(await statuses(dmarcCheck, ctx(z))).toEqual(["warn"]);
    z["_dmarc.example.org TXT"] = ["v=DMARC1; p=reject"];
    expect(await statuses(dmarcCheck, ctx(z))).toEqual(["pass", "warn"]);
    z["_dmarc.example.org TXT"] = ["v=DMARC1; p=reject", "v=DMARC1; p=none"];
    expect(await statuses(dmarcCheck, ctx(z))).toEqual(["fail"]);
  });
  it("MTA-STS (with the web side) and TLS-RPT only when enabled", async () => {
    const on = { web_enabled: true, dns_tlsrpt_enabled: true };
    expect(await mtaStsCheck.run(ctx(good(), { dns_tlsrpt_enabled: false }))).toEqual([]);
    // no _mta-sts TXT, no mta-sts name, no TLS-RPT
    const bare = good();
    delete bare["_smtp._tls.example.org TXT"];
    expect(await statuses(mtaStsCheck, ctx(bare, on))).toEqual(["fail", "fail", "fail"]);
    const policy = mtaStsPolicy(webVars(on), { fqdn: "mx1.example.org", domain: "example.org" });
    const z = { ...good(), "_mta-sts.example.org TXT": [`v=STSv1; id=${mtaStsId(policy)}`], "mta-sts.example.org A": [IP], "_smtp._tls.example.org TXT": ["v=TLSRPTv1; rua=mailto:postmaster@example.org"] };
    expect(await statuses(mtaStsCheck, ctx(z, on))).toEqual(["pass", "pass", "pass"]);
    z["_mta-sts.example.org TXT"] = ["v=STSv1; id=old"];
    expect(await statuses(mtaStsCheck, ctx(z, on))).toEqual(["warn", "pass", "pass"]);
  });
  it("the policy is fetched as a sender fetches it: verified HTTPS, 200, text/plain, the inventory's policy, every MX listed", async () => {
    const on = { web_enabled: true };
    const site = { fqdn: "mx1.example.org", domain: "example.org" };
    const policy = mtaStsPolicy(webVars(on), site);
    const z: Record<string, string[]> = { ...good(), "_mta-sts.example.org TXT": [`v=STSv1; id=${mtaStsId(policy)}`], "mta-sts.example.org A": [IP] };
    const asked: string[] = [];
    const serve = (a: Partial<HttpsAnswer> | Error) => async (name: string, path: string): Promise<HttpsAnswer> => {
      asked.push(`${name}${path}`);
      if (a instanceof Error) throw a;
      return { status: 200, headers: { "content-type": "text/plain; charset=utf-8" }, body: policy, ...a };
    };
    const run = (f: HttpsFetch, zone = z) => mtaStsCheck.run({ ...ctx(zone, on), fetch: f });
    expect((await run(serve({}))).map((r) => `${r.check} ${r.status}`)).toEqual(["mta-sts pass", "mta-sts pass", "mta-sts pass", "mta-sts pass", "tls-rpt pass"]);
    expect(asked).toEqual(["mta-sts.example.org/.well-known/mta-sts.txt"]);
    const failing = async (a: Partial<HttpsAnswer> | Error, zone = z) => (await run(serve(a), zone)).filter((r) => r.status === "fail").map((r) => r.detail);
    expect(await failing(new Error("unable to verify the first certificate"))).toEqual(["cannot fetch the policy: unable to verify the first certificate"]);
    expect(await failing({ status: 404 })).toEqual(["HTTP 404"]);
    expect(await failing({ headers: { "content-type": "text/html" } })).toEqual([expect.stringMatching(/not text\/plain/)]);
    expect(await failing({ body: policy.replace("testing", "enforce") })).toEqual([expect.stringMatching(/not the inventory's/)]);
    // An MX the policy does not list: enforcing senders would refuse it.
    expect(await failing({}, { ...z, "example.org MX": ["10 mx1.example.org.", "20 backup.example.net."] })).toEqual([expect.stringMatching(/backup\.example\.net not in the policy/)]);
    expect(mxMatches("*.example.org", "mx1.example.org")).toBe(true);
    expect(mxMatches("*.example.org", "a.mx1.example.org")).toBe(false);
    expect(mxMatches("mx1.example.org", "MX1.example.org.")).toBe(true);
    expect(policyMx("version: STSv1\r\nmx: a.example\r\nmx: *.b.example\r\n")).toEqual(["a.example", "*.b.example"]);
  });
  it("autoconfig: the name resolves and the file names this host's ports", async () => {
    const on = { web_enabled: true };
    expect(await autoconfigCheck.run(ctx(good()))).toEqual([]);
    expect(await statuses(autoconfigCheck, ctx(good(), on))).toEqual(["fail"]);
    const z = { ...good(), "autoconfig.example.org A": [IP] };
    const xml = "<clientConfig><hostname>mx1.example.org</hostname><port>993</port></clientConfig>";
    const f = (body: string): HttpsFetch => async () => ({ status: 200, headers: {}, body });
    expect(await statuses(autoconfigCheck, { ...ctx(z, on), fetch: f(xml) })).toEqual(["pass"]);
    expect(await statuses(autoconfigCheck, { ...ctx(z, on), fetch: f(xml.replace("mx1", "mx9")) })).toEqual(["fail"]);
  });
  it("an address listed on a DNSBL fails; a refused query only warns", async () => {
    expect(dnsblName(IP, "zen.spamhaus.org")).toBe("7.113.0.203.zen.spamhaus.org");
    const z = { ...good(), "7.113.0.203.bl.example.net A": ["127.0.0.2"] };
    expect((await dnsblCheck.run(ctx(z)))[0]).toMatchObject({ status: "fail", record: `${IP} on bl.example.net` });
    z["7.113.0.203.bl.example.net A"] = ["127.255.255.254"];
    expect(await statuses(dnsblCheck, ctx(z))).toEqual(["warn"]);
  });
  it("IPv6 (fixtures): the host's IPv6 is looked up too, by its nibbles reversed (RFC 5782 §2.4)", async () => {
    expect(dnsblName("2001:db8::25", "zen.spamhaus.org")).toBe("5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org");
    const v6 = (records: Record<string, string[]>): CheckContext => ({ ...ctx(records), host: { ...host(), facts: { ...host().facts, ipv6: ["2001:db8::25"] } } });
    const z = { ...good(), "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example.net A": ["127.0.0.2"] };
    const r = await dnsblCheck.run(v6(z));
    expect(r.map((x) => [x.record, x.status])).toEqual([
      [`${IP} on bl.example.net`, "pass"],
      ["2001:db8::25 on bl.example.net", "fail"],
    ]);
  });
  it("outbound port 25 blocked: fail with the relay advice; skipped when relaying", async () => {
    const [r] = await outboundCheck.run(ctx(good(), {}, false));
    expect(r).toMatchObject({ status: "fail" });
    expect(r!.fix).toMatch(/relay_enabled/);
    expect(await statuses(outboundCheck, ctx(good(), { relay_enabled: true, relay_host: "smtp.provider.example" }, false))).toEqual(["pass"]);
    expect(await statuses(outboundCheck, { host: host(), dns: fixtureResolver(good()) })).toEqual(["warn"]);
  });
  it("a DNS failure is a fail result, not a crash", async () => {
    const broken: DnsLookup = { ...fixtureResolver(good()), mx: () => Promise.reject(new Error("queryMx ETIMEOUT example.org")) };
    const [r] = await mxCheck.run({ host: host(), dns: broken });
    expect(r).toMatchObject({ status: "fail" });
    expect(r!.detail).toMatch(/ETIMEOUT/);
  });
});

describe("SPF evaluation (RFC 7208)", () => {
  const dns = fixtureResolver({
    "a.example TXT": ["v=spf1 ip4:192.0.2.0/24 include:b.example ~all"],
    "b.example TXT": ["v=spf1 a:host.b.example/30 redirect=c.example"],
    "host.b.example A": ["198.51.100.4"],
    "c.example TXT": ["v=spf1 ip6:2001:db8::/32 -all"],
    "loop.example TXT": ["v=spf1 include:loop.example -all"],
    "none.example TXT": ["hello"],
  });
  it("ip4 ranges, include, a with a prefix, redirect, ip6", async () => {
    expect((await checkSpf(dns, "a.example", "192.0.2.77")).result).toBe("pass");
    expect((await checkSpf(dns, "a.example", "198.51.100.6")).result).toBe("pass");
    expect((await checkSpf(dns, "a.example", "198.51.100.9")).result).toBe("softfail");
    expect((await checkSpf(dns, "a.example", "2001:db8::1")).result).toBe("pass");
    expect((await checkSpf(dns, "c.example", "2001:db9::1")).result).toBe("fail");
  });
  it("counts lookups and stops loops; none without a record", async () => {
    expect((await checkSpf(dns, "a.example", "203.0.113.1")).lookups).toBe(3);
    expect((await checkSpf(dns, "loop.example", "192.0.2.1")).result).toBe("permerror");
    expect((await checkSpf(dns, "none.example", "192.0.2.1")).result).toBe("none");
  });
});

describe("IPv6 (the lab has none: fixtures)", () => {
  const IP6 = "2001:db8:10::25";
  // 2001:0db8:0010:0000:0000:0000:0000:0025, nibbles reversed (RFC 3596 §2.5)
  const REV6 = "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
  const v6 = (records: Record<string, string[]>): CheckContext => ({ ...ctx(records), host: { ...host(), facts: { ...host().facts, ipv6: [IP6] } } });
  const zone6 = (): Record<string, string[]> => ({ ...good(), "mx1.example.org AAAA": [IP6], [`${IP6} PTR`]: ["mx1.example.org"] });

  it("AAAA, and PTR = EHLO name = AAAA, pass for the IPv6 address as for the IPv4 one", async () => {
    const r = await ptrCheck.run(v6(zone6()));
    expect(r.map((x) => [x.record, x.status])).toEqual([["7.113.0.203.in-addr.arpa PTR", "pass"], [`${REV6} PTR`, "pass"]]);
    expect((await addressCheck.run(v6(zone6()))).every((x) => x.status === "pass")).toBe(true);
  });
  it("an IPv6 address without a PTR fails naming the ip6.arpa name, with the fix", async () => {
    const z = zone6();
    delete z[`${IP6} PTR`];
    const r = (await ptrCheck.run(v6(z))).find((x) => x.record === `${REV6} PTR`)!;
    expect(r.status).toBe("fail");
    expect(r.detail).toMatch(/PTR of 2001:db8:10::25 is missing, not the EHLO name mx1\.example\.org/);
    expect(r.fix).toMatch(/set its PTR to mx1\.example\.org/);
  });
  it("a PTR for IPv6 that is not forward-confirmed (no AAAA) fails, and the AAAA is missing", async () => {
    const z = zone6();
    z["mx1.example.org AAAA"] = [];
    expect((await ptrCheck.run(v6(z))).find((x) => x.record === `${REV6} PTR`)!.detail).toMatch(/not forward-confirmed/);
    expect((await addressCheck.run(v6(z))).find((x) => x.record === "mx1.example.org AAAA")).toMatchObject({ status: "fail" });
  });
});
