/**
 * verify.ts's checks: the live DNS (and the host's outbound port 25) against
 * what the host needs. A list of check modules; each returns pass/warn/fail
 * results naming the record and the fix. Pure apart from the injected
 * resolver and probe, so every module is unit-tested with fixtures.
 */
import { checkSpf, spfLookups, spfRecordOf, SPF_LOOKUP_LIMIT } from "./spf.js";
import { computeRecords, webVars, dkimRecord, dmarcRua, publicAddresses, reverseName, type DnsHostInput, type DnsRecord } from "./records.js";
import { AUTOCONFIG_PATH, MTA_STS_PATH, mtaStsId, mtaStsPolicy } from "../roles/web/sites.js";
import type { DnsLookup } from "./resolver.js";

export type CheckStatus = "pass" | "warn" | "fail";

export interface CheckResult {
  /** The module, e.g. "dkim". */
  check: string;
  /** The record concerned, e.g. "mail._domainkey.example.org TXT". */
  record: string;
  status: CheckStatus;
  detail: string;
  /** What to do about it (warn/fail). */
  fix?: string;
  /** Numbers behind the detail, for --json and the HTML page's chart (memory: PSS per unit against the budget, bytes). */
  chart?: { limit: number; unit: string; parts: { name: string; bytes: number }[] };
}

export interface OutboundProbe {
  /** Try to connect from the host to port 25 of `address`; ok when it answered. */
  (address: string): Promise<{ ok: boolean; detail: string }>;
}

export interface HttpsAnswer {
  status: number;
  /** Header names lowercased. */
  headers: Record<string, string>;
  body: string;
}

/**
 * GET https://<name><path> from the operator's machine, the name resolved through the
 * check's DNS, the certificate verified (system roots plus the inventory's private CA).
 * Rejects with the reason when the connection or the TLS verification fails.
 */
export type HttpsFetch = (name: string, path: string) => Promise<HttpsAnswer>;

export interface CheckContext {
  host: DnsHostInput;
  dns: DnsLookup;
  /** Absent: the outbound check is skipped (e.g. no SSH). */
  probe?: OutboundProbe;
  /** Absent: the web side's files are not fetched (only their DNS records are checked). */
  fetch?: HttpsFetch;
}

export interface CheckModule {
  name: string;
  run(ctx: CheckContext): Promise<CheckResult[]>;
}

const lower = (s: string) => s.toLowerCase().replace(/\.$/, "");
const recordsOf = (ctx: CheckContext, type: string) => computeRecords(ctx.host).filter((r) => r.type === type);
const show = (r: Pick<DnsRecord, "name" | "type" | "value">) => `${r.name} ${r.type} ${r.value}`;

/** Run a DNS question; a failure (timeout, SERVFAIL) becomes a fail result instead of a crash. */
async function ask<T>(check: string, record: string, q: () => Promise<T>): Promise<T | CheckResult> {
  try {
    return await q();
  } catch (e) {
    return { check, record, status: "fail", detail: `DNS query failed: ${(e as Error).message}`, fix: "check that the domain's name servers answer (and the --resolver given)" };
  }
}
const isResult = (x: unknown): x is CheckResult => typeof x === "object" && x !== null && "status" in x && "check" in x;

