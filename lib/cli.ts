/**
 * The command line shared by every playbook. The one place that decides exit
 * codes: 0 every host converged, 1 a step failed on some host, 2 bad input
 * (flags, inventory, secrets) found before any host was touched.
 */
import { accessSync, constants } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { closest } from "fastest-levenshtein";
import { Host } from "./host.js";
import { InputError, MailsteadError, UsageError } from "./errors.js";
import { loadInventory, selectHosts } from "./inventory/index.js";
import type { Settings } from "./defaults.js";
import { colorEnabled, colors } from "./report/colors.js";
import { jsonReport, writeJsonReport } from "./report/json.js";
import { listrReporter } from "./report/listr.js";
import { plainReporter } from "./report/plain.js";
import { recapLines, warningLines } from "./report/recap.js";
import type { Role } from "./role.js";
import { run, type RunnerEvents } from "./runner.js";
import { transportFor } from "./transport/index.js";

export interface SiteOptions {
  inventory: string;
  check: boolean;
  diff: boolean;
  limit?: string;
  tags?: string[];
  json?: string;
  acceptNewHostKeys: boolean;
  forks: number;
  verify: boolean;
}

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  stdout: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export const defaultIo = (): CliIo => ({
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  stdout: process.stdout,
  env: process.env,
});

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError("must be an integer 1-100");
  return n;
}

export function parseSiteArgs(argv: string[], name = "site"): SiteOptions {
  const program = new Command(name)
    .description("Converge every host of the inventory to the roles of this playbook")
    .requiredOption("-i, --inventory <file>", "inventory YAML file")
    .option("--check", "change nothing; report what would change", false)
    .option("--diff", "show unified diffs of files that change (sensitive files masked)", false)
    .option("--limit <names>", "only these hosts or groups (comma-separated)")
    .option("--tags <roles>", "only these roles (comma-separated)")
    .option("--json <file>", "write a JSON report of every step")
    .option("--accept-new-host-keys", "trust and record host keys not yet in known_hosts", false)
    .option("--forks <n>", "hosts converged in parallel", positiveInt, 5)
    .option("--no-verify", "skip the roles' verify checks")
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: (s) => process.stdout.write(s) })
    .allowExcessArguments(false);
  parseCommand(program, argv, `npx tsx playbooks/${name}.ts -i inventory/hosts.yml [--check] [--diff] [--limit NAME|GROUP] [--tags ROLE,...] [--json FILE] [--accept-new-host-keys]`);
  const o0 = program.opts<{ json?: string }>();
  if (o0.json) {
    // Fail now, before any host is touched, not after the run when the report would be lost.
    const dir = dirname(resolve(o0.json));
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new UsageError(`--json ${o0.json}: cannot write into ${dir} (does the directory exist?)`);
    }
  }
  const o = program.opts<{ inventory: string; check: boolean; diff: boolean; limit?: string; tags?: string; json?: string; acceptNewHostKeys: boolean; forks: number; verify: boolean }>();
  return {
    inventory: o.inventory,
    check: o.check,
    diff: o.diff,
    limit: o.limit,
    tags: o.tags?.split(",").map((t) => t.trim()).filter(Boolean),
    json: o.json,
    acceptNewHostKeys: o.acceptNewHostKeys,
    forks: o.forks,
    verify: o.verify,
  };
}

/** --help was shown: exit 0 with nothing else done. */
class HelpShown extends Error {}

/**
 * Parse argv into a commander program (built with .exitOverride()): --help
 * ends the playbook with 0, a bad argument is a UsageError (exit 2) with the usage.
 */
export function parseCommand(program: Command, argv: string[], usage: string): void {
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") throw new HelpShown();
      throw new UsageError(`${e.message.replace(/^error: /, "")}\nusage: ${usage}`);
    }
    throw e;
  }
}

