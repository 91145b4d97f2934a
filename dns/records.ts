/**
 * The DNS records a mailstead host needs, computed from its settings and a few
 * facts read from the host (public addresses, DKIM public keys). Pure: no
 * network, no host; printed by playbooks/dns.ts, checked by playbooks/verify.ts.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { DnsVars } from "../roles/dns/index.js";
import { mtaStsRecord, webSites, type SiteVars } from "../roles/web/sites.js";
import { webDefaults } from "../roles/web/defaults.js";
import { defaultValues } from "../lib/defaults.js";

export type RecordType = "A" | "AAAA" | "CNAME" | "MX" | "TXT" | "SRV" | "PTR";

export interface DnsRecord {
  /** Owner name, fully qualified, without the trailing dot. */
  name: string;
  type: RecordType;
  ttl: number;
  /** Presentation data; for TXT the whole string, unquoted and unsplit. */
  value: string;
  /** What the record is for (one line). */
  purpose: string;
  /** Extra advice for whoever enters the record (provider quirks...). */
  note?: string;
  /** "zone": goes into the domain's zone. "provider": the PTR, set by whoever owns the address. */
  where: "zone" | "provider";
}

export interface DkimPublicKey {
  selector: string;
  algorithm: "rsa" | "ed25519";
  /** The p= value: base64 of the SubjectPublicKeyInfo (RSA) or of the raw 32-byte key (Ed25519). */
  publicKey: string;
}

export interface HostFacts {
  ipv4: string[];
  ipv6: string[];
  dkim: DkimPublicKey[];
}

/** Everything needed to compute one host's records. */
export interface DnsHostInput {
  fqdn: string;
  /** The mail domain (MX, SPF, DKIM, DMARC owner). */
  domain: string;
  facts: HostFacts;
  vars: DnsVars &
    Partial<SiteVars> & { relay_enabled?: boolean; relay_host?: string; status_admin_email?: string };
}

/** The addresses to publish: the overrides when set, else what the host sees. */
export function publicAddresses(h: Pick<DnsHostInput, "facts" | "vars">): { ipv4: string[]; ipv6: string[] } {
  return {
    ipv4: h.vars.dns_public_ipv4 ? [h.vars.dns_public_ipv4] : h.facts.ipv4,
    ipv6: h.vars.dns_public_ipv6 ? [h.vars.dns_public_ipv6] : h.facts.ipv6,
  };
}

/** SPF for the mail domain: its MX hosts, the relay's includes, nothing else (RFC 7208). */
export function spfRecord(includes: string[]): string {
  return ["v=spf1", "mx", ...includes.map((d) => `include:${d}`), "-all"].join(" ");
}

export function dmarcRecord(policy: string, rua: string): string {
  return `v=DMARC1; p=${policy}; rua=mailto:${rua}`;
}

export function dkimRecord(k: DkimPublicKey): string {
  return `v=DKIM1; k=${k.algorithm}; p=${k.publicKey}`;
}

/** The web role's settings of a host's vars, with the role's defaults where a partial input (a test) leaves them out. */
export function webVars(v: Partial<SiteVars>): SiteVars {
  return { ...(defaultValues(webDefaults) as unknown as SiteVars), ...v } as SiteVars;
}

/** in-addr.arpa / ip6.arpa name of an address. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  return `${expandIPv6(ip).replace(/:/g, "").split("").reverse().join(".")}.ip6.arpa`;
}

/** 2001:db8::1 -> 2001:0db8:0000:0000:0000:0000:0000:0001 */
export function expandIPv6(ip: string): string {
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail ? tail.split(":") : [];
  const fill = tail !== undefined ? Array(8 - h.length - t.length).fill("0") : [];
  return [...h, ...fill, ...t].map((g) => g.padStart(4, "0")).join(":");
}

/**
 * The DMARC and TLS-RPT report address: the setting, else the admin's (status_admin_email) when it
 * is an address of this domain (reports to another domain need that domain's consent record,
 * RFC 7489 §7.1), else postmaster@<domain>.
 */
export function dmarcRua(h: Pick<DnsHostInput, "domain" | "vars">): string {
  const admin = String(h.vars.status_admin_email ?? "");
  const own = admin.toLowerCase().endsWith(`@${h.domain.toLowerCase()}`) ? admin : "";
  return h.vars.dns_dmarc_rua || own || `postmaster@${h.domain}`;
}