export const addressCheck: CheckModule = {
  name: "address",
  async run(ctx) {
    const { fqdn } = ctx.host;
    const want = publicAddresses(ctx.host);
    const out: CheckResult[] = [];
    for (const [type, wanted, get] of [["A", want.ipv4, ctx.dns.a], ["AAAA", want.ipv6, ctx.dns.aaaa]] as const) {
      const got = await ask("address", `${fqdn} ${type}`, () => get(fqdn));
      if (isResult(got)) {
        out.push(got);
        continue;
      }
      const missing = wanted.filter((w) => !got.includes(w));
      const extra = got.filter((g) => !wanted.includes(g));
      if (wanted.length === 0 && got.length === 0) continue;
      if (missing.length === 0 && extra.length === 0) out.push({ check: "address", record: `${fqdn} ${type}`, status: "pass", detail: `${fqdn} ${type} ${got.join(", ")}` });
      else
        out.push({
          check: "address",
          record: `${fqdn} ${type}`,
          status: "fail",
          detail: `${fqdn} ${type} is ${got.length ? got.join(", ") : "missing"}; the host's address${wanted.length === 1 ? " is" : "es are"} ${wanted.join(", ") || "(none)"}`,
          fix: wanted.length ? `set ${fqdn} ${type} to ${wanted.join(", ")}${extra.length ? ` and remove ${extra.join(", ")}` : ""}` : `remove ${fqdn} ${type} (the host has no such address) or set dns_public_ipv${type === "A" ? 4 : 6}`,
        });
    }
    if (want.ipv4.length === 0 && want.ipv6.length === 0) out.push({ check: "address", record: `${fqdn} A`, status: "fail", detail: "the host has no public address", fix: "set dns_public_ipv4 (hosts behind NAT, e.g. Oracle Cloud, only see a private address)" });
    return out;
  },
};

export const ptrCheck: CheckModule = {
  name: "ptr",
  async run(ctx) {
    const { fqdn } = ctx.host;
    const want = publicAddresses(ctx.host);
    const out: CheckResult[] = [];
    for (const ip of [...want.ipv4, ...want.ipv6]) {
      const record = `${reverseName(ip)} PTR`;
      const names = await ask("ptr", record, () => ctx.dns.ptr(ip));
      if (isResult(names)) {
        out.push(names);
        continue;
      }
      const fix = `ask whoever owns ${ip} (your VPS provider; Oracle Cloud: a support request, after the A record exists) to set its PTR to ${fqdn}`;
      if (!names.map(lower).includes(lower(fqdn))) {
        out.push({ check: "ptr", record, status: "fail", detail: `PTR of ${ip} is ${names.length ? names.join(", ") : "missing"}, not the EHLO name ${fqdn}`, fix });
        continue;
      }
      const back = await ask("ptr", `${fqdn} ${ip.includes(":") ? "AAAA" : "A"}`, () => (ip.includes(":") ? ctx.dns.aaaa(fqdn) : ctx.dns.a(fqdn)));
      if (isResult(back)) out.push(back);
      else if (!back.includes(ip)) out.push({ check: "ptr", record, status: "fail", detail: `PTR of ${ip} is ${fqdn}, but ${fqdn} resolves to ${back.join(", ") || "nothing"} (not forward-confirmed)`, fix: `point ${fqdn} at ${ip}` });
      else out.push({ check: "ptr", record, status: "pass", detail: `${ip} -> ${fqdn} -> ${ip} (forward-confirmed, equals the EHLO name)` });
    }
    return out;
  },
};

export const mxCheck: CheckModule = {
  name: "mx",
  async run(ctx) {
    const { domain, fqdn } = ctx.host;
    const mx = await ask("mx", `${domain} MX`, () => ctx.dns.mx(domain));
    if (isResult(mx)) return [mx];
    if (mx.some((m) => lower(m.exchange) === lower(fqdn))) return [{ check: "mx", record: `${domain} MX`, status: "pass", detail: mx.map((m) => `${m.priority} ${m.exchange}`).join(", ") }];
    return [{ check: "mx", record: `${domain} MX`, status: "fail", detail: `${domain} MX is ${mx.length ? mx.map((m) => `${m.priority} ${m.exchange}`).join(", ") : "missing"}`, fix: `add ${domain}. MX 10 ${fqdn}.` }];
  },
};

