/**
 * Publish the records playbooks/dns.ts computes into the lab DNS (Knot, with
 * the lab's admin TSIG key), as a user would paste them at their provider:
 *   npx tsx scripts/demo-dns.ts [inventory]   (default: the lab's inventory, --limit mail)
 * Used by scripts/demo.sh and the e2e tests. Lab only.
 */
import { spawnSync } from "node:child_process";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseZone, type ZoneEntry } from "../dns/records.js";
import { loadLabState, setRecord, type LabState } from "../tests/lab/index.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Run dns.ts --format zone (the real CLI) and return its output. */
export function dnsZone(inventory: string, limit = "mail"): string {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "playbooks/dns.ts"), "-i", inventory, "--format", "zone", "--limit", limit], { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  if (r.status !== 0) throw new Error(`dns.ts failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Replace, per name and type, the lab's records with the zone text's. Returns the entries loaded. */
export async function publishZone(zoneText: string, state: LabState = loadLabState()): Promise<ZoneEntry[]> {
  const entries = parseZone(zoneText);
  const groups = new Map<string, ZoneEntry[]>();
  for (const e of entries) groups.set(`${e.name} ${e.type}`, [...(groups.get(`${e.name} ${e.type}`) ?? []), e]);
  for (const list of groups.values()) await setRecord(list[0]!.name, list[0]!.type, list.map((e) => e.rdata), { ttl: 60, state });
  return entries;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const state = loadLabState();
  const inv = process.argv[2] ?? state.inventory;
  const zone = dnsZone(inv);
  const loaded = await publishZone(zone, state);
  console.log(`published ${loaded.length} records into the lab DNS (${[...new Set(loaded.map((e) => e.type))].join(", ")})`);
}
