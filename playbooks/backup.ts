/**
 * Back up now, or list the snapshots:
 *
 *   npx tsx playbooks/backup.ts -i inventory/hosts.yml [--limit NAME|GROUP] [--list] [--json]
 *
 * A backup is the same run as the daily timer's: `systemctl start mailstead-backup.service`
 * (its own unit, memory cap and environment; the backup role installed it), waited for, then
 * the run's own record (/var/lib/mailstead/backup/last.json) is printed: snapshot, files,
 * bytes added, seconds. Exit 1 when any host's backup failed (its reason printed), 2 for bad
 * input. No secret is printed: the repository password and key stay on the host.
 */
import { Command } from "commander";
import { defaultIo, parseCommand, runAsScript, withExitCode, type CliIo } from "../lib/cli.js";
import { UsageError } from "../lib/errors.js";
import { loadHosts } from "../dns/gather.js";
import { transportFor } from "../lib/transport/index.js";
import type { Transport } from "../lib/transport/types.js";
import { quote } from "../lib/shell.js";
import { LAST_RUN, SCRIPT, SERVICE } from "../roles/backup/index.js";

/** What a backup run left in last.json. */
export interface BackupRun {
  result: "ok" | "failed";
  message: string;
  host: string;
  snapshot: string;
  files: number;
  bytes_added: number;
  started: number;
  ended: number;
  /** The run's peak memory in bytes (its unit's cgroup), 0 when the kernel does not say. */
  memory_peak: number;
}

/** A snapshot as `restic snapshots --json` lists it (the fields shown). */
export interface Snapshot {
  short_id: string;
  id: string;
  time: string;
  hostname: string;
  paths: string[];
  tags?: string[];
}

/** Run one backup on the host through its unit and read what it recorded. */
export async function backupNow(t: Transport): Promise<BackupRun | { result: "failed"; message: string }> {
  // The unit's own record, cleared first so an old run's result is never taken for this one's.
  const r = await t.run(`rm -f ${quote(LAST_RUN)}; systemctl start ${SERVICE}; rc=$?; cat ${quote(LAST_RUN)} 2>/dev/null; exit $rc`, { timeoutMs: 6 * 3600_000 });
  const text = r.stdout.trim();
  if (text.startsWith("{")) return JSON.parse(text) as BackupRun;
  const why = r.stderr.trim().split("\n").slice(-3).join(" ");
  return { result: "failed", message: why || `systemctl start ${SERVICE} exited ${r.code}: is the backup role converged (backup_enabled: true)?` };
}

export async function listSnapshots(t: Transport): Promise<Snapshot[]> {
  const r = await t.run(`${SCRIPT} --list`, { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(r.stderr.trim().split("\n").slice(-3).join(" ") || `${SCRIPT} --list exited ${r.code}`);
  return JSON.parse(r.stdout || "[]") as Snapshot[];
}

const size = (n: number) => (n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

export async function backupMain(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const out = (s: string) => void io.stdout.write(s);
  const err = (s: string) => io.err(s.replace(/\n$/, ""));
  return withExitCode(io, async () => {
    const program = new Command("backup")
      .description("Back up the mail hosts now (the daily timer's run), or list their snapshots")
      .requiredOption("-i, --inventory <file>", "inventory YAML file")
      .option("--limit <names>", "only these hosts or groups (comma-separated)")
      .option("--list", "list the snapshots instead of making one", false)
      .option("--json", "print the results as JSON", false)
      .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false)
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: (s) => out(s) })
      .allowExcessArguments(false);
    parseCommand(program, argv, "npx tsx playbooks/backup.ts -i inventory/hosts.yml [--limit NAME|GROUP] [--list] [--json]");
    const o = program.opts<{ inventory: string; limit?: string; list: boolean; json: boolean; acceptNewHostKeys: boolean }>();
    const loaded = loadHosts(o.inventory, o.limit, io.env);
    for (const w of loaded.warnings) err(`warning: ${w}\n`);
    const hosts = loaded.hosts.filter((h) => h.vars.backup_enabled === true);
    if (hosts.length === 0) throw new UsageError("no selected host has backup_enabled: true (set backup_repository and backup_password, then converge)");
    const results: Record<string, unknown> = {};
    let failed = 0;
    for (const spec of hosts) {
      const t = transportFor(spec, o.acceptNewHostKeys);
      try {
        if (o.list) {
          const snaps = await listSnapshots(t);
          results[spec.name] = snaps;
          if (!o.json) {
            out(`== ${spec.name}: ${snaps.length} snapshot(s)\n`);
            for (const s of snaps) out(`${s.short_id}  ${s.time.replace(/\.\d+/, "")}  ${s.hostname}  ${s.paths.length} paths\n`);
          }
        } else {
          const run = await backupNow(t);
          results[spec.name] = run;
          if (run.result !== "ok") failed++;
          if (!o.json) {
            if (run.result === "ok" && "snapshot" in run) out(`${spec.name}: snapshot ${run.snapshot.slice(0, 8)}: ${run.files} files, ${size(run.bytes_added)} added, ${run.ended - run.started} s, peak memory ${size(run.memory_peak)}\n`);
            else out(`${spec.name}: backup FAILED: ${loaded.redact(run.message)}\n`);
          }
        }
      } catch (e) {
        failed++;
        const message = loaded.redact((e as Error).message);
        results[spec.name] = { result: "failed", message };
        if (!o.json) out(`${spec.name}: FAILED: ${message}\n`);
      } finally {
        await t.close();
      }
    }
    if (o.json) out(`${JSON.stringify(results, null, 2)}\n`);
    return failed > 0 ? 1 : 0;
  });
}

runAsScript(import.meta.url, (argv) => backupMain(argv));
