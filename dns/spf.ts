/**
 * A small SPF evaluator (RFC 7208) for verify.ts: does the record authorise
 * an address, and how many DNS lookups does it take (limit 10, §4.6.4)?
 * Supports all, ip4, ip6, a, mx, include, exists, ptr (counted, never
 * matched: deprecated, §5.5) and redirect=. Macros (%{...}) are counted as a
 * lookup and never match (reported).
 */
import { BlockList, isIPv4 } from "node:net";
import type { DnsLookup } from "./resolver.js";

export type SpfResult = "pass" | "fail" | "softfail" | "neutral" | "none" | "permerror" | "temperror";

export interface SpfOutcome {
  result: SpfResult;
  /** DNS-querying terms counted across includes and redirects. */
  lookups: number;
  /** The term that decided, or why it failed. */
  reason: string;
}

export const SPF_LOOKUP_LIMIT = 10;

class PermError extends Error {}

function inNet(ip: string, net: string, len: number | undefined): boolean {
  const v4 = isIPv4(ip);
  const family = v4 ? "ipv4" : "ipv6";
  if (isIPv4(net) !== v4) return false;
  const b = new BlockList();
  try {
    b.addSubnet(net, len ?? (v4 ? 32 : 128), family);
  } catch {
    throw new PermError(`bad network ${net}/${len}`);
  }
  return b.check(ip, family);
}

/** The v=spf1 record of a domain; permerror when there are several. */
export async function spfRecordOf(dns: DnsLookup, domain: string): Promise<string | null> {
  const recs = (await dns.txt(domain)).filter((t) => /^v=spf1(\s|$)/i.test(t));
  if (recs.length > 1) throw new PermError(`${domain} has ${recs.length} SPF records (RFC 7208 §3.2: one only)`);
  return recs[0] ?? null;
}

export async function checkSpf(dns: DnsLookup, domain: string, ip: string): Promise<SpfOutcome> {
  const state = { lookups: 0 };
  try {
    const r = await evaluate(dns, domain, ip, state, 0);
    return { ...r, lookups: state.lookups };
  } catch (e) {
    if (e instanceof PermError) return { result: "permerror", lookups: state.lookups, reason: e.message };
    return { result: "temperror", lookups: state.lookups, reason: (e as Error).message };
  }
}

const QUAL: Record<string, SpfResult> = { "+": "pass", "-": "fail", "~": "softfail", "?": "neutral" };

async function evaluate(dns: DnsLookup, domain: string, ip: string, state: { lookups: number }, depth: number): Promise<Omit<SpfOutcome, "lookups">> {
  if (depth > 10) throw new PermError("include/redirect loop");
  const record = await spfRecordOf(dns, domain);
  if (!record) return { result: "none", reason: `${domain} has no SPF record` };
  const count = (what: string) => {
    state.lookups++;
    if (state.lookups > SPF_LOOKUP_LIMIT) throw new PermError(`more than ${SPF_LOOKUP_LIMIT} DNS lookups (at ${what} in ${domain}'s record; RFC 7208 §4.6.4)`);
  };
  const terms = record.split(/\s+/).slice(1).filter(Boolean);
  let redirect: string | undefined;
  for (const term of terms) {
    const mod = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(term);
    if (mod) {
      if (mod[1]!.toLowerCase() === "redirect") redirect = mod[2]!;
      continue;
    }
    const m = /^([+\-~?]?)([a-z0-9]+)(?::([^/]+))?(?:\/(\d+))?(?:\/\/(\d+))?$/i.exec(term);
    if (!m) throw new PermError(`unknown term "${term}" in ${domain}'s record`);
    const qual = QUAL[m[1] || "+"]!;
    const mech = m[2]!.toLowerCase();
    const arg = m[3];
    const len4 = m[4] !== undefined ? Number(m[4]) : undefined;
    const len6 = m[5] !== undefined ? Number(m[5]) : undefined;
    const len = isIPv4(ip) ? len4 : len6;
    const target = arg ?? domain;
    if (target.includes("%")) {
      count(term);
      continue;
    }
    let match = false;
    switch (mech) {
      case "all":
        match = true;
        break;
      case "ip4":
      case "ip6":
        if (!arg) throw new PermError(`${term} without an address`);
        match = inNet(ip, arg, mech === "ip4" ? len4 : Number(m[4] ?? 128));
        break;
      case "a": {
        count(term);
        const addrs = isIPv4(ip) ? await dns.a(target) : await dns.aaaa(target);
        match = addrs.some((x) => inNet(ip, x, len));
        break;
      }
      case "mx": {
        count(term);
        const mxs = await dns.mx(target);
        if (mxs.length > 10) throw new PermError(`${target} has more than 10 MX records (RFC 7208 §4.6.4)`);
        for (const mx of mxs) {
          const addrs = isIPv4(ip) ? await dns.a(mx.exchange) : await dns.aaaa(mx.exchange);
          if (addrs.some((x) => inNet(ip, x, len))) match = true;
        }
        break;
      }
      case "include": {
        if (!arg) throw new PermError("include without a domain");
        count(term);
        const r = await evaluate(dns, arg, ip, state, depth + 1);
        if (r.result === "none") throw new PermError(`include:${arg} has no SPF record`);
        if (r.result === "permerror" || r.result === "temperror") return r;
        match = r.result === "pass";
        break;
      }
      case "exists":
        count(term);
        match = (await dns.a(target)).length > 0;
        break;
      case "ptr":
        count(term);
        break;
      default:
        throw new PermError(`unknown mechanism "${mech}" in ${domain}'s record`);
    }
    if (match) return { result: qual, reason: `${term} in ${domain}'s record` };
  }
  if (redirect) {
    count(`redirect=${redirect}`);
    const r = await evaluate(dns, redirect, ip, state, depth + 1);
    if (r.result === "none") throw new PermError(`redirect=${redirect} has no SPF record`);
    return r;
  }
  return { result: "neutral", reason: `no term of ${domain}'s record matched` };
}

/** Count only: the lookups a record takes (for any address); throws nothing, permerror shows in the outcome. */
export async function spfLookups(dns: DnsLookup, domain: string): Promise<SpfOutcome> {
  // An address no record can match, so every term is evaluated.
  return checkSpf(dns, domain, "192.0.2.255");
}
