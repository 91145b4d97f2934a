/**
 * The restore drill, now (the monthly timer's run):
 *
 *   npx tsx playbooks/drill.ts -i inventory/hosts.yml [--limit NAME|GROUP] [--json]
 *
 * On each host with backups, `systemctl start mailstead-drill.service` (its own unit and memory
 * cap, like the backup's; the backup role installed it): the latest snapshot is restored into a
 * scratch directory on the host, never over the live state, and compared with it (every message
 * older than the snapshot is in it, a sample byte for byte, UIDVALIDITY and next UID, the other
 * declared files). Its record (/var/lib/mailstead/backup/drill.json) is printed and is what
 * status.ts's "drill" check judges. Exit 1 when any host's drill failed, 2 for bad input.
 */
import { Command } from "commander";
import { defaultIo, parseCommand, runAsScript, withExitCode, type CliIo } from "../lib/cli.js";
import { UsageError } from "../lib/errors.js";
import { loadHosts } from "../dns/gather.js";
import { transportFor } from "../lib/transport/index.js";
import type { Transport } from "../lib/transport/types.js";
import { DRILL_RUN, DRILL_SERVICE } from "../roles/backup/index.js";
import { runRecorded } from "./backup.js";

/** What a drill left in drill.json (templates/backup/mailstead-backup.sh.hbs, drill_json). */
export interface DrillRun {
  result: "ok" | "failed";
  message: string;
  host: string;
  snapshot: string;
  snapshot_time: string;
  folders: number;
  messages: number;
  hashed: number;
  missing: number;
  differ: number;
  gone: number;
  files: number;
  problems: string[];
  started: number;
  ended: number;
}

/** Run one drill on the host through its unit and read what it recorded. */
export const drillNow = (t: Transport) => runRecorded<DrillRun>(t, DRILL_SERVICE, DRILL_RUN);

export async function drillMain(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const out = (s: string) => void io.stdout.write(s);
  const err = (s: string) => io.err(s.replace(/\n$/, ""));
  return withExitCode(io, async () => {
    const program = new Command("drill")
      .description("Restore each host's latest snapshot into a scratch place on it and compare it with the live mail")
      .requiredOption("-i, --inventory <file>", "inventory YAML file")
      .option("--limit <names>", "only these hosts or groups (comma-separated)")
      .option("--json", "print the results as JSON", false)
      .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false)
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: (s) => out(s) })
      .allowExcessArguments(false);
    parseCommand(program, argv, "npx tsx playbooks/drill.ts -i inventory/hosts.yml [--limit NAME|GROUP] [--json]");
    const o = program.opts<{ inventory: string; limit?: string; json: boolean; acceptNewHostKeys: boolean }>();
    const loaded = loadHosts(o.inventory, o.limit, io.env);
    for (const w of loaded.warnings) err(`warning: ${w}\n`);
    const hosts = loaded.hosts.filter((h) => h.vars.backup_enabled === true);
    if (hosts.length === 0) throw new UsageError("no selected host has backup_enabled: true (set backup_repository and backup_password, then converge)");
    const results: Record<string, unknown> = {};
    let failed = 0;
    for (const spec of hosts) {
      const t = transportFor(spec, o.acceptNewHostKeys);
      try {
        const run = await drillNow(t);
        results[spec.name] = run;
        if (run.result !== "ok") failed++;
        if (!o.json) {
          const seconds = "ended" in run ? `, ${run.ended - run.started} s` : "";
          out(`${spec.name}: drill ${run.result === "ok" ? "passed" : "FAILED"}: ${loaded.redact(run.message)}${seconds}\n`);
          if ("problems" in run) for (const p of run.problems) out(`  ${loaded.redact(p)}\n`);
        }
      } catch (e) {
        failed++;
        const message = loaded.redact((e as Error).message);
        results[spec.name] = { result: "failed", message };
        if (!o.json) out(`${spec.name}: drill FAILED: ${message}\n`);
      } finally {
        await t.close();
      }
    }
    if (o.json) out(`${JSON.stringify(results, null, 2)}\n`);
    return failed > 0 ? 1 : 0;
  });
}

runAsScript(import.meta.url, (argv) => drillMain(argv));
