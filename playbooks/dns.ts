/**
 * Print every DNS record the mail domain needs, computed from the inventory
 * and facts read from each host over SSH (its public addresses, its DKIM key):
 *   npx tsx playbooks/dns.ts -i inventory/hosts.yml [--format zone|table|json] [--limit NAME|GROUP]
 * `zone` pastes into a BIND zone file as is. Nothing on the host changes.
 */
import { Command, CommanderError, Option } from "commander";
import { InputError } from "../lib/errors.js";
import { gatherHost, loadHosts } from "../dns/gather.js";
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
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed") return 0;
      err(`error: ${e.message.replace(/^error: /, "")}\nusage: npx tsx playbooks/dns.ts -i inventory/hosts.yml [--format zone|table|json] [--limit NAME|GROUP]\n`);
      return 2;
    }
    throw e;
  }
  const o = program.opts<{ inventory: string; format: "zone" | "table" | "json"; limit?: string; acceptNewHostKeys: boolean }>();
  let loaded;
  try {
    loaded = loadHosts(o.inventory, o.limit);
  } catch (e) {
    if (e instanceof InputError) {
      err(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  for (const w of loaded.warnings) err(`warning: ${w}\n`);
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

if (import.meta.url === `file://${process.argv[1]}`) {
  dnsMain(process.argv.slice(2)).then(
    (c) => (process.exitCode = c),
    (e: Error) => {
      process.stderr.write(`internal error: ${e.stack ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
