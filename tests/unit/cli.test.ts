/**
 * The command-line contract: recap lines, exit codes 0/1/2, --json, --check,
 * --tags, --limit; run in-process against `connection: local` hosts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runPlaybook, type CliIo } from "../../lib/cli.js";
import { dnsMain } from "../../playbooks/dns.js";
import { verifyMain } from "../../playbooks/verify.js";
import { command, file } from "../../lib/operations/index.js";
import type { Role } from "../../lib/role.js";
import { defineDefaults } from "../../lib/defaults.js";

function io(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    stdout: { isTTY: false } as NodeJS.WriteStream,
    env: { NO_COLOR: "1" },
  };
}

const settings = defineDefaults("demo", {
  demo_dir: { default: undefined, why: "where the test writes", schema: { type: "string" } },
  demo_fail: { default: false, why: "make the second step fail", schema: { type: "boolean" } },
});

const role: Role<{ demo_dir: string; demo_fail: boolean }> = {
  name: "demo",
  settings,
  steps: (ctx) => [
    { title: "write a file", action: file({ path: join(ctx.vars.demo_dir, "f"), content: "x\n", backupDir: join(ctx.vars.demo_dir, "bk") }) },
    { title: "maybe fail", action: command({ run: ctx.vars.demo_fail ? "echo nope >&2; exit 7" : "true", creates: join(ctx.vars.demo_dir, "none") }), when: ctx.vars.demo_fail },
  ],
};
const other: Role = { name: "other", settings: {}, steps: () => [] };

function setup(hosts: Record<string, { fail?: boolean }>) {
  const dir = mkdtempSync(join(tmpdir(), "mailstead-cli-"));
  const lines = ["hosts:"];
  for (const [name, h] of Object.entries(hosts)) {
    lines.push(`  ${name}:`, "    connection: local", "    vars:", `      demo_dir: ${join(dir, name)}`, `      demo_fail: ${h.fail ? "true" : "false"}`);
  }
  writeFileSync(join(dir, "hosts.yml"), `${lines.join("\n")}\n`);
  for (const name of Object.keys(hosts)) mkdirSync(join(dir, name)); // each host writes into its own dir
  return dir;
}

const playbook = { name: "site", roles: [role as Role, other], settings };

describe("site CLI", () => {
  it("prints one recap line per host and a total, exits 0, and a second run changes nothing", async () => {
    const dir = setup({ mx1: {}, mx2: {} });
    const a = io();
    const code = await runPlaybook(["-i", join(dir, "hosts.yml"), "--json", join(dir, "r.json")], playbook, a);
    expect(code).toBe(0);
    expect(a.lines).toContain("mx1    ok=0 changed=1 failed=0 skipped=1");
    expect(a.lines).toContain("mx2    ok=0 changed=1 failed=0 skipped=1");
    expect(a.lines).toContain("total  ok=0 changed=2 failed=0 skipped=2");
    const report = JSON.parse(readFileSync(join(dir, "r.json"), "utf8"));
    expect(report.steps).toHaveLength(4);
    expect(report.steps[0]).toMatchObject({ role: "demo", title: "write a file", status: "changed" });
    expect(typeof report.steps[0].durationMs).toBe("number");
    const b = io();
    expect(await runPlaybook(["-i", join(dir, "hosts.yml")], playbook, b)).toBe(0);
    expect(b.lines).toContain("total  ok=2 changed=0 failed=0 skipped=2");
  });

  it("exits 1 when a step fails on any host, with the command, exit code and stderr in --json", async () => {
    const dir = setup({ mx1: {}, bad: { fail: true } });
    const a = io();
    const code = await runPlaybook(["-i", join(dir, "hosts.yml"), "--json", join(dir, "r.json")], playbook, a);
    expect(code).toBe(1);
    expect(a.lines).toContain("bad    ok=0 changed=1 failed=1 skipped=0");
    expect(a.lines).toContain("mx1    ok=0 changed=1 failed=0 skipped=1");
    const failed = JSON.parse(readFileSync(join(dir, "r.json"), "utf8")).steps.find((s: { status: string }) => s.status === "failed");
    expect(failed).toMatchObject({ host: "bad", command: "echo nope >&2; exit 7", exitCode: 7 });
    expect(failed.stderrTail).toContain("nope");
  });

  it("exits 2 on bad input before touching any host", async () => {
    const dir = setup({ mx1: {} });
    writeFileSync(join(dir, "bad.yml"), `hosts:\n  mx1:\n    connection: local\n    vars:\n      demo_dri: /x\n`);
    const a = io();
    expect(await runPlaybook(["-i", join(dir, "bad.yml")], playbook, a)).toBe(2);
    expect(a.errors.join("\n")).toMatch(/bad\.yml:5: hosts\.mx1\.vars\.demo_dri: unknown setting — did you mean "demo_dir"\?/);
    expect(existsSync(join(dir, "mx1", "f"))).toBe(false);
    const b = io();
    expect(await runPlaybook(["-i", join(dir, "hosts.yml"), "--frobnicate"], playbook, b)).toBe(2);
    expect(b.errors.join("\n")).toContain("unknown option '--frobnicate'");
    const c = io();
    expect(await runPlaybook(["-i", join(dir, "hosts.yml"), "--tags", "dmeo"], playbook, c)).toBe(2);
    expect(c.errors.join("\n")).toContain('did you mean "demo"');
    const d = io();
    expect(await runPlaybook(["-i", join(dir, "hosts.yml"), "--limit", "mx9"], playbook, d)).toBe(2);
    expect(existsSync(join(dir, "mx1", "f"))).toBe(false);
  });

  it("--check changes nothing and --limit/--tags select hosts and roles", async () => {
    const dir = setup({ mx1: {}, mx2: {} });
    const a = io();
    expect(await runPlaybook(["-i", join(dir, "hosts.yml"), "--check", "--diff", "--limit", "mx2"], playbook, a)).toBe(0);
    expect(existsSync(join(dir, "mx2", "f"))).toBe(false);
    expect(a.lines.join("\n")).toContain("+x");
    expect(a.lines.some((l) => l.startsWith("mx1 "))).toBe(false);
    const b = io();
    expect(await runPlaybook(["-i", join(dir, "hosts.yml"), "--tags", "other"], playbook, b)).toBe(0);
    expect(b.lines).toContain("total  ok=0 changed=0 failed=0 skipped=0");
  });
});

describe("one front door: dns.ts and verify.ts decide exit codes where site.ts does", () => {
  const withWrite = () => {
    const x = io();
    const written: string[] = [];
    return { ...x, written, stdout: { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream };
  };
  for (const [name, main] of [["dns", dnsMain], ["verify", verifyMain]] as const) {
    it(`${name}: --help 0, a bad flag 2 with the usage, a bad inventory 2 naming file and line, no host touched`, async () => {
      const a = withWrite();
      expect(await main(["--help"], a)).toBe(0);
      expect(a.written.join("")).toContain(`Usage: ${name}`);
      const b = withWrite();
      expect(await main(["-i", "x.yml", "--bogus"], b)).toBe(2);
      expect(b.errors.join("\n")).toMatch(new RegExp(`unknown option '--bogus'[\\s\\S]*usage: npx tsx playbooks/${name}.ts`));
      const c = withWrite();
      const bad = join(import.meta.dirname, "fixtures/hostile/01-alias-target-newline.yml");
      expect(await main(["-i", bad], c)).toBe(2);
      expect(c.errors.join("\n")).toMatch(/01-alias-target-newline\.yml:\d+: hosts\.mx1\.vars\.mailbox_aliases/);
    });
  }
  it("verify: a --resolver that is not an address is bad input (2)", async () => {
    const a = withWrite();
    expect(await verifyMain(["-i", "x.yml", "--resolver", "abc"], a)).toBe(2);
    expect(a.errors.join("\n")).toContain("--resolver abc: not an IP address");
  });
});

describe("every playbook starts as a user runs it (its own process, its own module order)", () => {
  // An import cycle between roles only breaks at start-up, in the order a given entry point loads
  // the modules (seen: the backup role reading the status role's paths made site.ts die with
  // "Cannot access 'BACKUP_STATE' before initialization", while every in-process test passed).
  const books = readdirSync(join(import.meta.dirname, "../../playbooks")).filter((f) => f.endsWith(".ts"));
  it.each(books)("npx tsx playbooks/%s --help exits 0", async (book) => {
    const r = spawnSync(join(import.meta.dirname, "../../node_modules/.bin/tsx"), [join("playbooks", book), "--help"], { cwd: join(import.meta.dirname, "../.."), encoding: "utf8", timeout: 60_000 });
    expect(r.status, `${r.stdout}${r.stderr}`.slice(-1500)).toBe(0);
  });
});
