/**
 * The dns role changes nothing on the host: it holds the settings of the DNS
 * records the host needs, which playbooks/dns.ts prints (from the inventory and
 * facts read over SSH) and playbooks/verify.ts checks against the live DNS.
 * The computation is in dns/records.ts and dns/checks.ts (pure, unit-tested).
 */
import { isIP } from "node:net";
import { defineRole } from "../../lib/role.js";
import { dnsDefaults } from "./defaults.js";

export interface DnsVars {
  dns_public_ipv4: string;
  dns_public_ipv6: string;
  dns_ttl: number;
  dns_spf_includes: string[];
  dns_dmarc_policy: "none" | "quarantine" | "reject";
  dns_dmarc_rua: string;
  dns_mta_sts_enabled: boolean;
  dns_mta_sts_mode: "testing" | "enforce" | "none";
  dns_tlsrpt_enabled: boolean;
  dns_srv_records: boolean;
  dns_dnsbl_zones: string[];
  dns_outbound_probe_domain: string;
}

export const dns = defineRole<DnsVars>({
  name: "dns",
  description: "Settings of the DNS records the host needs (printed by playbooks/dns.ts, checked by playbooks/verify.ts); changes nothing on the host",
  settings: dnsDefaults,
  validate(v) {
    const out = [];
    if (v.dns_public_ipv4 && isIP(v.dns_public_ipv4) !== 4) out.push({ setting: "dns_public_ipv4", message: `"${v.dns_public_ipv4}" is not an IPv4 address`, fix: "the host's public IPv4 address, e.g. 203.0.113.7 (an IPv6 address goes in dns_public_ipv6)" });
    if (v.dns_public_ipv6 && isIP(v.dns_public_ipv6) !== 6) out.push({ setting: "dns_public_ipv6", message: `"${v.dns_public_ipv6}" is not an IPv6 address`, fix: "the host's public IPv6 address, e.g. 2001:db8::7, or \"\" for none" });
    return out;
  },
  steps: () => [],
});