/** Every record one host needs, in the order a person would enter them. */
export function computeRecords(h: DnsHostInput): DnsRecord[] {
  const v = h.vars;
  const ttl = v.dns_ttl;
  const { ipv4, ipv6 } = publicAddresses(h);
  const out: DnsRecord[] = [];
  const zone = (name: string, type: RecordType, value: string, purpose: string, note?: string) =>
    out.push({ name, type, ttl, value, purpose, where: "zone", ...(note ? { note } : {}) });
  for (const ip of ipv4) zone(h.fqdn, "A", ip, "the mail host's IPv4 address (EHLO name, MX target)");
  for (const ip of ipv6) zone(h.fqdn, "AAAA", ip, "the mail host's IPv6 address (EHLO name, MX target)");
  zone(h.domain, "MX", `10 ${h.fqdn}.`, `mail for ${h.domain} goes to ${h.fqdn}`);
  const relayNote =
    v.relay_enabled && v.dns_spf_includes.length === 0
      ? `relay_enabled is on but dns_spf_includes is empty: add your relay provider's SPF include (its documentation names it), or mail relayed through ${v.relay_host || "it"} fails SPF`
      : undefined;
  zone(h.domain, "TXT", spfRecord(v.dns_spf_includes), `SPF: only ${h.domain}'s MX${v.dns_spf_includes.length ? " and the relay" : ""} may send its mail (-all: everyone else fails)`, relayNote);
  zone(h.fqdn, "TXT", "v=spf1 a -all", `SPF for the EHLO name ${h.fqdn} (bounces and HELO checks, RFC 7208 §2.3)`);
  for (const k of h.facts.dkim) {
    zone(
      `${k.selector}._domainkey.${h.domain}`,
      "TXT",
      dkimRecord(k),
      `DKIM public key (${k.algorithm === "rsa" ? "RSA 2048" : "Ed25519"}, selector ${k.selector})`,
      k.algorithm === "rsa"
        ? "longer than 255 bytes: a TXT record holds it as several strings, printed split below; web UIs that want one string take the whole value pasted at once and split it themselves (Cloudflare, Gandi...); some need the parts in quotes, each under 255 characters"
        : undefined,
    );
  }
  zone(`_dmarc.${h.domain}`, "TXT", dmarcRecord(v.dns_dmarc_policy, dmarcRua(h)), `DMARC: p=${v.dns_dmarc_policy} for mail failing SPF and DKIM alignment; aggregate reports to ${dmarcRua(h)}`);
  // The web side's names point at the host by CNAME: they follow its A/AAAA records.
  const web = webVars(v);
  for (const site of webSites(web, h)) zone(site.name, "CNAME", `${h.fqdn}.`, `${site.purpose}, served by this host (web role)`);
  if (webSites(web, h).some((s) => s.name.startsWith("autodiscover."))) {
    zone(`_autodiscover._tcp.${h.domain}`, "SRV", `0 0 443 ${h.fqdn}.`, "Outlook's autodiscover over HTTPS on this host (it tries this SRV record when the names fail)");
  }
  const sts = mtaStsRecord(web, h);
  if (sts) {
    zone(`_mta-sts.${h.domain}`, "TXT", sts, `MTA-STS (RFC 8461): senders must use TLS to ${h.fqdn} (mode ${v.web_mta_sts_mode})`, `the id is the hash of the policy served at https://mta-sts.${h.domain}/.well-known/mta-sts.txt: it changes exactly when the policy does`);
  }
  if (v.dns_tlsrpt_enabled) zone(`_smtp._tls.${h.domain}`, "TXT", `v=TLSRPTv1; rua=mailto:${dmarcRua(h)}`, "TLS-RPT (RFC 8460): where senders report TLS failures");
  if (v.dns_srv_records) {
    zone(`_submissions._tcp.${h.domain}`, "SRV", `0 1 465 ${h.fqdn}.`, "autoconfiguration: submission over TLS (RFC 8314 §5.1)");
    zone(`_submission._tcp.${h.domain}`, "SRV", `10 1 587 ${h.fqdn}.`, "autoconfiguration: submission with STARTTLS (RFC 6186)");
    zone(`_imaps._tcp.${h.domain}`, "SRV", `0 1 993 ${h.fqdn}.`, "autoconfiguration: IMAP over TLS (RFC 6186)");
    zone(`_imap._tcp.${h.domain}`, "SRV", "0 0 0 .", "autoconfiguration: no plaintext IMAP (RFC 6186 §3.4: target '.')");
    zone(`_pop3._tcp.${h.domain}`, "SRV", "0 0 0 .", "autoconfiguration: no POP3");
    zone(`_pop3s._tcp.${h.domain}`, "SRV", "0 0 0 .", "autoconfiguration: no POP3S");
  }
  for (const ip of [...ipv4, ...ipv6]) {
    out.push({
      name: reverseName(ip),
      type: "PTR",
      ttl,
      value: `${h.fqdn}.`,
      purpose: `reverse DNS of ${ip}: must name ${h.fqdn}, the EHLO name (Gmail refuses mail without it)`,
      note: "set by whoever owns the address, not in your zone: in your VPS provider's console, or (Oracle Cloud) by a support request, which is accepted only after the A record exists",
      where: "provider",
    });
  }
  return out;
}

