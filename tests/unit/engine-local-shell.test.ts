/**
 * The engine against a real shell on this machine (LocalTransport, no VM):
 * quoting round trips, fact batches, uploads and their temp files, secrets
 * masking, handler order, validators. Each case once failed.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Host } from "../../lib/host.js";
import { command, file, lineInFile, systemd } from "../../lib/operations/index.js";
import type { Role } from "../../lib/role.js";
import { run } from "../../lib/runner.js";
import { Redactor } from "../../lib/secrets.js";
import { cmd, quote } from "../../lib/shell.js";
import { renderString } from "../../lib/template.js";
import { LocalTransport } from "../../lib/transport/local.js";
import { TimeoutError } from "../../lib/errors.js";

const tmp = () => mkdtempSync(join(tmpdir(), "mailstead-fix-"));
const host = () => new Host("h", {}, new LocalTransport(30_000));
const role = (steps: Role["steps"], handlers?: Role["handlers"]): Role => ({ name: "r", settings: {}, steps, ...(handlers ? { handlers } : {}) });

describe("shell quoting", () => {
  it("round-trips awkward strings through sh -c", async () => {
    const t = new LocalTransport();
    for (const s of ["", "plain", "it's", "a b", "$HOME", "`id`", "line\nbreak", "-n", "\\", "'", "*"]) {
      const r = await t.run(`printf %s ${quote(s)}`);
      expect(r.stdout).toBe(s);
    }
    expect(cmd("echo", "a b", "c")).toBe("echo 'a b' c");
  });
});

describe("facts", () => {
  it("a failing fact command fails the step instead of being read as 'absent'", async () => {
    const d = tmp();
    const out = await run([host()], [role(() => [{ title: "svc", action: systemd.service({ name: "x.service", running: true }) }])], {
      check: true,
      diff: false,
    });
    // this machine has no systemd: systemctl fails, and nothing may be planned from that
    expect(out.results[0]?.status ?? "none").not.toBe("changed");
    expect(out.summaries[0]!.failed).toBe(1);
    void d;
  });

  it("a `# comment` in a guard does not break the fact batch", async () => {
    const d = tmp();
    writeFileSync(join(d, "f"), "x\n");
    const out = await run([host()], [role(() => [{ title: "guarded", action: command({ run: "false", unless: `grep -q x ${join(d, "f")} # already there` }) }])], {
      check: false,
      diff: false,
    });
    expect(out.results.map((r) => r.status)).toEqual(["ok"]);
  });
});

describe("file uploads", () => {
  it("leave no temp file when chown fails, and say what failed", async () => {
    const d = tmp();
    const out = await run([host()], [role(() => [{ title: "w", action: file({ path: join(d, "a.conf"), content: "a\n", owner: "no-such-user-xyz", validate: "true %s" }) }])], {
      check: false,
      diff: false,
    });
    expect(out.results[0]!.status).toBe("failed");
    expect(out.results[0]!.error!.stderrTail).toContain("chown");
    expect(out.results[0]!.error!.stderrTail).not.toContain("validation failed");
    expect(readdirSync(d)).toEqual([]);
  });
});

describe("lineInFile", () => {
  it("is idempotent when regexp matches only the commented form", async () => {
    const d = tmp();
    const f = join(d, "sshd_config");
    writeFileSync(f, "#PermitRootLogin prohibit-password\nPort 22\n");
    const r = role(() => [{ title: "line", action: lineInFile({ path: f, regexp: "^#PermitRootLogin", line: "PermitRootLogin no", backupDir: join(d, "bk") }) }]);
    const first = await run([host()], [r], { check: false, diff: false });
    expect(first.summaries[0]!.changed).toBe(1);
    const second = await run([host()], [r], { check: false, diff: false });
    expect(second.summaries[0]!.changed).toBe(0);
    expect(readFileSync(f, "utf8")).toBe("PermitRootLogin no\nPort 22\n");
  });
});

describe("secrets", () => {
  it("stay hidden when a sensitive command times out", async () => {
    const out = await run([host()], [role(() => [{ title: "slow", action: command({ run: "sleep 5; echo s3cr3t-pass", sensitive: true, timeoutMs: 200 }) }])], {
      check: false,
      diff: false,
    });
    expect(out.results[0]!.status).toBe("failed");
    expect(JSON.stringify(out.results)).not.toContain("s3cr3t-pass");
  });

  it("are masked in their shell-quoted and JSON-escaped forms, in titles and reasons too", () => {
    const r = new Redactor();
    r.add(`it's-"my"-secret`);
    expect(r.redact(cmd("echo", `it's-"my"-secret`))).not.toContain("my");
    expect(r.redact(JSON.stringify({ v: `it's-"my"-secret` }))).not.toContain("my");
  });
});

describe("templates", () => {
  it("fail on a missing name inside #if, #each and helper arguments", () => {
    expect(() => renderString("{{#if tls_on}}x{{/if}}", {})).toThrow(/"tls_on" not defined/);
    expect(() => renderString("{{#each users}}{{name}}{{/each}}", {})).toThrow(/"users" not defined/);
    expect(() => renderString('{{join domains ","}}', {})).toThrow(/"domains" not defined/);
    expect(() => renderString("{{#if a.b}}x{{/if}}", { a: {} })).toThrow(/"a.b" not defined/);
    // names inside #each refer to the items, not the vars
    expect(renderString("{{#each users}}{{name}};{{/each}}", { users: [{ name: "a" }, { name: "b" }] })).toBe("a;b;");
    expect(renderString('{{#if on}}{{join list ","}}{{else}}off{{/if}}', { on: false, list: [] })).toBe("off");
  });
});

describe("transport", () => {
  it("a local command is killed with its children at the timeout", async () => {
    const d = tmp();
    const t = new LocalTransport();
    const started = Date.now();
    await expect(t.run(`sh -c 'sleep 2; touch ${join(d, "late")}' & wait`, { timeoutMs: 300 })).rejects.toThrow(TimeoutError);
    expect(Date.now() - started).toBeLessThan(1500);
    await new Promise((r) => setTimeout(r, 2500));
    expect(readdirSync(d)).toEqual([]);
  });
});

describe("handlers", () => {
  it("run in definition order, not notification order", async () => {
    const d = tmp();
    const log = join(d, "log");
    const out = await run(
      [host()],
      [
        role(
          () => [{ title: "w", action: file({ path: join(d, "x"), content: "x\n" }), notify: ["second", "first"] }],
          () => [
            { name: "first", action: command({ run: `echo first >> ${log}` }) },
            { name: "second", action: command({ run: `echo second >> ${log}` }) },
          ],
        ),
      ],
      { check: false, diff: false },
    );
    expect(out.summaries[0]!.failed).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("first\nsecond\n");
  });
});

describe("validators", () => {
  it("may call exit: the file still goes live when the validator exits 0", async () => {
    const d = tmp();
    const out = await run([host()], [role(() => [{ title: "w", action: file({ path: join(d, "a.conf"), content: "ok\n", validate: "grep -q ok %s; rc=$?; exit $rc" }) }])], {
      check: false,
      diff: false,
    });
    expect(out.results[0]!.status).toBe("changed");
    expect(readFileSync(join(d, "a.conf"), "utf8")).toBe("ok\n");
    expect(readdirSync(d)).toEqual(["a.conf"]);
  });
});