export const spfCheck: CheckModule = {
  name: "spf",
  async run(ctx) {
    const { domain, fqdn, vars } = ctx.host;
    const record = `${domain} TXT (SPF)`;
    const want = recordsOf(ctx, "TXT").find((r) => r.name === domain)!;
    const out: CheckResult[] = [];
    let rec: string | null;
    try {
      rec = await spfRecordOf(ctx.dns, domain);
    } catch (e) {
      return [{ check: "spf", record, status: "fail", detail: (e as Error).message, fix: `keep one record: ${show(want)}` }];
    }
    if (!rec) return [{ check: "spf", record, status: "fail", detail: `${domain} has no SPF record`, fix: `add ${show(want)}` }];
    const count = await spfLookups(ctx.dns, domain);
    if (count.result === "permerror") out.push({ check: "spf", record, status: "fail", detail: `SPF permerror: ${count.reason}`, fix: `use ${want.value}` });
    else out.push({ check: "spf", record, status: "pass", detail: `${count.lookups} of ${SPF_LOOKUP_LIMIT} DNS lookups` });
    if (vars.relay_enabled) {
      const missing = vars.dns_spf_includes.filter((d) => !rec!.split(/\s+/).includes(`include:${d}`));
      if (vars.dns_spf_includes.length === 0) out.push({ check: "spf", record, status: "warn", detail: `outbound mail leaves through the relay ${vars.relay_host}, but dns_spf_includes is empty`, fix: "set dns_spf_includes to your relay provider's SPF include domain and publish the record dns.ts prints" });
      else if (missing.length) out.push({ check: "spf", record, status: "fail", detail: `the record lacks include:${missing.join(", include:")} (the relay's senders)`, fix: `use ${want.value}` });
      else out.push({ check: "spf", record, status: "pass", detail: `the relay is authorised (${vars.dns_spf_includes.map((d) => `include:${d}`).join(" ")})` });
    } else {
      for (const ip of [...publicAddresses(ctx.host).ipv4, ...publicAddresses(ctx.host).ipv6]) {
        const r = await checkSpf(ctx.dns, domain, ip);
        if (r.result === "pass") out.push({ check: "spf", record, status: "pass", detail: `authorises ${ip} (${r.reason})` });
        else out.push({ check: "spf", record, status: "fail", detail: `SPF ${r.result} for the host's address ${ip}: ${r.reason}`, fix: `use ${want.value} (and make sure ${domain} MX points at ${fqdn})` });
      }
    }
    if (!/[-~]all$/.test(rec.trim()) && !/redirect=/.test(rec)) out.push({ check: "spf", record, status: "warn", detail: `"${rec}" does not end with -all: anyone may send as ${domain}`, fix: `use ${want.value}` });
    return out;
  },
};

export const dkimCheck: CheckModule = {
  name: "dkim",
  async run(ctx) {
    const out: CheckResult[] = [];
    if (ctx.host.facts.dkim.length === 0) return [{ check: "dkim", record: `_domainkey.${ctx.host.domain}`, status: "fail", detail: "the host has no DKIM key", fix: "converge the opendkim role (playbooks/site.ts), then publish the record dns.ts prints" }];
    for (const k of ctx.host.facts.dkim) {
      const name = `${k.selector}._domainkey.${ctx.host.domain}`;
      const record = `${name} TXT`;
      const txt = await ask("dkim", record, () => ctx.dns.txt(name));
      if (isResult(txt)) {
        out.push(txt);
        continue;
      }
      const fix = `publish ${name} TXT "${dkimRecord(k)}" (split into ≤ 255-byte strings: dns.ts --format zone)`;
      const recs = txt.filter((t) => /(^|;)\s*p=/.test(t));
      if (recs.length === 0) {
        out.push({ check: "dkim", record, status: "fail", detail: `${name} has no DKIM key record`, fix });
        continue;
      }
      const tags = Object.fromEntries(recs[0]!.split(";").map((t) => t.trim()).filter(Boolean).map((t) => [t.slice(0, t.indexOf("=")).trim(), t.slice(t.indexOf("=") + 1).replace(/\s+/g, "")]));
      if (recs.length > 1) out.push({ check: "dkim", record, status: "fail", detail: `${name} has ${recs.length} key records`, fix: `keep only one: ${fix}` });
      else if (tags.p !== k.publicKey) out.push({ check: "dkim", record, status: "fail", detail: `the published key (p=${(tags.p ?? "").slice(0, 24)}...) is not the host's key (p=${k.publicKey.slice(0, 24)}...): signatures fail`, fix });
      else if ((tags.k ?? "rsa") !== k.algorithm) out.push({ check: "dkim", record, status: "fail", detail: `k=${tags.k} but the key is ${k.algorithm}`, fix });
      else out.push({ check: "dkim", record, status: "pass", detail: `the published key equals the host's ${k.algorithm} key (selector ${k.selector})` });
    }
    return out;
  },
};

