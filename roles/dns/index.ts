/**
 * The dns role changes nothing on the host: it holds the settings of the DNS
 * records the host needs, which playbooks/dns.ts prints (from the inventory and
 * facts read over SSH) and playbooks/verify.ts checks against the live DNS.
 * The computation is in dns/records.ts and dns/checks.ts (pure, unit-tested).
 */
import { defineRole } from "../../lib/role.js";
import { dnsDefaults } from "./defaults.js";
import type { VarsOf } from "../../lib/defaults.js";

export type DnsVars = VarsOf<typeof dnsDefaults>;

export const dns = defineRole<DnsVars>({
  name: "dns",
  settings: dnsDefaults,
  steps: () => [],
});
