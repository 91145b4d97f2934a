/**
 * Capture real fact output for the parser fixtures in tests/unit/fixtures/facts/.
 *
 * Runs each fact's exact `command(args)` (from lib/facts) on a target and saves
 * raw stdout to `tests/unit/fixtures/facts/<os>/<fact>-<case>.txt`.
 *
 *   tsx scripts/capture-facts.ts --os debian12                       # this machine, `sh -c`
 *   tsx scripts/capture-facts.ts --os debian13 --chroot /var/lib/mailstead-lab/images/trixie
 *   tsx scripts/capture-facts.ts --os debian13 --ssh debian@198.51.100.20 \
 *       --key tests/lab/.state/id_ed25519 --known-hosts tests/lab/.state/known_hosts \
 *       --only systemd.unit,net.listening,os.release --tag vm
 *
 * A chroot target is entered through a throwaway overlay (the image itself is
 * never written: apt-cache, for one, would otherwise write its caches there),
 * unless --no-overlay. Only facts that make sense there are captured
 * (no systemd, no sockets, no apt stamps). Over ssh, commands run under `sudo sh -c`.
 *
 * Read-only on the target: every command is a fact command, and facts only read.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fileContent, fileStat } from "../lib/facts/files.js";
import { osRelease } from "../lib/facts/os.js";
import { aptListsAge, aptPolicy, debconfSelections, debPackages } from "../lib/facts/packages.js";
import { group, listeningSockets, systemdUnit, user } from "../lib/facts/system.js";
import type { Fact } from "../lib/facts/types.js";
import { quote } from "../lib/shell.js";

export type TargetKind = "local" | "chroot" | "ssh";

export interface CaptureCase {
  fact: Fact<any, any>;
  /** File name part after `<fact>-`. */
  name: string;
  args: unknown;
  /** Target kinds where this case is meaningful. */
  on: TargetKind[];
  /** Post-process raw stdout (e.g. trim a huge package list). */
  trim?: (stdout: string) => string;
}

const ALL: TargetKind[] = ["local", "chroot", "ssh"];
const BOOTED: TargetKind[] = ["local", "ssh"];

/** Keep the package list reviewable: every non-`ii` line, the first 150 `ii` lines, and a few well-known packages. */
export function trimPackages(stdout: string): string {
  const keep = /\t(apt|base-files|dpkg|libc6|tzdata|openssh-server|systemd|debconf|passwd|login|bash|coreutils)\t/;
  let ii = 0;
  const lines = stdout.split("\n").filter((l) => {
    if (!l) return false;
    if (!l.startsWith("ii")) return true;
    if (keep.test(l)) return true;
    return ii++ < 150;
  });
  return `${lines.join("\n")}\n`;
}

export const CASES: CaptureCase[] = [
  { fact: osRelease, name: "default", args: undefined, on: ALL },
  { fact: debPackages, name: "trimmed", args: undefined, on: ["local", "chroot"], trim: trimPackages },
  { fact: fileStat, name: "regular", args: "/etc/debian_version", on: ALL },
  { fact: fileStat, name: "empty", args: "/etc/environment", on: ALL },
  { fact: fileStat, name: "directory", args: "/etc", on: ALL },
  { fact: fileStat, name: "symlink", args: "/bin", on: ALL },
  { fact: fileStat, name: "group-readable", args: "/etc/shadow", on: ALL },
  { fact: fileStat, name: "missing", args: "/nonexistent/mailstead", on: ALL },
  { fact: fileContent, name: "regular", args: "/etc/debian_version", on: ALL },
  { fact: fileContent, name: "os-release", args: "/usr/lib/os-release", on: ALL },
  { fact: fileContent, name: "empty", args: "/etc/environment", on: ALL },
  { fact: fileContent, name: "missing", args: "/nonexistent/mailstead", on: ALL },
  { fact: aptPolicy, name: "mixed", args: ["apt", "base-files", "mailstead-no-such-package", "postfix"], on: ALL },
  { fact: aptListsAge, name: "default", args: undefined, on: BOOTED },
  { fact: debconfSelections, name: "tzdata", args: "tzdata", on: ALL },
  { fact: debconfSelections, name: "none", args: "mailstead-no-such-package", on: ALL },
  { fact: user, name: "root", args: "root", on: ALL },
  { fact: user, name: "nobody", args: "nobody", on: ALL },
  { fact: user, name: "absent", args: "mailstead-no-such-user", on: ALL },
  { fact: group, name: "root", args: "root", on: ALL },
  { fact: group, name: "mail", args: "mail", on: ALL },
  { fact: group, name: "absent", args: "mailstead-no-such-group", on: ALL },
  { fact: listeningSockets, name: "default", args: undefined, on: BOOTED },
  { fact: systemdUnit, name: "ssh-active", args: "ssh.service", on: ["ssh"] },
  { fact: systemdUnit, name: "disabled", args: "debug-shell.service", on: ["ssh"] },
  { fact: systemdUnit, name: "not-found", args: "mailstead-no-such.service", on: ["ssh"] },
];