export const dmarcCheck: CheckModule = {
  name: "dmarc",
  async run(ctx) {
    const { domain, vars } = ctx.host;
    const name = `_dmarc.${domain}`;
    const record = `${name} TXT`;
    const want = recordsOf(ctx, "TXT").find((r) => r.name === name)!;
    const txt = await ask("dmarc", record, () => ctx.dns.txt(name));
    if (isResult(txt)) return [txt];
    const recs = txt.filter((t) => /^v=DMARC1\s*(;|$)/i.test(t));
    if (recs.length === 0) return [{ check: "dmarc", record, status: "fail", detail: `${name} has no DMARC record`, fix: `add ${show(want)}` }];
    if (recs.length > 1) return [{ check: "dmarc", record, status: "fail", detail: `${name} has ${recs.length} DMARC records (receivers then ignore them all, RFC 7489 §6.6.3)`, fix: `keep one: ${show(want)}` }];
    const p = /(?:^|;)\s*p\s*=\s*([a-z]+)/i.exec(recs[0]!)?.[1]?.toLowerCase();
    if (!p || !["none", "quarantine", "reject"].includes(p)) return [{ check: "dmarc", record, status: "fail", detail: `no valid p= in "${recs[0]}"`, fix: `use ${show(want)}` }];
    const out: CheckResult[] = [];
    const rank = { none: 0, quarantine: 1, reject: 2 } as const;
    if (rank[p as keyof typeof rank] < rank[vars.dns_dmarc_policy]) out.push({ check: "dmarc", record, status: "warn", detail: `p=${p} is weaker than dns_dmarc_policy (${vars.dns_dmarc_policy}): forged mail as ${domain} is ${p === "none" ? "delivered" : "filed as spam, not refused"}`, fix: `use ${want.value}` });
    else out.push({ check: "dmarc", record, status: "pass", detail: `p=${p}` });
    if (!/rua\s*=\s*mailto:/i.test(recs[0]!)) out.push({ check: "dmarc", record, status: "warn", detail: "no rua=: you get no reports of who sends as your domain", fix: `add rua=mailto:${dmarcRua(ctx.host)}` });
    return out;
  },
};

/** The mx: lines of an MTA-STS policy, and whether an MX host name matches one (RFC 8461 §4.1: a leading "*." matches one label). */
export function policyMx(policy: string): string[] {
  return [...policy.matchAll(/^mx:[ \t]*(\S+)[ \t]*\r?$/gm)].map((m) => m[1]!.toLowerCase());
}
export function mxMatches(pattern: string, host: string): boolean {
  const h = lower(host);
  if (pattern.startsWith("*.")) return h.endsWith(pattern.slice(1)) && !h.slice(0, -pattern.length + 1).includes(".");
  return h === pattern;
}

