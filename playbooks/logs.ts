/**
 * The mail log in plain words, per host (docs/operations.md):
 *   npx tsx playbooks/logs.ts -i inventory/hosts.yml [--limit H] [--since 1d] [--last 20] [--json] [--pflogsumm]
 * Deliveries, bounces, deferrals, refusals, logins and failed logins since then, the reasons,
 * and the last events (status/logs.ts), from the journal's Postfix and Dovecot lines read over
 * SSH. --pflogsumm adds Postfix's full report by pflogsumm (Debian's, installed by the status role).
 * Exit codes: 0 read, 1 a host could not be read, 2 bad input.
 */
import { Command } from "commander";
import { loadHosts } from "../dns/gather.js";
import { UsageError } from "../lib/errors.js";
import { defaultIo, parseCommand, runAsScript, withExitCode, type CliIo } from "../lib/cli.js";
import { transportFor } from "../lib/transport/index.js";
import { formatSummary, summarise, type LogSummary } from "../status/logs.js";

/** --since: a count and a unit (m, h, d), as journalctl's relative time ("-1d"). */
export function sinceArg(s: string): string {
  const m = /^([1-9][0-9]{0,3})([mhd])$/.exec(s);
  if (!m) throw new UsageError(`--since ${s}: expected a count and a unit such as 30m, 12h or 1d`);
  return `-${m[1]}${m[2]}`;
}

/** The journal's mail lines since then (bounded: the newest 50 000). */
export const journalCmd = (since: string) =>
  `LC_ALL=C journalctl -q --no-pager -o short --since ${since} 2>/dev/null | grep -E '^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [^ ]+ (postfix/[a-z/]+|dovecot)\\[' | tail -n 50000`;

export async function logsMain(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const out = (s: string) => io.stdout.write(s);
  return withExitCode(io, async () => {
    const program = new Command("logs.ts")
      .description("The mail log in plain words: deliveries, refusals, bounces, logins, and the last events")
      .requiredOption("-i, --inventory <file>", "inventory file")
      .option("--limit <names>", "only these hosts or groups (comma-separated)")
      .option("--since <age>", "how far back (30m, 12h, 1d...)", "1d")
      .option("--last <n>", "how many of the latest events to show", "20")
      .option("--json", "print the summaries as JSON", false)
      .option("--pflogsumm", "also print pflogsumm's full Postfix report", false)
      .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false);
    program
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: (s) => out(s) })
      .allowExcessArguments(false);
    parseCommand(program, argv, "npx tsx playbooks/logs.ts -i inventory/hosts.yml [--limit NAME|GROUP] [--since 1d] [--last 20] [--json] [--pflogsumm]");
    const o = program.opts<{ inventory: string; limit?: string; since: string; last: string; json: boolean; pflogsumm: boolean; acceptNewHostKeys: boolean }>();
    const since = sinceArg(o.since);
    const last = Number(o.last);
    if (!Number.isInteger(last) || last < 0 || last > 1000) throw new UsageError(`--last ${o.last}: expected a number from 0 to 1000`);
    const loaded = loadHosts(o.inventory, o.limit, io.env);
    for (const w of loaded.warnings) io.err(`warning: ${w}`);
    const all: { host: string; summary?: LogSummary; error?: string; pflogsumm?: string }[] = [];
    for (const spec of loaded.hosts) {
      const t = transportFor(spec, o.acceptNewHostKeys);
      try {
        const r = await t.run(journalCmd(since), { timeoutMs: 120_000 });
        const summary = summarise(r.stdout, last);
        let pflogsumm: string | undefined;
        if (o.pflogsumm) {
          const p = await t.run(`command -v pflogsumm >/dev/null || { echo "pflogsumm is not installed: converge first (the status role installs it)"; exit 0; }; ${journalCmd(since)} | grep ' postfix/' | pflogsumm --problems-first 2>&1`, { timeoutMs: 120_000 });
          pflogsumm = p.stdout;
        }
        all.push({ host: spec.name, summary, ...(pflogsumm !== undefined ? { pflogsumm } : {}) });
        if (!o.json) out(`${formatSummary(spec.name, o.since, summary)}\n${pflogsumm ? `\n${pflogsumm}\n` : ""}\n`);
      } catch (e) {
        const error = loaded.redact((e as Error).message);
        all.push({ host: spec.name, error });
        if (!o.json) out(`== ${spec.name}\ncannot read the log: ${error}\n\n`);
      } finally {
        await t.close().catch(() => {});
      }
    }
    if (o.json) out(`${JSON.stringify({ since: o.since, hosts: all }, null, 2)}\n`);
    return all.some((a) => a.error) ? 1 : 0;
  });
}

runAsScript(import.meta.url, (argv) => logsMain(argv));