export const FIXTURES_DIR = fileURLToPath(new URL("../tests/unit/fixtures/facts/", import.meta.url));

export function fixtureFile(os: string, c: CaptureCase, tag?: string): string {
  return join(FIXTURES_DIR, os, `${c.fact.name}-${c.name}${tag ? `-${tag}` : ""}.txt`);
}

interface Options {
  os: string;
  kind: TargetKind;
  chroot?: string;
  overlay: boolean;
  ssh?: string;
  key?: string;
  knownHosts?: string;
  only?: Set<string>;
  /** Appended to each case name (`-<tag>`), e.g. `vm` so a VM capture sits beside a chroot one. */
  tag?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { os: "", kind: "local", overlay: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--os") o.os = next();
    else if (a === "--chroot") (o.kind = "chroot"), (o.chroot = next());
    else if (a === "--no-overlay") o.overlay = false;
    else if (a === "--ssh") (o.kind = "ssh"), (o.ssh = next());
    else if (a === "--key") o.key = next();
    else if (a === "--known-hosts") o.knownHosts = next();
    else if (a === "--tag") o.tag = next();
    else if (a === "--only") o.only = new Set(next().split(","));
    else throw new Error(`unknown argument ${a}`);
  }
  if (!/^[a-z0-9]+$/.test(o.os)) throw new Error("--os debian12|debian13 is required");
  return o;
}

function runner(o: Options): { run: (command: string) => { code: number; stdout: string; stderr: string }; done: () => void } {
  const exec = (file: string, args: string[]) => {
    const r = spawnSync(file, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
    if (r.error) throw r.error;
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  if (o.kind === "local") return { run: (c) => exec("sh", ["-c", c]), done: () => {} };
  if (o.kind === "ssh") {
    const base = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"];
    if (o.key) base.push("-i", o.key);
    if (o.knownHosts) base.push("-o", `UserKnownHostsFile=${o.knownHosts}`, "-o", "StrictHostKeyChecking=yes");
    return { run: (c) => exec("ssh", [...base, o.ssh!, `sudo sh -c ${quote(c)}`]), done: () => {} };
  }
  let root = o.chroot!;
  let cleanup = () => {};
  if (o.overlay) {
    const t = mkdtempSync(join(tmpdir(), "mailstead-capture-"));
    for (const d of ["upper", "work", "merged"]) mkdirSync(join(t, d));
    const m = exec("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${root},upperdir=${t}/upper,workdir=${t}/work`, `${t}/merged`]);
    if (m.code !== 0) throw new Error(`overlay mount failed: ${m.stderr}`);
    root = `${t}/merged`;
    cleanup = () => {
      exec("umount", [root]);
      rmSync(t, { recursive: true, force: true });
    };
  }
  return { run: (c) => exec("chroot", [root, "sh", "-c", c]), done: cleanup };
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const outDir = join(FIXTURES_DIR, o.os);
  mkdirSync(outDir, { recursive: true });
  const r = runner(o);
  try {
    for (const c of CASES) {
      if (!c.on.includes(o.kind)) continue;
      if (o.only && !o.only.has(c.fact.name) && !o.only.has(`${c.fact.name}-${c.name}`)) continue;
      const command = c.fact.command(c.args);
      const res = r.run(command);
      if (res.code !== 0) {
        console.error(`skip ${c.fact.name}-${c.name}: exit ${res.code}: ${res.stderr.trim()}`);
        continue;
      }
      const text = c.trim ? c.trim(res.stdout) : res.stdout;
      const out = fixtureFile(o.os, c, o.tag);
      writeFileSync(out, text);
      console.log(`${out} (${text.length} bytes)`);
    }
  } finally {
    r.done();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
