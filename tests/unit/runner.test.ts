/**
 * Runner semantics against the local transport in a temp dir: handlers run
 * once and only on change, in definition order, at the end of the role; check
 * mode changes nothing (byte-identical tree); sensitive content is masked;
 * a failing host stops at its first failure while others go on.
 */
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Host } from "../../lib/host.js";
import { command, directory, file, keyValue, refuse } from "../../lib/operations/index.js";
import type { Role } from "../../lib/role.js";
import { fileContent } from "../../lib/facts/files.js";
import { commandStatus } from "../../lib/facts/system.js";
import { ref } from "../../lib/facts/types.js";
import { run, type StepResult } from "../../lib/runner.js";
import { LocalTransport } from "../../lib/transport/local.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mailstead-runner-"));
});
afterEach(() => {});

const host = (name = "h1", vars: Record<string, unknown> = {}) => new Host(name, vars, new LocalTransport(30_000));

/** A snapshot of every file under a dir: path → mode + sha256. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p);
      if (e.isDirectory()) {
        out[p] = `dir ${st.mode.toString(8)}`;
        walk(p);
      } else out[p] = `${st.mode.toString(8)} ${createHash("sha256").update(readFileSync(p)).digest("hex")} ${st.mtimeMs}`;
    }
  };
  walk(root);
  return out;
}

function demoRole(d: string, content: string, extra: Partial<Role> = {}): Role {
  const log = join(d, "handler.log");
  return {
    name: "demo",
    settings: {},
    steps: () => [
      { title: "create conf dir", action: directory({ path: join(d, "etc"), mode: "0755" }) },
      { title: "write a.conf", action: file({ path: join(d, "etc/a.conf"), content, backupDir: join(d, "backup") }), notify: ["reload a", "reload b"] },
      { title: "write b.conf", action: file({ path: join(d, "etc/b.conf"), content: "b\n", backupDir: join(d, "backup") }), notify: "reload b" },
    ],
    handlers: () => [
      { name: "reload a", action: command({ run: `echo a >> ${log}` }) },
      { name: "reload b", action: command({ run: `echo b >> ${log}` }) },
      { name: "never", action: command({ run: `echo never >> ${log}` }) },
    ],
    ...extra,
  };
}

const statuses = (rs: StepResult[]) => rs.map((r) => `${r.kind}:${r.title}=${r.status}`);

describe("runner", () => {
  it("converges, runs each notified handler once in definition order, then changes nothing", async () => {
    const role = demoRole(dir, "one\n");
    const first = await run([host()], [role], { check: false, diff: false });
    expect(statuses(first.results)).toEqual([
      "step:create conf dir=changed",
      "step:write a.conf=changed",
      "step:write b.conf=changed",
      "handler:reload a=changed",
      "handler:reload b=changed",
    ]);
    // "reload b" was notified twice, ran once; "never" was not notified.
    expect(readFileSync(join(dir, "handler.log"), "utf8")).toBe("a\nb\n");
    expect(first.summaries[0]).toMatchObject({ ok: 0, changed: 5, failed: 0, skipped: 0 });

    const second = await run([host()], [role], { check: false, diff: false });
    expect(second.summaries[0]).toMatchObject({ ok: 3, changed: 0, failed: 0 });
    expect(readFileSync(join(dir, "handler.log"), "utf8")).toBe("a\nb\n");
  });

  it("runs only the handlers of steps that changed", async () => {
    await run([host()], [demoRole(dir, "one\n")], { check: false, diff: false });
    const again = await run([host()], [demoRole(dir, "two\n")], { check: false, diff: false });
    expect(statuses(again.results)).toEqual([
      "step:create conf dir=ok",
      "step:write a.conf=changed",
      "step:write b.conf=ok",
      "handler:reload a=changed",
      "handler:reload b=changed",
    ]);
    // the previous version is kept
    expect(readFileSync(join(dir, "backup", dir, "etc/a.conf"), "utf8")).toBe("one\n");
  });

  it("check mode reports what would change and leaves the tree byte-identical", async () => {
    mkdirSync(join(dir, "etc"));
    writeFileSync(join(dir, "etc/a.conf"), "old\n");
    writeFileSync(join(dir, "etc/kv.conf"), "# comment\nkey = old\n");
    const before = snapshot(dir);
    const role = demoRole(dir, "new\n", {});
    const kvRole: Role = {
      name: "kv",
      settings: {},
      steps: () => [{ title: "edit kv", action: keyValue({ path: join(dir, "etc/kv.conf"), settings: { key: "new" }, backupDir: join(dir, "backup") }) }],
    };
    const out = await run([host()], [role, kvRole], { check: true, diff: true });
    expect(snapshot(dir)).toEqual(before);
    expect(statuses(out.results)).toEqual([
      "step:create conf dir=ok",
      "step:write a.conf=changed",
      "step:write b.conf=changed",
      "handler:reload a=changed",
      "handler:reload b=changed",
      "step:edit kv=changed",
    ]);
    const a = out.results.find((r) => r.title === "write a.conf")!;
    expect(a.diff).toContain("-old");
    expect(a.diff).toContain("+new");
    const kv = out.results.find((r) => r.title === "edit kv")!;
    expect(kv.diff).toContain("-key = old");
    expect(kv.diff).toContain("+key = new");
    expect(existsSync(join(dir, "handler.log"))).toBe(false);
  });

  it("never shows sensitive content: no diff, masked commands, redacted secrets", async () => {
    const secret = "hunter2-very-secret";
    const role: Role = {
      name: "s",
      settings: {},
      steps: () => [
        { title: "write key", action: file({ path: join(dir, "key.pem"), content: `KEY ${secret}\n`, mode: "0600", sensitive: true }) },
        { title: "write conf", action: file({ path: join(dir, "app.conf"), content: `password = ${secret}\n` }) },
        { title: "use secret", action: command({ run: `test -n ${secret}`, sensitive: true }) },
      ],
    };
    const out = await run([host()], [role], { check: true, diff: true, redact: (s) => s.split(secret).join("***") });
    const text = JSON.stringify(out.results);
    expect(text).not.toContain(secret);
    const key = out.results.find((r) => r.title === "write key")!;
    expect(key.diff).toContain("sensitive");
    expect(key.diff).not.toContain("KEY");
    expect(out.results.find((r) => r.title === "use secret")!.commands).toEqual(["<sensitive: hidden>"]);
    expect(out.results.find((r) => r.title === "write conf")!.diff).toContain("password = ***");
  });

  it("stops a failing host at its first failure, reports pending handlers, and lets other hosts go on", async () => {
    const d1 = join(dir, "h1");
    const d2 = join(dir, "h2");
    mkdirSync(d1);
    mkdirSync(d2);
    const role = (d: string, fail: boolean): Role => ({
      name: "r",
      settings: {},
      steps: () => [
        { title: "write", action: file({ path: join(d, "x"), content: "x\n" }), notify: "h" },
        { title: "maybe fail", action: command({ run: fail ? "echo boom >&2; exit 3" : "true", creates: join(d, "nothing-here") }) },
        { title: "after", action: file({ path: join(d, "y"), content: "y\n" }) },
      ],
      handlers: () => [{ name: "h", action: command({ run: `touch ${join(d, "handled")}` }) }],
    });
    // Two hosts, each with its own role instance, run through two runs in parallel.
    const [a, b] = await Promise.all([
      run([host("bad")], [role(d1, true)], { check: false, diff: false }),
      run([host("good")], [role(d2, false)], { check: false, diff: false }),
    ]);
    expect(statuses(a.results)).toEqual(["step:write=changed", "step:maybe fail=failed"]);
    const failed = a.results[1]!;
    expect(failed.error).toMatchObject({ exitCode: 3, command: "echo boom >&2; exit 3" });
    expect(failed.error!.stderrTail).toContain("boom");
    expect(a.summaries[0]).toMatchObject({ failed: 1, pendingHandlers: ["h"] });
    expect(existsSync(join(d1, "y"))).toBe(false);
    expect(existsSync(join(d1, "handled"))).toBe(false);
    expect(b.summaries[0]).toMatchObject({ failed: 0, changed: 4 });
    expect(existsSync(join(d2, "handled"))).toBe(true);
  });

  it("keeps the running file when validation fails", async () => {
    writeFileSync(join(dir, "svc.conf"), "good\n");
    const role: Role = {
      name: "v",
      settings: {},
      steps: () => [{ title: "write", action: file({ path: join(dir, "svc.conf"), content: "bad\n", validate: "grep -q good %s", backupDir: join(dir, "b") }) }],
    };
    const out = await run([host()], [role], { check: false, diff: false });
    expect(out.results[0]!.status).toBe("failed");
    expect(out.results[0]!.error!.stderrTail).toContain("validation failed");
    expect(readFileSync(join(dir, "svc.conf"), "utf8")).toBe("good\n");
    expect(readdirSync(dir).filter((f) => f.includes("mailstead-tmp"))).toEqual([]);
  });

  it("gathers the facts of a converged role in one round trip", async () => {
    const role = demoRole(dir, "one\n");
    await run([host()], [role], { check: false, diff: false });
    const h = host();
    const out = await run([h], [role], { check: false, diff: false });
    expect(out.summaries[0]!.changed).toBe(0);
    // one for the OS facts at connect, one for all of the role's steps
    expect(out.summaries[0]!.factRoundTrips).toBe(2);
  });

  it("a no-op run of roles whose steps read facts, with verifies, still takes two round trips", async () => {
    const flag = join(dir, "flag");
    writeFileSync(flag, "on\n");
    const probe = ref(commandStatus, `test -f ${flag}`);
    const seen = ref(fileContent, flag);
    const planned: Role = {
      name: "planned",
      settings: {},
      facts: () => [probe],
      steps: (ctx) => [{ title: "write c.conf", action: file({ path: join(dir, "c.conf"), content: ctx.fact(probe) === 0 ? "flag\n" : "none\n" }) }],
      verifyFacts: () => [seen],
      verify: (ctx) => [{ name: "flag is on", ok: ctx.fact(seen) === "on\n" }],
    };
    const roles = [demoRole(dir, "one\n"), planned];
    await run([host()], roles, { check: false, diff: false });
    const h = host();
    const out = await run([h], roles, { check: false, diff: false });
    expect(out.summaries[0]!.changed).toBe(0);
    expect(out.results.filter((r) => r.kind === "verify").map((r) => r.status)).toEqual(["ok"]);
    // the release, pending handlers and plan facts; then every step's and verify's facts
    expect(out.summaries[0]!.factRoundTrips).toBe(2);
    expect(readFileSync(join(dir, "c.conf"), "utf8")).toBe("flag\n");
  });

  it("skips steps whose condition is false and reports unknown handlers", async () => {
    const role: Role = {
      name: "c",
      settings: {},
      steps: () => [{ title: "off", action: file({ path: join(dir, "off"), content: "" }), when: false }],
    };
    const out = await run([host()], [role], { check: false, diff: false });
    expect(statuses(out.results)).toEqual(["step:off=skipped"]);
    expect(existsSync(join(dir, "off"))).toBe(false);
    const bad: Role = { ...role, steps: () => [{ title: "x", action: file({ path: join(dir, "x"), content: "" }), notify: "nope" }] };
    const out2 = await run([host()], [bad], { check: false, diff: false });
    expect(out2.summaries[0]!.error).toContain('unknown handler "nope"');
    expect(out2.summaries[0]!.failed).toBe(1);
  });

  it("runs notified handlers early at an explicit flush", async () => {
    const log = join(dir, "log");
    const role: Role = {
      name: "f",
      settings: {},
      steps: () => [
        { title: "one", action: file({ path: join(dir, "one"), content: "1\n" }), notify: "h" },
        { title: "flush", flush: true },
        { title: "two", action: command({ run: `echo two >> ${log}`, creates: join(dir, "two") }) },
      ],
      handlers: () => [{ name: "h", action: command({ run: `echo handler >> ${log}` }) }],
    };
    await run([host()], [role], { check: false, diff: false });
    expect(readFileSync(log, "utf8")).toBe("handler\ntwo\n");
  });

  it("a refusal fails the host in check mode too, naming it, and nothing after it runs", async () => {
    for (const check of [true, false]) {
      const role: Role = {
        name: "r",
        settings: {},
        steps: () => [
          { title: "refuse an unsupported Dovecot", action: refuse("mailstead: dovecot-core 2.5 is neither 2.3 nor 2.4") },
          { title: "never planned", action: command({ run: "true" }) },
        ],
      };
      const out = await run([host()], [role], { check, diff: false });
      expect(statuses(out.results)).toEqual(["step:refuse an unsupported Dovecot=failed"]);
      expect(out.results[0]!.error?.message).toContain("dovecot-core 2.5 is neither 2.3 nor 2.4");
      expect(out.results[0]!.commands).toEqual([]);
      expect(out.summaries[0]!.failed).toBe(1);
    }
  });
});

describe("a role's switch (<role>_enabled): one meaning for every role", () => {
  const guarded = (d: string): Role => ({
    name: "guard",
    settings: {},
    switch: {
      setting: "guard_enabled",
      security: "nothing guards the door",
      off: () => [{ title: "stop the guard", action: command({ run: `echo stopped >> ${join(d, "off.log")}` }) }],
    },
    steps: () => [{ title: "write guard.conf", action: file({ path: join(d, "guard.conf"), content: "on\n", backupDir: join(d, "backup") }), notify: "reload" }],
    handlers: () => [{ name: "reload", action: command({ run: `echo reload >> ${join(d, "on.log")}` }) }],
    verify: async () => [{ name: "guard is up", ok: false, detail: "verify must not run when off" }],
  });

  it("off: only the off steps run, no handler, no verify, and a warning says what is unprotected", async () => {
    const out = await run([host("h1", { guard_enabled: false })], [guarded(dir)], { check: false, diff: false });
    expect(out.results.map((r) => `${r.status} ${r.title}`)).toEqual(["warning guard_enabled is false: guard is switched off", "changed stop the guard"]);
    expect(out.results[0]!.error?.message).toBe("nothing guards the door");
    expect(existsSync(join(dir, "guard.conf"))).toBe(false);
    expect(existsSync(join(dir, "on.log"))).toBe(false);
    expect(out.summaries[0]).toMatchObject({ failed: 0, warnings: 1 });
  });

  it("off, in check mode: the warning is still there and nothing runs", async () => {
    const out = await run([host("h1", { guard_enabled: false })], [guarded(dir)], { check: true, diff: false });
    expect(out.results.map((r) => r.status)).toEqual(["warning", "changed"]);
    expect(existsSync(join(dir, "off.log"))).toBe(false);
  });

  it("on: the role's own steps, handlers and verify", async () => {
    const out = await run([host("h1", { guard_enabled: true })], [guarded(dir)], { check: false, diff: false });
    expect(out.results.map((r) => `${r.kind} ${r.status} ${r.title}`)).toEqual(["step changed write guard.conf", "handler changed reload", "verify failed verify: guard is up"]);
    expect(existsSync(join(dir, "off.log"))).toBe(false);
  });
});

describe("pending handlers survive a failed run", () => {
  const role = (d: string, failAt: "second" | "none"): Role => ({
    name: "keep",
    settings: {},
    steps: () => [
      { title: "write k.conf", action: file({ path: join(d, "k.conf"), content: "k\n", backupDir: join(d, "backup") }), notify: "reload k" },
      { title: "second step", action: command({ run: failAt === "second" ? "exit 3" : "true", unless: "false" }) },
    ],
    handlers: () => [{ name: "reload k", action: command({ run: `echo reload >> ${join(d, "reload.log")}` }) }],
  });
  const log = (d: string) => (existsSync(join(d, "reload.log")) ? readFileSync(join(d, "reload.log"), "utf8") : "");

  it("a handler notified before a failure is persisted, shown in check mode, run and cleared by the next run", async () => {
    const stateDir = join(dir, "state");
    const first = await run([host()], [role(dir, "second")], { check: false, diff: false, stateDir });
    expect(first.summaries[0]!.failed).toBe(1);
    expect(first.summaries[0]!.pendingHandlers).toEqual(["reload k"]);
    expect(log(dir)).toBe("");
    expect(readdirSync(join(stateDir, "pending"))).toHaveLength(1);

    // The file is in place now, so no step notifies: only the persisted marker brings the handler back.
    const check = await run([host()], [role(dir, "none")], { check: true, diff: false, stateDir });
    const planned = check.results.find((r) => r.kind === "handler")!;
    expect(planned).toMatchObject({ title: "reload k", status: "changed" });
    expect(planned.reasons).toContain("notified by an earlier run that failed before it ran");
    expect(log(dir)).toBe("");

    const second = await run([host()], [role(dir, "none")], { check: false, diff: false, stateDir });
    expect(second.results.filter((r) => r.kind === "handler").map((r) => `${r.status} ${r.title}`)).toEqual(["changed reload k"]);
    expect(log(dir)).toBe("reload\n");
    expect(readdirSync(join(stateDir, "pending"))).toEqual([]);

    const third = await run([host()], [role(dir, "none")], { check: false, diff: false, stateDir });
    expect(third.results.filter((r) => r.kind === "handler")).toEqual([]);
    expect(log(dir)).toBe("reload\n");
  });

  it("a run that succeeds leaves nothing pending", async () => {
    const stateDir = join(dir, "state");
    await run([host()], [role(dir, "none")], { check: false, diff: false, stateDir });
    expect(log(dir)).toBe("reload\n");
    expect(readdirSync(join(stateDir, "pending"))).toEqual([]);
  });

  it("a marker of another role, or of a handler that no longer exists, is left alone", async () => {
    const stateDir = join(dir, "state");
    mkdirSync(join(stateDir, "pending"), { recursive: true });
    writeFileSync(join(stateDir, "pending", "other--0123456789abcdef"), "other\nrestart other\n");
    const out = await run([host()], [role(dir, "none")], { check: false, diff: false, stateDir });
    expect(out.results.filter((r) => r.kind === "handler").map((r) => r.title)).toEqual(["reload k"]);
    expect(readdirSync(join(stateDir, "pending"))).toEqual(["other--0123456789abcdef"]);
  });
});

describe("Role.pause (a watchdog suspended while the host changes)", () => {
  const paused = (d: string, log: string): Role => ({
    name: "watchdog",
    settings: {},
    steps: () => [],
    pause: () => ({ suspend: `echo suspend >> ${log}`, resume: `echo resume >> ${log}`, why: "test" }),
  });
  const seen = (log: string) => (existsSync(log) ? readFileSync(log, "utf8") : "");

  it("suspends once before the first command of a run that changes something and resumes after the last role", async () => {
    const log = join(dir, "pause.log");
    const changing = demoRole(dir, "one\n", { handlers: () => [{ name: "reload a", action: command({ run: `echo handler >> ${log}` }) }, { name: "reload b", action: command({ run: "true" }) }] });
    await run([host()], [paused(dir, log), changing], { check: false, diff: false });
    expect(seen(log)).toBe("suspend\nhandler\nresume\n");
  });

  it("a run that changes nothing does not suspend, and still resumes (a run cut off earlier cannot leave it suspended)", async () => {
    const log = join(dir, "pause.log");
    const role = demoRole(dir, "one\n");
    await run([host()], [role], { check: false, diff: false });
    await run([host()], [paused(dir, log), role], { check: false, diff: false });
    expect(seen(log)).toBe("resume\n");
  });

  it("check mode neither suspends nor resumes", async () => {
    const log = join(dir, "pause.log");
    await run([host()], [paused(dir, log), demoRole(dir, "one\n")], { check: true, diff: false });
    expect(seen(log)).toBe("");
  });

  it("a role left out by --tags still pauses (playbookRoles); a role switched off does not", async () => {
    const log = join(dir, "pause.log");
    const w = paused(dir, log);
    const role = demoRole(dir, "one\n");
    await run([host()], [role], { check: false, diff: false, playbookRoles: [w, role] });
    expect(seen(log)).toBe("suspend\nresume\n");
    const off: Role = { ...w, name: "off", switch: { setting: "off_enabled" } };
    writeFileSync(join(dir, "etc/a.conf"), "changed by hand\n");
    await run([host("h1", { off_enabled: false })], [role], { check: false, diff: false, playbookRoles: [off, role] });
    expect(seen(log)).toBe("suspend\nresume\n");
  });

  it("the run fails: it still resumes", async () => {
    const log = join(dir, "pause.log");
    const failing: Role = { name: "bad", settings: {}, steps: () => [{ title: "fail", action: command({ run: "exit 3" }) }] };
    const r = await run([host()], [paused(dir, log), failing], { check: false, diff: false });
    expect(r.summaries[0]!.failed).toBe(1);
    expect(seen(log)).toBe("suspend\nresume\n");
  });
});
