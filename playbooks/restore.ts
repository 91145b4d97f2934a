/**
 * Put a snapshot back onto a host, a fresh VM or a converged one:
 *
 *   npx tsx playbooks/restore.ts -i inventory/hosts.yml --limit mx1 [--snapshot latest|ID]
 *
 * 1. the base, budget and backup roles (restic and the repository's credentials, nothing
 *    that would make a DKIM key or a certificate of its own);
 * 2. `mailstead-backup --restore`: the snapshot's state back in place, Dovecot paused
 *    meanwhile (Postfix queues what arrives). The mail is merged, never replaced: a message
 *    on the host and not in the snapshot stays; folders get the snapshot's UIDs and
 *    UIDVALIDITY, the next UID past a margin. Keys and certificates: the snapshot's win, the
 *    replaced ones are kept under /var/backups/mailstead/restore-<time>/;
 * 3. the whole site converge, which finds the restored DKIM key and certificate and makes
 *    no new ones, then verifies every role;
 * 4. owners by name for accounts the converge just made (`--fix-owners`).
 * Exit 0 when all of it worked, 1 when a part failed (said which), 2 for bad input.
 */
import { Command } from "commander";
import { defaultIo, parseCommand, runAsScript, runPlaybook, withExitCode, type CliIo } from "../lib/cli.js";
import { tail, UsageError } from "../lib/errors.js";
import { loadHosts } from "../dns/gather.js";
import { transportFor } from "../lib/transport/index.js";
import { quote } from "../lib/shell.js";
import { allSettings, siteRoles } from "../roles/registry.js";
import { SCRIPT } from "../roles/backup/index.js";

export async function restoreMain(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const out = (s: string) => void io.stdout.write(s);
  return withExitCode(io, async () => {
    const program = new Command("restore")
      .description("Restore a host's state from its backups, then converge it")
      .requiredOption("-i, --inventory <file>", "inventory YAML file")
      .requiredOption("--limit <name>", "the one host to restore")
      .option("--snapshot <id>", "the snapshot to restore (an id from backup.ts --list)", "latest")
      .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false)
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: (s) => out(s) })
      .allowExcessArguments(false);
    parseCommand(program, argv, "npx tsx playbooks/restore.ts -i inventory/hosts.yml --limit mx1 [--snapshot latest|ID]");
    const o = program.opts<{ inventory: string; limit: string; snapshot: string; acceptNewHostKeys: boolean }>();
    if (!/^(latest|[0-9a-f]{8,64})$/.test(o.snapshot)) throw new UsageError(`--snapshot ${o.snapshot}: "latest" or a snapshot id (8 to 64 hex digits, from backup.ts --list)`);
    const loaded = loadHosts(o.inventory, o.limit, io.env);
    if (loaded.hosts.length !== 1) throw new UsageError(`--limit ${o.limit} selects ${loaded.hosts.length} hosts: restore one at a time`);
    const spec = loaded.hosts[0]!;
    if (spec.vars.backup_enabled !== true) throw new UsageError(`${spec.name}: backup_enabled is not true: the host does not know its repository`);
    const site = { name: "restore", roles: siteRoles, settings: allSettings() };
    const common = ["-i", o.inventory, "--limit", spec.name, ...(o.acceptNewHostKeys ? ["--accept-new-host-keys"] : [])];
    const started = performance.now();
    out(`== ${spec.name}: 1/4 the base and backup roles\n`);
    if ((await runPlaybook([...common, "--tags", "base,budget,backup", "--no-verify"], site, io)) !== 0) {
      out(`${spec.name}: restore stopped: the base and backup roles did not converge (above)\n`);
      return 1;
    }
    out(`== ${spec.name}: 2/4 snapshot ${o.snapshot} back in place\n`);
    const t = transportFor(spec, o.acceptNewHostKeys);
    try {
      const r = await t.run(`${SCRIPT} --restore ${quote(o.snapshot)}`, { timeoutMs: 6 * 3600_000 });
      out(r.stdout);
      if (r.code !== 0) {
        out(`${spec.name}: restore FAILED: ${loaded.redact(tail(r.stderr, 3).trim().replace(/\n/g, " "))}\n`);
        return 1;
      }
      out(`== ${spec.name}: 3/4 the whole converge (finds the restored key and certificate)\n`);
      const converged = await runPlaybook(common, site, io);
      out(`== ${spec.name}: 4/4 owners by name\n`);
      const fix = await t.run(`${SCRIPT} --fix-owners`, { timeoutMs: 600_000 });
      if (fix.code !== 0) out(`${spec.name}: --fix-owners failed: ${loaded.redact(fix.stderr.trim())}\n`);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      out(`${spec.name}: restored snapshot ${o.snapshot} and converged in ${seconds} s${converged === 0 && fix.code === 0 ? "" : " (with failures above)"}\n`);
      return converged === 0 && fix.code === 0 ? 0 : 1;
    } finally {
      await t.close();
    }
  });
}

runAsScript(import.meta.url, (argv) => restoreMain(argv));
