/**
 * Print every DNS record the mail domain needs, computed from the inventory
 * and facts read from each host over SSH (its public addresses, its DKIM key):
 *   npx tsx playbooks/dns.ts -i inventory/hosts.yml [--format zone|table|json] [--limit NAME|GROUP]
 * `zone` pastes into a BIND zone file as is. Nothing on the host changes.
 */
import { Command, Option } from "commander";
import { gatherHost } from "../dns/gather.js";
import { loadHostsOrReport, parseArgv, runAsScript } from "../dns/playbook.js";
import { computeRecords, formatTable, formatZone, rdata, type DnsRecord } from "../dns/records.js";

export interface DnsOutput {
  host: string;
  fqdn: string;
  domain: string;
  records: (DnsRecord & { rdata: string })[];
}

export async function dnsMain(argv: string[], out = (s: string) => process.stdout.write(s), err = (s: string) => process.stderr.write(s)): Promise<number> {
  const program = new Command("dns")
    .description("Print the DNS records the mail domain needs")
    .requiredOption("-i, --inventory <file>", "inventory YAML file")
    .addOption(new Option("--format <format>", "output format").choices(["zone", "table", "json"]).default("zone"))
    .option("--limit <names>", "only these hosts or groups (comma-separated)")
    .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: (s) => out(s) })
    .allowExcessArguments(false);
  const parsed = parseArgv(program, argv, "npx tsx playbooks/dns.ts -i inventory/hosts.yml [--format zone|table|json] [--limit NAME|GROUP]", err);
  if (parsed !== undefined) return parsed;
  const o = program.opts<{ inventory: string; format: "zone" | "table" | "json"; limit?: string; acceptNewHostKeys: boolean }>();
  const loaded = loadHostsOrReport(o.inventory, o.limit, err);
  if (!loaded) return 2;
  const results: DnsOutput[] = [];
  let failed = false;
  for (const spec of loaded.hosts) {
    try {
      const g = await gatherHost(spec, o.acceptNewHostKeys);
      await g.transport.close();
      for (const w of g.warnings) err(`warning: ${w}\n`);
      results.push({ host: spec.name, fqdn: g.input.fqdn, domain: g.input.domain, records: computeRecords(g.input).map((r) => ({ ...r, rdata: rdata(r) })) });
    } catch (e) {
      err(`error: ${spec.name}: ${loaded.redact((e as Error).message)}\n`);
      failed = true;
    }
  }
  if (o.format === "json") out(`${JSON.stringify(results, null, 2)}\n`);
  else
    for (const r of results) {
      const head = `${r.host} (${r.fqdn}), mail domain ${r.domain}`;
      out(o.format === "zone" ? `; ==== ${head}\n${formatZone(r.records)}\n` : `== ${head}\n${formatTable(r.records)}\n`);
    }
  return failed ? 1 : 0;
}

runAsScript(import.meta.url, (argv) => dnsMain(argv));