export const mtaStsCheck: CheckModule = {
  name: "mta-sts",
  async run(ctx) {
    const { domain, vars, fqdn } = ctx.host;
    const out: CheckResult[] = [];
    const site = { fqdn, domain };
    const w = webVars(vars);
    const policy = w.web_enabled ? mtaStsPolicy(w, site) : undefined;
    const id = policy === undefined ? undefined : mtaStsId(policy);
    const record = id === undefined ? undefined : `v=STSv1; id=${id}`;
    if (record) {
      const name = `_mta-sts.${domain}`;
      const txt = await ask("mta-sts", `${name} TXT`, () => ctx.dns.txt(name));
      if (isResult(txt)) out.push(txt);
      else {
        const rec = txt.find((t) => /^v=STSv1/.test(t));
        if (!rec) out.push({ check: "mta-sts", record: `${name} TXT`, status: "fail", detail: `${name} has no MTA-STS record`, fix: `add ${name}. TXT "${record}"` });
        else if (!rec.includes(`id=${id}`)) out.push({ check: "mta-sts", record: `${name} TXT`, status: "warn", detail: `id is not ${id} (the hash of the current policy): senders keep the policy they cached`, fix: `set ${name}. TXT "${record}"` });
        else out.push({ check: "mta-sts", record: `${name} TXT`, status: "pass", detail: rec });
      }
      const host = `mta-sts.${domain}`;
      const want = publicAddresses(ctx.host).ipv4;
      const got = await ask("mta-sts", `${host} A`, () => ctx.dns.a(host));
      if (isResult(got)) out.push(got);
      else if (want.length && !want.every((a) => got.includes(a))) out.push({ check: "mta-sts", record: `${host} A`, status: "fail", detail: `${host} resolves to ${got.join(", ") || "nothing"}, not to this host (${want.join(", ")})`, fix: `add ${host}. CNAME ${fqdn}.` });
      else out.push({ check: "mta-sts", record: `${host} A`, status: "pass", detail: `${host} -> ${got.join(", ")}` });
      if (ctx.fetch) out.push(...(await policyFetch(ctx, host, policy!)));
    }
    if (vars.dns_tlsrpt_enabled) {
      const name = `_smtp._tls.${domain}`;
      const txt = await ask("tls-rpt", `${name} TXT`, () => ctx.dns.txt(name));
      if (isResult(txt)) out.push(txt);
      else if (!txt.some((t) => /^v=TLSRPTv1;\s*rua=/.test(t))) out.push({ check: "tls-rpt", record: `${name} TXT`, status: "fail", detail: `${name} has no TLS-RPT record`, fix: `add ${name}. TXT "v=TLSRPTv1; rua=mailto:${dmarcRua(ctx.host)}"` });
      else out.push({ check: "tls-rpt", record: `${name} TXT`, status: "pass", detail: txt.find((t) => t.startsWith("v=TLSRPTv1"))! });
    }
    return out;
  },
};

