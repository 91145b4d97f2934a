import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

const domainName = { type: "string" as const, pattern: "^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$", "x-expected": "a DNS name such as example.org" };

/**
 * Settings of the `dns` role: what playbooks/dns.ts prints and playbooks/verify.ts
 * checks. The role changes nothing on the host: DNS lives at your provider.
 */
export const dnsDefaults = defineDefaults("dns", {
  dns_public_ipv4: {
    format: formats.ip({ family: 4 }),
    default: "",
    why: "The host's public IPv4 when the VM only sees a private one (Oracle Cloud, NAT); empty = the global IPv4 addresses the host has.",
    schema: { type: "string", pattern: "^$|^(\\d{1,3}\\.){3}\\d{1,3}$", "x-expected": "an IPv4 address, or empty" },
  },
  dns_public_ipv6: {
    format: formats.ip({ family: 6 }),
    default: "",
    why: "The host's public IPv6 when it differs from what the host sees; empty = the global IPv6 addresses the host has (none is fine: IPv4 only).",
    schema: { type: "string", pattern: "^$|^[0-9A-Fa-f:]+$", "x-expected": "an IPv6 address, or empty" },
  },
  dns_ttl: {
    default: 3600,
    why: "TTL of the printed records: an hour, short enough to fix a mistake the same day.",
    schema: { type: "integer", minimum: 60, maximum: 86400 },
  },
  dns_spf_includes: {
    default: [],
    why: "Extra SPF include: domains, e.g. your relay provider's (relay_enabled): mail leaving through it must be authorised by your SPF record (RFC 7208 §5.2).",
    schema: { type: "array", uniqueItems: true, items: domainName },
  },
  dns_dmarc_policy: {
    default: "quarantine",
    why: "DMARC policy for mail failing SPF and DKIM alignment: quarantine (spam folder) is safe once DKIM signs everything; reject is stricter; none only monitors (RFC 7489 §6.3).",
    schema: { type: "string", enum: ["none", "quarantine", "reject"] },
  },
  dns_dmarc_rua: {
    format: formats.address(),
    default: "",
    why: "Where aggregate DMARC reports go (rua=mailto:); empty = status_admin_email when it is an address of the mail domain, else postmaster@<mail domain>, which exists on every mailstead host (RFC 2142).",
    schema: { type: "string", pattern: "^$|^[^@\\s]+@[^@\\s]+$", "x-expected": "a mail address, or empty" },
  },
  dns_tlsrpt_enabled: {
    default: true,
    why: "Print and check the TLS-RPT record (RFC 8460): senders report TLS failures (MTA-STS, DANE, STARTTLS) to the rua address (dns_dmarc_rua, postmaster@ by default); MTA-STS testing mode is only useful with it.",
    schema: { type: "boolean" },
  },
  dns_srv_records: {
    default: true,
    why: "Print RFC 6186/8314 SRV records so mail clients find IMAPS 993 and submission 465/587 from the address alone (autoconfiguration).",
    schema: { type: "boolean" },
  },
  dns_dnsbl_zones: {
    format: formats.domain(),
    default: ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"],
    why: "DNS block lists verify.ts looks the host's addresses up in: a listed address has its mail refused by most receivers.",
    schema: { type: "array", uniqueItems: true, items: domainName },
  },
  dns_outbound_probe_domain: {
    format: formats.domain(),
    default: "gmail.com",
    why: "verify.ts connects from the host to port 25 of this domain's MX to see whether outbound port 25 is open (Oracle blocks it: then turn relay_enabled on).",
    schema: domainName,
  },
});
