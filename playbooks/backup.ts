/**
 * Back up now, or list the snapshots:
 *
 *   npx tsx playbooks/backup.ts -i inventory/hosts.yml [--limit NAME|GROUP] [--list] [--json]
 *   npx tsx playbooks/backup.ts -i inventory/hosts.yml --recovery-kit [--limit NAME]
 *
 * A backup is the same run as the daily timer's: `systemctl start mailstead-backup.service`
 * (its own unit, memory cap and environment; the backup role installed it), waited for, then
 * the run's own record (/var/lib/mailstead/backup/last.json) is printed: snapshot, files,
 * bytes added, seconds. Exit 1 when any host's backup failed (its reason printed), 2 for bad
 * input. No secret is printed, except by --recovery-kit: only when asked, only to a terminal
 * (never a pipe, a file, CI or --json), everything a restore on a new machine needs.
 */
import { Command } from "commander";
import { defaultIo, parseCommand, runAsScript, withExitCode, type CliIo } from "../lib/cli.js";
import { tail, UsageError } from "../lib/errors.js";
import { loadHosts } from "../dns/gather.js";
import { transportFor } from "../lib/transport/index.js";
import type { Transport } from "../lib/transport/types.js";
import { quote } from "../lib/shell.js";
import { hostTag, LAST_RUN, resticOptions, SCRIPT, SERVICE, sftpCommand, sftpTarget, type BackupVars } from "../roles/backup/index.js";
import { dkimKeys, type OpendkimVars } from "../roles/opendkim/index.js";
import type { HostSpec } from "../lib/inventory/index.js";

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

/**
 * Start a oneshot unit of the backup role (the backup, the drill), wait for it, and read the
 * record it wrote; the record is cleared first so an old run's result is never taken for this one's.
 */
export async function runRecorded<T>(t: Transport, service: string, record: string): Promise<T | { result: "failed"; message: string }> {
  const r = await t.run(`rm -f ${quote(record)}; systemctl start ${service}; rc=$?; cat ${quote(record)} 2>/dev/null; exit $rc`, { timeoutMs: 6 * 3600_000 });
  const text = r.stdout.trim();
  if (text.startsWith("{")) return JSON.parse(text) as T;
  const why = tail(r.stderr, 3).trim().replace(/\n/g, " ");
  return { result: "failed", message: why || `systemctl start ${service} exited ${r.code}: is the backup role converged (backup_enabled: true)?` };
}

/** Run one backup on the host through its unit and read what it recorded. */
export const backupNow = (t: Transport) => runRecorded<BackupRun>(t, SERVICE, LAST_RUN);

export async function listSnapshots(t: Transport): Promise<Snapshot[]> {
  const r = await t.run(`${SCRIPT} --list`, { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(tail(r.stderr, 3).trim().replace(/\n/g, " ") || `${SCRIPT} --list exited ${r.code}`);
  return JSON.parse(r.stdout || "[]") as Snapshot[];
}

/**
 * Everything a restore on a new machine needs, for one host: the repository, its password, the
 * SFTP key and the target's host keys, the snapshots' host name, the DKIM selectors the DNS
 * publishes (the restored key matches them), and how to restore with and without mailstead.
 * Without the password nothing in the repository can be read: that is the point of the kit.
 */
export function recoveryKit(spec: HostSpec): string {
  const v = spec.vars as unknown as BackupVars & OpendkimVars;
  const sftp = sftpTarget(v.backup_repository);
  const lines = [
    `== ${spec.name}: recovery kit. Keep it OFF the host (a password manager, or paper in a drawer).`,
    `repository       ${v.backup_repository}`,
    `password         ${v.backup_password}`,
    `snapshots' host  ${hostTag(v)}`,
  ];
  if (sftp) {
    lines.push(`target host keys`, ...v.backup_sftp_known_hosts.map((k) => `  ${k}`), `sftp key (the secret backup_sftp_key; to a file of mode 600 to use it):`, v.backup_sftp_key.trimEnd());
  }
  const s3 = v.backup_repository.startsWith("s3:");
  if (s3) {
    lines.push(`S3 region        ${v.backup_s3_region} (bucket lookup: ${v.backup_s3_bucket_lookup})`, `S3 access key    ${v.backup_s3_access_key_id}`, `S3 secret key    ${v.backup_s3_secret_access_key}`);
  }
  if (v.opendkim_enabled) lines.push(`DKIM selectors   ${dkimKeys(v).map((k) => `${k.selector}._domainkey (${k.algorithm})`).join(", ")}: the restored key matches these published records`);
  lines.push(
    `with mailstead: put backup_password and ${s3 ? "backup_s3_access_key_id, backup_s3_secret_access_key" : "backup_sftp_key"} in the secrets file, point the inventory at the new VM, then`,
    `  npx tsx playbooks/restore.ts -i inventory/hosts.yml --limit ${spec.name}`,
    `with restic alone (password on its standard input${s3 ? "; AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment" : ""}):`,
    `  restic -r ${v.backup_repository}${sftp ? ` -o sftp.command="${sftpCommand(sftp).replace(/\/etc\/mailstead\/backup\//g, "./")}"` : ""}${resticOptions(v).map((o) => ` -o ${o}`).join("")} restore latest --host ${hostTag(v)} --target ./restore`,
    "",
  );
  return lines.join("\n");
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
      .option("--recovery-kit", "print what a restore on a new machine needs, secrets included (to a terminal only)", false)
      .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false)
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: (s) => out(s) })
      .allowExcessArguments(false);
    parseCommand(program, argv, "npx tsx playbooks/backup.ts -i inventory/hosts.yml [--limit NAME|GROUP] [--list] [--json]");
    const o = program.opts<{ inventory: string; limit?: string; list: boolean; json: boolean; recoveryKit: boolean; acceptNewHostKeys: boolean }>();
    if (o.recoveryKit && o.json) throw new UsageError("--recovery-kit never goes into --json: it holds the repository's password");
    if (o.recoveryKit && (!io.stdout.isTTY || io.env.CI)) {
      throw new UsageError("--recovery-kit prints the repository's password and key: only to a terminal, never to a pipe, a file or CI output");
    }
    const loaded = loadHosts(o.inventory, o.limit, io.env);
    for (const w of loaded.warnings) err(`warning: ${w}\n`);
    const hosts = loaded.hosts.filter((h) => h.vars.backup_enabled === true);
    if (hosts.length === 0) throw new UsageError("no selected host has backup_enabled: true (set backup_repository and backup_password, then converge)");
    if (o.recoveryKit) {
      // From the inventory and its secrets: no host is contacted (the lost one may be gone).
      for (const spec of hosts) out(recoveryKit(spec));
      return 0;
    }
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
