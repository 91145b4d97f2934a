/**
 * The "warning" status: a step with `onError: "warn"` that fails, or a verify
 * check with `warn: true` that does not pass, is reported (plain, JSON, recap,
 * the warnings list after the recap) but does not stop the host and keeps the
 * exit code 0. A step without it still fails the host (exit 1).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runPlaybook, type CliIo } from "../../lib/cli.js";
import { defineDefaults } from "../../lib/defaults.js";
import { Host } from "../../lib/host.js";
import { command, file } from "../../lib/operations/index.js";
import { colors } from "../../lib/report/colors.js";
import { formatStep } from "../../lib/report/plain.js";
import { recapLines, warningLines } from "../../lib/report/recap.js";
import type { Role } from "../../lib/role.js";
import { run } from "../../lib/runner.js";
import { LocalTransport } from "../../lib/transport/local.js";

const settings = defineDefaults("w", {
  w_dir: { default: undefined, why: "where the test writes", schema: { type: "string" } },
  w_strict: { default: false, why: "make the failing step a failure, not a warning", schema: { type: "boolean" } },
});

const role: Role<{ w_dir: string; w_strict: boolean }> = {
  name: "w",
  settings,
  steps: (ctx) => [
    {
      title: "try something that may not work yet",
      action: command({ run: "echo 'mailstead: fix the record X' >&2; exit 3", creates: join(ctx.vars.w_dir, "never") }),
      ...(ctx.vars.w_strict ? {} : { onError: "warn" as const }),
    },
    { title: "go on", action: file({ path: join(ctx.vars.w_dir, "after"), content: "x\n", backupDir: join(ctx.vars.w_dir, "bk") }) },
  ],
  verify: async () => [
    { name: "fine", ok: true },
    { name: "almost expired", ok: false, warn: true, detail: "10 days left" },
  ],
};

function io(): CliIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l), stdout: { isTTY: false } as NodeJS.WriteStream, env: { NO_COLOR: "1" } };
}

function setup(strict: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), "mailstead-warn-"));
  mkdirSync(join(dir, "h"));
  writeFileSync(join(dir, "hosts.yml"), `hosts:\n  h:\n    connection: local\n    vars:\n      w_dir: ${join(dir, "h")}\n      w_strict: ${strict}\n`);
  return dir;
}

describe("warning status", () => {
  it("runner: a warned step and a warn check do not stop the host; counted as warnings, not failures", async () => {
    const dir = setup(false);
    const out = await run([new Host("h", { w_dir: join(dir, "h"), w_strict: false }, new LocalTransport(30_000))], [role as Role], { check: false, diff: false });
    expect(out.results.map((r) => `${r.title}=${r.status}`)).toEqual([
      "try something that may not work yet=warning",
      "go on=changed",
      "verify: fine=ok",
      "verify: almost expired=warning",
    ]);
    expect(out.results[0]!.error?.message).toContain("mailstead: fix the record X");
    expect(out.summaries[0]).toMatchObject({ ok: 1, changed: 1, failed: 0, warnings: 2 });
  });

  it("CLI: exit 0, WARNING lines, recap with warnings=, a list after the recap, JSON `warning`", async () => {
    const dir = setup(false);
    const a = io();
    const code = await runPlaybook(["-i", join(dir, "hosts.yml"), "--json", join(dir, "r.json")], { name: "site", roles: [role as Role], settings }, a);
    expect(code).toBe(0);
    expect(a.lines.some((l) => l.includes("try something that may not work yet ... WARNING"))).toBe(true);
    expect(a.lines).toContain("h      ok=1 changed=1 failed=0 skipped=0 warnings=2");
    expect(a.lines).toContain("WARNING [h] w: try something that may not work yet — exit 3: mailstead: fix the record X");
    expect(a.lines).toContain("WARNING [h] w: verify: almost expired — 10 days left");
    const report = JSON.parse(readFileSync(join(dir, "r.json"), "utf8"));
    const s = report.steps.find((x: { title: string }) => x.title === "try something that may not work yet");
    expect(s).toMatchObject({ status: "warning", warning: "exit 3: mailstead: fix the record X" });
    expect(s.error).toBeUndefined();
    expect(report.hosts[0].warnings).toBe(2);
  });

  it("CLI: the same step without onError fails the host and exits 1", async () => {
    const dir = setup(true);
    const a = io();
    const code = await runPlaybook(["-i", join(dir, "hosts.yml")], { name: "site", roles: [role as Role], settings }, a);
    expect(code).toBe(1);
    expect(a.lines).toContain("h      ok=0 changed=0 failed=1 skipped=0");
  });

  it("formatting: plain says WARNING, recap omits warnings= when there are none", () => {
    const c = colors(false);
    const line = formatStep({ host: "h", role: "r", title: "t", kind: "step", status: "warning", durationMs: 1, commands: [], reasons: [], error: { message: "why" } }, c);
    expect(line).toContain("r | t ... WARNING");
    expect(line).toContain("\n    why");
    expect(recapLines([{ host: "h", ok: 1, changed: 0, failed: 0, skipped: 0, warnings: 0, pendingHandlers: [], durationMs: 1, factRoundTrips: 1 }], c)).toEqual([
      "h      ok=1 changed=0 failed=0 skipped=0",
      "total  ok=1 changed=0 failed=0 skipped=0",
    ]);
    expect(warningLines([], c)).toEqual([]);
  });
});
