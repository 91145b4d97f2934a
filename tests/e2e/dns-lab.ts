/**
 * Shared by the DKIM and DNS e2e tests: an inventory for mx1/mx2 with the
 * lab's DNSBL zone and outbound probe, publishing dns.ts's records into the
 * lab DNS, and restoring whatever was there before (afterAll).
 */
import { Resolver } from "node:dns/promises";
import { parseZone } from "../../dns/records.js";
import { dnsZone, publishZone } from "../../scripts/demo-dns.js";
import { deleteRecord, lookup, setRecord, type LabState } from "../lab/index.js";

export const LAB_RESOLVER = "198.51.100.1";
/** A block list zone under a lab zone: listing an address is one A record (RFC 5782). */
export const LAB_DNSBL = "bl.example.net";

/** Settings every host of these tests gets: nothing may leave 198.51.100.0/24. */
export const dnsLabVars = { dns_dnsbl_zones: [LAB_DNSBL], dns_outbound_probe_domain: "example.net", opendkim_unbound_nodefault_zones: ["test"] };

export function labResolver(): Resolver {
  const r = new Resolver({ timeout: 3000, tries: 2 });
  r.setServers([LAB_RESOLVER]);
  return r;
}

export interface DnsSnapshot {
  restore(): Promise<void>;
}

/** Remember the current values of these (name, type) pairs; restore() puts them back (or deletes). */
export async function snapshot(pairs: [string, string][], state: LabState): Promise<DnsSnapshot> {
  const saved: [string, string, string[]][] = [];
  for (const [n, t] of pairs) saved.push([n, t, await lookup(n, t, state)]);
  return {
    async restore() {
      for (const [n, t, values] of saved) {
        if (values.length) await setRecord(n, t, values, { state });
        else await deleteRecord(n, t, { state });
      }
    },
  };
}

/** Run dns.ts --format zone on the inventory, snapshot what it will replace, load it into the lab DNS. */
export async function publishDns(inventory: string, state: LabState): Promise<{ zone: string; snap: DnsSnapshot }> {
  const zone = dnsZone(inventory);
  const pairs = [...new Map(parseZone(zone).map((e) => [`${e.name} ${e.type}`, [e.name, e.type] as [string, string]])).values()];
  const snap = await snapshot(pairs, state);
  await publishZone(zone, state);
  return { zone, snap };
}