/** The policy as a sender fetches it (RFC 8461 §3.3: HTTPS, a certificate valid for the name, 200, text/plain), against the inventory and the MX records. */
async function policyFetch(ctx: CheckContext, host: string, want: string): Promise<CheckResult[]> {
  const { domain } = ctx.host;
  const record = `https://${host}${MTA_STS_PATH}`;
  let a: HttpsAnswer;
  try {
    a = await ctx.fetch!(host, MTA_STS_PATH);
  } catch (e) {
    return [{ check: "mta-sts", record, status: "fail", detail: `cannot fetch the policy: ${(e as Error).message}`, fix: `senders fetch it like this and give up: is web_enabled on and lighttpd running, does the certificate name ${host} (converge again), is port 443 open?` }];
  }
  const out: CheckResult[] = [];
  if (a.status !== 200) return [{ check: "mta-sts", record, status: "fail", detail: `HTTP ${a.status}`, fix: "converge the web role again (it writes the policy)" }];
  if (!/^text\/plain/i.test(a.headers["content-type"] ?? "")) out.push({ check: "mta-sts", record, status: "fail", detail: `served as ${a.headers["content-type"] ?? "no type"}, not text/plain (RFC 8461 §3.2)`, fix: "converge the web role again" });
  if (a.body !== want) out.push({ check: "mta-sts", record, status: "fail", detail: `the served policy is not the inventory's: ${JSON.stringify(a.body.slice(0, 160))}`, fix: "converge the web role again; behind a proxy, make sure it passes mta-sts.<domain> to this host" });
  else out.push({ check: "mta-sts", record, status: "pass", detail: `served over verified HTTPS: ${want.trim().replace(/\r?\n/g, "; ")}` });
  // Every MX must match a policy mx line, or an enforcing sender refuses it (§4.1).
  const mx = await ask("mta-sts", `${domain} MX`, () => ctx.dns.mx(domain));
  if (!isResult(mx)) {
    const patterns = policyMx(a.body);
    const bad = mx.map((m) => lower(m.exchange)).filter((m) => !patterns.some((p) => mxMatches(p, m)));
    if (bad.length) out.push({ check: "mta-sts", record: `${domain} MX`, status: "fail", detail: `MX ${bad.join(", ")} not in the policy's mx lines (${patterns.join(", ")}): enforcing senders refuse to deliver there`, fix: "add them to web_mta_sts_extra_mx, or remove the MX records" });
    else out.push({ check: "mta-sts", record: `${domain} MX`, status: "pass", detail: `every MX (${mx.map((m) => lower(m.exchange)).join(", ")}) is in the policy` });
  }
  return out;
}

/** Thunderbird's autoconfig file, fetched as a client does, names this host's IMAPS and submission ports. */
export const autoconfigCheck: CheckModule = {
  name: "autoconfig",
  async run(ctx) {
    const { domain, vars, fqdn } = ctx.host;
    const w = webVars(vars);
    if (!w.web_enabled || !w.web_autoconfig_enabled) return [];
    const host = `autoconfig.${domain}`;
    const out: CheckResult[] = [];
    const got = await ask("autoconfig", `${host} A`, () => ctx.dns.a(host));
    if (isResult(got)) return [got];
    if (got.length === 0) return [{ check: "autoconfig", record: `${host} A`, status: "fail", detail: `${host} does not resolve`, fix: `add ${host}. CNAME ${fqdn}.` }];
    if (!ctx.fetch) return [{ check: "autoconfig", record: `${host} A`, status: "pass", detail: `${host} -> ${got.join(", ")}` }];
    const record = `https://${host}${AUTOCONFIG_PATH}`;
    try {
      const a = await ctx.fetch(host, `${AUTOCONFIG_PATH}?emailaddress=postmaster%40${domain}`);
      const ok = a.status === 200 && a.body.includes(`<hostname>${fqdn}</hostname>`) && a.body.includes("<port>993</port>");
      out.push(ok ? { check: "autoconfig", record, status: "pass", detail: `names ${fqdn}: IMAPS 993, submission 465 and 587` } : { check: "autoconfig", record, status: "fail", detail: `HTTP ${a.status}, ${a.body.length} bytes, not this host's settings`, fix: "converge the web role again" });
    } catch (e) {
      out.push({ check: "autoconfig", record, status: "fail", detail: `cannot fetch it: ${(e as Error).message}`, fix: `does the certificate name ${host} (converge again), is port 443 open?` });
    }
    return out;
  },
};

/** The DNSBL query name of an address: IPv4's octets reversed (RFC 5782 §2.1), IPv6's 32 nibbles reversed (§2.4). */
export function dnsblName(ip: string, zone: string): string {
  return `${reverseName(ip).replace(/\.(in-addr|ip6)\.arpa$/, "")}.${zone}`;
}

