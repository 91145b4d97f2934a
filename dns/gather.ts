/**
 * Shared by playbooks/dns.ts and playbooks/verify.ts: load the inventory (the
 * same loader and schema as site.ts), pick the hosts, and read each host's
 * facts through the engine's fact system (one round trip per host).
 */
import { derived } from "../roles/derived.js";
import { ref } from "../lib/facts/types.js";
import { Host } from "../lib/host.js";
import { transportFor } from "../lib/transport/index.js";
import { loadInventory, selectHosts, type HostSpec } from "../lib/inventory/index.js";
import type { Transport } from "../lib/transport/types.js";
import { dkimKeys, type OpendkimVars } from "../roles/opendkim/index.js";
import { allSettings, siteRoles } from "../roles/registry.js";
import { hostAddresses, hostFacts, publicKeyDer } from "./hostfacts.js";
import type { DnsHostInput } from "./records.js";

export interface GatheredHost {
  spec: HostSpec;
  input: DnsHostInput;
  transport: Transport;
  warnings: string[];
}

export function loadHosts(file: string, limit?: string, env: NodeJS.ProcessEnv = process.env): { hosts: HostSpec[]; warnings: string[]; redact: (s: string) => string } {
  const inv = loadInventory(file, { settings: allSettings(), roles: siteRoles, env });
  return { hosts: selectHosts(inv, limit), warnings: inv.warnings, redact: (s) => inv.redactor.redact(s) };
}

export async function gatherHost(spec: HostSpec, acceptNewHostKeys = false): Promise<GatheredHost> {
  const v = spec.vars as unknown as OpendkimVars & DnsHostInput["vars"] & { base_hostname: string; base_domain: string; mailbox_domain: string };
  const transport = transportFor(spec, acceptNewHostKeys);
  const keys = v.opendkim_enabled ? dkimKeys(v).map((k) => ({ selector: k.selector, algorithm: k.algorithm, path: k.pem })) : [];
  // The same fact engine as site.ts: one round trip for the addresses and every key.
  const host = new Host(spec.name, spec.vars, transport);
  const addresses = ref(hostAddresses, undefined);
  const ders = keys.map((k) => ref(publicKeyDer, k.path));
  await host.gather([addresses, ...ders]);
  const f = hostFacts(host.get(addresses), keys.map((k, i) => ({ ...k, der: host.get(ders[i]!) })));
  const warnings: string[] = [];
  for (const s of f.missingKeys) warnings.push(`${spec.name}: no DKIM key for selector ${s} yet: converge first (playbooks/site.ts)`);
  if (f.ipv4.length === 0 && !v.dns_public_ipv4 && f.privateAddresses.length) warnings.push(`${spec.name}: the host only sees private addresses (${f.privateAddresses.join(", ")}): set dns_public_ipv4 to its public address (NAT, e.g. Oracle Cloud)`);
  return {
    spec,
    transport,
    warnings,
    input: { fqdn: derived(v).fqdn, domain: derived(v).mailDomain, facts: { ipv4: f.ipv4, ipv6: f.ipv6, dkim: f.dkim }, vars: v },
  };
}