/** Split a TXT value into strings of at most `max` bytes (RFC 1035 §3.3.14; RFC 7208 §3.3). */
export function txtChunks(value: string, max = 255): string[] {
  const out: string[] = [];
  let cur = "";
  for (const ch of value) {
    if (Buffer.byteLength(cur + ch) > max) {
      out.push(cur);
      cur = "";
    }
    cur += ch;
  }
  if (cur || out.length === 0) out.push(cur);
  return out;
}

/** The record's data as a zone file writes it: TXT as quoted strings of ≤ 255 bytes. */
export function rdata(r: Pick<DnsRecord, "type" | "value">): string {
  if (r.type !== "TXT") return r.value;
  return txtChunks(r.value).map((c) => `"${c.replace(/(["\\])/g, "\\$1")}"`).join(" ");
}

/** BIND zone-file lines, one section per zone, notes as comments; PTRs commented out (not your zone). */
export function formatZone(records: DnsRecord[]): string {
  const lines: string[] = ["; DNS records for mailstead, computed by playbooks/dns.ts.", "; Names are absolute (trailing dot): paste into the zone file of the domain as is."];
  for (const r of records) {
    lines.push("", `; ${r.purpose}`);
    if (r.note) lines.push(`; NOTE: ${r.note}`);
    const line = `${r.name}.\t${r.ttl}\tIN\t${r.type}\t${rdata(r)}`;
    lines.push(r.where === "provider" ? `; ask your provider for: ${line}` : line);
  }
  return `${lines.join("\n")}\n`;
}

export function formatTable(records: DnsRecord[]): string {
  const rows = records.map((r) => [r.where === "provider" ? `${r.name} (ask provider)` : r.name, r.type, String(r.ttl), r.type === "TXT" ? rdata(r) : r.value]);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((x) => x[i]!.length), ["name", "type", "ttl"][i]!.length));
  const fmt = (x: string[]) => `${x[0]!.padEnd(w[0]!)}  ${x[1]!.padEnd(w[1]!)}  ${x[2]!.padEnd(w[2]!)}  ${x[3]}`;
  const notes = records.filter((r) => r.note).map((r) => `- ${r.name} ${r.type}: ${r.note}`);
  return `${[fmt(["name", "type", "ttl", "value"]), ...rows.map(fmt)].join("\n")}\n${notes.length ? `\nNotes:\n${notes.join("\n")}\n` : ""}`;
}

export interface ZoneEntry {
  name: string;
  ttl: number;
  type: string;
  rdata: string;
}

/** Read back the record lines of formatZone's output (comments skipped); used to load the lab DNS. */
export function parseZone(text: string): ZoneEntry[] {
  const out: ZoneEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith(";")) continue;
    const m = /^(\S+)\s+(\d+)\s+IN\s+([A-Z]+)\s+(.+)$/.exec(line);
    if (!m) throw new Error(`cannot parse zone line: ${line}`);
    out.push({ name: m[1]!.replace(/\.$/, ""), ttl: Number(m[2]), type: m[3]!, rdata: m[4]! });
  }
  return out;
}

/** The strings of a TXT rdata ("a" "b" -> ["a", "b"]). */
export function txtStrings(rd: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(rd); m; m = re.exec(rd)) out.push(m[1]!.replace(/\\(.)/g, "$1"));
  return out;
}