export const dnsblCheck: CheckModule = {
  name: "dnsbl",
  async run(ctx) {
    const out: CheckResult[] = [];
    // IPv6 too: ZEN, and any list that answers for it, lists IPv6 senders (a list that has no IPv6
    // data just says "not listed")
    const addrs = publicAddresses(ctx.host);
    for (const ip of [...addrs.ipv4, ...addrs.ipv6]) {
      for (const zone of ctx.host.vars.dns_dnsbl_zones) {
        const q = dnsblName(ip, zone);
        const record = `${ip} on ${zone}`;
        let got: string[];
        try {
          got = await ctx.dns.a(q);
        } catch (e) {
          out.push({ check: "dnsbl", record, status: "warn", detail: `cannot ask ${zone}: ${(e as Error).message}`, fix: "ask again later or with another --resolver" });
          continue;
        }
        // RFC 5782 §2.1: listings are 127.0.0.0/8; Spamhaus answers 127.255.255.x when it refuses the resolver.
        const listed = got.filter((a) => a.startsWith("127.") && !a.startsWith("127.255.255."));
        if (listed.length) out.push({ check: "dnsbl", record, status: "fail", detail: `${ip} is listed on ${zone} (${listed.join(", ")}): receivers using it refuse your mail`, fix: `find why on ${zone}'s web site (removal form); a fresh cloud address is often listed for its previous user: ask for another address or use the relay (relay_enabled)` });
        else if (got.length) out.push({ check: "dnsbl", record, status: "warn", detail: `${zone} answered ${got.join(", ")} (query refused: public resolvers are blocked by some lists)`, fix: "run verify.ts with --resolver pointing at a resolver of your own" });
        else out.push({ check: "dnsbl", record, status: "pass", detail: `${ip} is not listed on ${zone}` });
      }
    }
    return out;
  },
};

export const outboundCheck: CheckModule = {
  name: "outbound-25",
  async run(ctx) {
    const { vars } = ctx.host;
    const record = `outbound port 25 (${vars.dns_outbound_probe_domain} MX)`;
    if (vars.relay_enabled) return [{ check: "outbound-25", record, status: "pass", detail: `not needed: mail leaves through the relay ${vars.relay_host}:${(vars as { relay_port?: number }).relay_port ?? 587}` }];
    if (!ctx.probe) return [{ check: "outbound-25", record, status: "warn", detail: "not checked (no connection to the host)" }];
    const mx = await ask("outbound-25", record, () => ctx.dns.mx(vars.dns_outbound_probe_domain));
    if (isResult(mx)) return [{ ...mx, status: "warn" }];
    const best = [...mx].sort((a, b) => a.priority - b.priority)[0];
    const addr = best ? (await ctx.dns.a(best.exchange).catch(() => []))[0] : undefined;
    if (!best || !addr) return [{ check: "outbound-25", record, status: "warn", detail: `${vars.dns_outbound_probe_domain} has no usable MX`, fix: "set dns_outbound_probe_domain to a domain whose MX answers" }];
    const r = await ctx.probe(addr);
    if (r.ok) return [{ check: "outbound-25", record, status: "pass", detail: `the host reached ${best.exchange} (${addr}) on port 25: ${r.detail}` }];
    return [{ check: "outbound-25", record, status: "fail", detail: `the host cannot reach ${best.exchange} (${addr}) on port 25: ${r.detail}`, fix: "your provider blocks outbound port 25 (Oracle Cloud does for free accounts): set relay_enabled with a smarthost on 587 (relay_host, relay_username, relay_password) and add its SPF include to dns_spf_includes" }];
  },
};

/** Every check, in the order they are printed. More modules (e.g. certificates) append here. */
export const checkModules: CheckModule[] = [addressCheck, ptrCheck, mxCheck, spfCheck, dkimCheck, dmarcCheck, mtaStsCheck, autoconfigCheck, dnsblCheck, outboundCheck];

export async function runChecks(ctx: CheckContext, modules: CheckModule[] = checkModules): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const m of modules) {
    try {
      out.push(...(await m.run(ctx)));
    } catch (e) {
      out.push({ check: m.name, record: m.name, status: "fail", detail: `check crashed: ${(e as Error).message}` });
    }
  }
  return out;
}
