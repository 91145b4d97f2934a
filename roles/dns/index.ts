/**
 * The dns role changes nothing on the host: it holds the settings of the DNS
 * records the host needs, which playbooks/dns.ts prints (from the inventory and
 * facts read over SSH) and playbooks/verify.ts checks against the live DNS.
 * The computation is in dns/records.ts and dns/checks.ts (pure, unit-tested).
 */
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
  settings: dnsDefaults,
  steps: () => [],
});