/**
 * The one place an exit code is decided, for every playbook: the body's own
 * code (0 done, 1 something failed on a host), 0 after --help, 2 for bad input
 * (flags, inventory, secrets: InputError, found before any host is touched),
 * a MailsteadError's own code, 1 with the stack for anything unexpected.
 */
export async function withExitCode(io: Pick<CliIo, "err" | "stdout" | "env">, body: () => Promise<number>): Promise<number> {
  const c = colors(colorEnabled(io.stdout, io.env));
  try {
    return await body();
  } catch (e) {
    if (e instanceof HelpShown) return 0;
    if (e instanceof InputError) {
      io.err(c.red(`error: ${e.message}`));
      return 2;
    }
    if (e instanceof MailsteadError) {
      io.err(c.red(`error: ${e.message}`));
      return e.exitCode;
    }
    io.err(c.red(`internal error: ${(e as Error).stack ?? String(e)}`));
    return 1;
  }
}

/** Run a playbook's main when its file is the script node started; the process exits with its code. */
export function runAsScript(url: string, main: (argv: string[]) => Promise<number>): void {
  if (url !== `file://${process.argv[1]}`) return;
  void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}

export function selectRoles(roles: Role[], tags?: string[]): Role[] {
  if (!tags?.length) return roles;
  const names = roles.map((r) => r.name);
  for (const t of tags) {
    if (!names.includes(t)) {
      throw new UsageError(`--tags: unknown role "${t}" (did you mean "${closest(t, names)}"?); roles: ${names.join(", ")}`);
    }
  }
  return roles.filter((r) => tags.includes(r.name));
}

/** Run a playbook: parse flags, load and validate the inventory, converge, print the recap. Returns the exit code. */
export async function runPlaybook(
  argv: string[],
  playbook: { name: string; roles: Role[]; settings: Settings },
  io: CliIo = defaultIo(),
): Promise<number> {
  const c = colors(colorEnabled(io.stdout, io.env));
  return withExitCode(io, async () => {
    const opts = parseSiteArgs(argv, playbook.name);
    const roles = selectRoles(playbook.roles, opts.tags);
    const inv = loadInventory(opts.inventory, { settings: playbook.settings, roles: playbook.roles, env: io.env });
    for (const w of inv.warnings) io.err(c.yellow(`warning: ${w}`));
    const specs = selectHosts(inv, opts.limit);
    // Nothing above touched a host. From here on, failures are per host.
    const hosts = specs.map((h) => new Host(h.name, h.vars, transportFor(h, opts.acceptNewHostKeys), h.connection === "local" ? undefined : h.ssh.port));
    const startedAt = new Date();
    const useListr = Boolean(io.stdout.isTTY) && !io.env.CI;
    let events: RunnerEvents;
    let done: Promise<void> = Promise.resolve();
    if (useListr) {
      const r = listrReporter(hosts.map((h) => h.name), roles.map((r) => r.name), c);
      events = r.events;
      done = r.done;
    } else {
      events = plainReporter(io.out, c);
    }
    if (opts.check) io.out(c.cyan("check mode: nothing will be changed"));
    const outcome = await run(hosts, roles, {
      check: opts.check,
      diff: opts.diff,
      forks: opts.forks,
      events,
      redact: (s) => inv.redactor.redact(s),
      noVerify: !opts.verify,
      playbookRoles: playbook.roles,
    });
    await done;
    if (useListr && opts.diff) {
      for (const r of outcome.results) if (r.diff) io.out(`[${r.host}] ${r.title}\n${r.diff}`);
    }
    io.out("");
    for (const l of recapLines(outcome.summaries, c)) io.out(l);
    for (const l of warningLines(outcome.results, c)) io.out(l);
    if (opts.json) {
      try {
        writeJsonReport(opts.json, jsonReport(outcome, { startedAt, check: opts.check }));
      } catch (e) {
        throw new MailsteadError(`--json ${opts.json}: cannot write the report: ${(e as Error).message}`);
      }
    }
    return outcome.summaries.some((s) => s.failed > 0) ? 1 : 0;
  });
}
