/**
 * Print every DNS record the mail domain needs, computed from the inventory
 * and facts read from each host over SSH (its public addresses, its DKIM key):
 *   npx tsx playbooks/dns.ts -i inventory/hosts.yml [--format zone|table|json] [--limit NAME|GROUP]
 * `zone` pastes into a BIND zone file as is. Nothing on the host changes.
 */
import { Command, Option } from "commander";
import { gatherHost, loadHosts } from "../dns/gather.js";
import { defaultIo, parseCommand, runAsScript, withExitCode, type CliIo } from "../lib/cli.js";
import { computeRecords, formatTable, formatZone, rdata, type DnsRecord } from "../dns/records.js";

export interface DnsOutput {
  host: string;
  fqdn: string;
  domain: string;
  records: (DnsRecord & { rdata: string })[];
}

export async function dnsMain(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const out = (s: string) => void io.stdout.write(s);
  const err = (s: string) => io.err(s.replace(/\n$/, ""));
  return withExitCode(io, async () => {
    const program = new Command("dns")
      .description("Print the DNS records the mail domain needs")
      .requiredOption("-i, --inventory <file>", "inventory YAML file")
      .addOption(new Option("--format <format>", "output format").choices(["zone", "table", "json"]).default("zone"))
      .option("--limit <names>", "only these hosts or groups (comma-separated)")
      .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false)
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: (s) => out(s) })
      .allowExcessArguments(false);
    parseCommand(program, argv, "npx tsx playbooks/dns.ts -i inventory/hosts.yml [--format zone|table|json] [--limit NAME|GROUP]");
    const o = program.opts<{ inventory: string; format: "zone" | "table" | "json"; limit?: string; acceptNewHostKeys: boolean }>();
    const loaded = loadHosts(o.inventory, o.limit, io.env);
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
  });
}

runAsScript(import.meta.url, (argv) => dnsMain(argv));
