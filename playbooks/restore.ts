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
 *
 * One user's mail, for the everyday "I deleted it" (nothing else is touched, no converge):
 *
 *   npx tsx playbooks/restore.ts -i inventory/hosts.yml --limit mx1 --user alice [--folder F] [--since YYYY-MM-DD]
 *
 * the snapshot's copy of the folder (or of every folder), only the messages saved since the
 * date if given, comes back into a new folder `Restored-<time>/` next to the live ones.
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
import { buildModel, type MailboxVars } from "../roles/mailbox/model.js";

const USAGE = "npx tsx playbooks/restore.ts -i inventory/hosts.yml --limit mx1 [--snapshot latest|ID] [--user U [--folder F] [--since YYYY-MM-DD]]";

/** --folder: one IMAP folder name as the user sees it ("INBOX", "Sent", "Archive/2024"). */
export function checkFolder(f: string): string {
  // eslint-disable-next-line no-control-regex
  if (f === "" || f.length > 200 || /[\x00-\x1f\x7f*%]/.test(f) || f.startsWith("-") || f.startsWith("/") || f.endsWith("/") || f.includes("//"))
    throw new UsageError(`--folder ${JSON.stringify(f)}: one folder's name as the mail client shows it, e.g. INBOX, Sent or Archive/2024 (no control characters, no * or %, / between levels only)`);
  return f;
}

/** --since: a calendar date, YYYY-MM-DD. */
export function checkSince(d: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  const t = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !t || t.toISOString().slice(0, 10) !== d) throw new UsageError(`--since ${JSON.stringify(d)}: a date, YYYY-MM-DD (e.g. 2026-11-30)`);
  return d;
}

export async function restoreMain(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const out = (s: string) => void io.stdout.write(s);
  return withExitCode(io, async () => {
    const program = new Command("restore")
      .description("Restore a host's state from its backups, then converge it")
      .requiredOption("-i, --inventory <file>", "inventory YAML file")
      .requiredOption("--limit <name>", "the one host to restore")
      .option("--snapshot <id>", "the snapshot to restore (an id from backup.ts --list)", "latest")
      .option("--user <name>", "restore only this user's mail (a name or address of mailbox_users), into a new folder Restored-<time>/")
      .option("--folder <name>", "with --user: only this folder (INBOX, Sent, Archive/2024...)")
      .option("--since <date>", "with --user: only the messages saved since this date (YYYY-MM-DD)")
      .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false)
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: (s) => out(s) })
      .allowExcessArguments(false);
    parseCommand(program, argv, USAGE);
    const o = program.opts<{ inventory: string; limit: string; snapshot: string; user?: string; folder?: string; since?: string; acceptNewHostKeys: boolean }>();
    if ((o.folder !== undefined || o.since !== undefined) && o.user === undefined) throw new UsageError("--folder and --since go with --user: they pick what of one user's mail comes back");
    const folder = o.folder === undefined ? "" : checkFolder(o.folder);
    const since = o.since === undefined ? "" : checkSince(o.since);
    if (!/^(latest|[0-9a-f]{8,64})$/.test(o.snapshot)) throw new UsageError(`--snapshot ${o.snapshot}: "latest" or a snapshot id (8 to 64 hex digits, from backup.ts --list)`);
    const loaded = loadHosts(o.inventory, o.limit, io.env);
    if (loaded.hosts.length !== 1) throw new UsageError(`--limit ${o.limit} selects ${loaded.hosts.length} hosts: restore one at a time`);
    const spec = loaded.hosts[0]!;
    if (spec.vars.backup_enabled !== true) throw new UsageError(`${spec.name}: backup_enabled is not true: the host does not know its repository`);
    if (o.user !== undefined) {
      const model = buildModel(spec.vars as unknown as MailboxVars);
      const box = model.mailboxes.find((m) => m.user === o.user || m.address === o.user);
      if (!box) throw new UsageError(`--user ${JSON.stringify(o.user)}: not a mailbox user of ${spec.name} (mailbox_users: ${model.mailboxes.map((m) => m.user).join(", ")})`);
      const t = transportFor(spec, o.acceptNewHostKeys);
      try {
        const what = `${box.address}'s ${folder === "" ? "mail" : `folder ${folder}`}${since === "" ? "" : ` saved since ${since}`}`;
        out(`== ${spec.name}: ${what} from snapshot ${o.snapshot}\n`);
        const r = await t.run(`${SCRIPT} --restore-user ${[o.snapshot, box.address, folder, since].map(quote).join(" ")}`, { timeoutMs: 3600_000 });
        out(r.stdout);
        if (r.code !== 0) {
          out(`${spec.name}: restore FAILED: ${loaded.redact(tail(r.stderr, 3).trim().replace(/\n/g, " "))}\n`);
          return 1;
        }
        return 0;
      } finally {
        await t.close();
      }
    }
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
