/**
 * What playbooks/dns.ts and playbooks/verify.ts share around their own work:
 * parsing arguments and loading the inventory (bad input: a message and exit
 * 2, no host touched), and running as a script (one place that sets the exit code).
 */
import { CommanderError, type Command } from "commander";
import { InputError } from "../lib/errors.js";
import { loadHosts } from "./gather.js";

type Write = (s: string) => void;

/** Parse argv into the program: undefined when parsed, else the exit code (0 after --help, 2 on bad arguments). */
export function parseArgv(program: Command, argv: string[], usage: string, err: Write): number | undefined {
  try {
    program.parse(argv, { from: "user" });
    return undefined;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed") return 0;
      err(`error: ${e.message.replace(/^error: /, "")}\nusage: ${usage}\n`);
      return 2;
    }
    throw e;
  }
}

/** loadHosts, with bad input reported as `error: ...` (returns undefined) and the inventory's warnings printed. */
export function loadHostsOrReport(file: string, limit: string | undefined, err: Write): ReturnType<typeof loadHosts> | undefined {
  try {
    const loaded = loadHosts(file, limit);
    for (const w of loaded.warnings) err(`warning: ${w}\n`);
    return loaded;
  } catch (e) {
    if (e instanceof InputError) {
      err(`error: ${e.message}\n`);
      return undefined;
    }
    throw e;
  }
}

/** Run main when the file is the script node was started with; an unexpected error exits 1 with its stack. */
export function runAsScript(url: string, main: (argv: string[]) => Promise<number>): void {
  if (url !== `file://${process.argv[1]}`) return;
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: Error) => {
      process.stderr.write(`internal error: ${e.stack ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
