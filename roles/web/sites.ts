/**
 * The web side's names and files, computed from the vars (pure: the web role
 * writes them, playbooks/dns.ts publishes the names and the policy's id,
 * playbooks/verify.ts fetches them and compares).
 */
import { createHash } from "node:crypto";
import { field } from "../../lib/text.js";
import type { WebVars } from "./index.js";

/** The web role's settings that decide the sites and the policy. */
export type SiteVars = Pick<WebVars, "web_enabled" | "web_mta_sts_mode" | "web_mta_sts_max_age" | "web_mta_sts_extra_mx" | "web_autoconfig_enabled">;

/** The host's mail names: its FQDN (the MX) and the mail domain (derived(vars) on the host's side). */
export interface SiteHost {
  fqdn: string;
  domain: string;
}

export const MTA_STS_PATH = "/.well-known/mta-sts.txt";
export const AUTOCONFIG_PATH = "/mail/config-v1.1.xml";
export const AUTODISCOVER_PATH = "/autodiscover/autodiscover.xml";
/** Apple profiles, one per mailbox: /apple/<user>.mobileconfig on the autoconfig name. */
export const APPLE_DIR = "/apple";

export interface WebSite {
  /** The DNS name clients ask for (the Host header and the TLS SNI). */
  name: string;
  /** Directory under web_root holding its files. */
  dir: string;
  /** What it is for (one line, for docs, dns.ts and the lighttpd config's comments). */
  purpose: string;
}

/** The names the web side serves (each needs DNS pointing at the host and a place on the certificate). */
export function webSites(v: SiteVars, h: SiteHost): WebSite[] {
  if (!v.web_enabled) return [];
  const out: WebSite[] = [{ name: `mta-sts.${h.domain}`, dir: "mta-sts", purpose: `the MTA-STS policy of ${h.domain} (RFC 8461)` }];
  if (v.web_autoconfig_enabled) {
    out.push({ name: `autoconfig.${h.domain}`, dir: "autoconfig", purpose: `mail client autoconfiguration for ${h.domain} (Thunderbird's config-v1.1.xml, Apple profiles)` });
    out.push({ name: `autodiscover.${h.domain}`, dir: "autoconfig", purpose: `Outlook's autodiscover for ${h.domain} (the POX answer to its POST)` });
  }
  return out;
}

/** The web names the certificate must carry besides the host name. */
export const webNames = (v: SiteVars, h: SiteHost): string[] => webSites(v, h).map((s) => s.name);

/** The MX host names the policy allows: this host, then the extra ones. */
export function mtaStsMx(v: SiteVars, h: SiteHost): string[] {
  // Each name is one policy line: whitespace would split it (the loader refuses it first, formats.hostname).
  return [...new Set([h.fqdn, ...v.web_mta_sts_extra_mx].map((n) => field(n, "web_mta_sts_extra_mx", /\s/).toLowerCase()))];
}

/**
 * The policy file (RFC 8461 §3.2): CRLF line ends as the RFC's ABNF writes them
 * (senders accept LF too), keys in its order. Mode none keeps the file (senders that
 * cached the policy must see it withdrawn, §8.3) with max_age one day.
 */
export function mtaStsPolicy(v: SiteVars, h: SiteHost): string {
  const lines = ["version: STSv1", `mode: ${v.web_mta_sts_mode}`, ...mtaStsMx(v, h).map((m) => `mx: ${m}`), `max_age: ${v.web_mta_sts_mode === "none" ? 86400 : v.web_mta_sts_max_age}`];
  return lines.map((l) => `${l}\r\n`).join("");
}

/** The _mta-sts TXT id: 1-32 alphanumerics (RFC 8461 §3.1), here the policy's hash, so it changes exactly when the policy does. */
export function mtaStsId(policy: string): string {
  return createHash("sha256").update(policy).digest("hex").slice(0, 20);
}

/** The _mta-sts TXT record's value for these vars (undefined: no policy published). */
export function mtaStsRecord(v: SiteVars, h: SiteHost): string | undefined {
  if (!v.web_enabled) return undefined;
  return `v=STSv1; id=${mtaStsId(mtaStsPolicy(v, h))}`;
}

/** A stable UUID (RFC 4122 layout, version 5 style bits) from a name: the same profile keeps the same PayloadUUID across converges. */
export function stableUuid(name: string): string {
  const h = createHash("sha256").update(name).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/** The Apple profile of each mailbox: its file name and what its template needs. */
export function appleProfiles(h: SiteHost, addresses: string[]): { file: string; vars: Record<string, string> }[] {
  const reverse = h.domain.split(".").reverse().join(".");
  return addresses.map((address) => ({
    file: `${address.split("@")[0]}.mobileconfig`,
    vars: { address, fqdn: h.fqdn, domain: h.domain, reverse, uuid_mail: stableUuid(`mail:${address}`), uuid_profile: stableUuid(`profile:${address}`) },
  }));
}
