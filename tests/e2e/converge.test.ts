/**
 * The idempotence gate on real VMs: converge the site playbook on a Debian 12
 * (mx1) and a Debian 13 (mx2) host through the real CLI, then again: the
 * second run must change nothing. Every role's verify checks run and pass.
 * Then check mode on a drifted host reports the drift and changes nothing.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureLab, sshRun, type LabState } from "../lab/index.js";
import { site, stepsWith } from "./helpers.js";

let lab: LabState;

beforeAll(async () => {
  lab = await ensureLab();
});

describe("site playbook on the lab (bookworm + trixie)", () => {
  it("converges mx1 and mx2, runs verify, and a second run reports changed=0", async () => {
    const inv = lab.inventory;
    const first = await site(["-i", inv, "--limit", "mail"]);
    expect(stepsWith(first, "failed"), first.stdout + first.stderr).toEqual([]);
    expect(first.code).toBe(0);
    const verified = first.report.steps.filter((s) => s.kind === "verify");
    for (const host of ["mx1", "mx2"]) {
      expect(verified.filter((s) => s.host === host && s.role === "base").length).toBeGreaterThan(5);
    }
    const second = await site(["-i", inv, "--limit", "mail"]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    // Name every step that changed on the second run.
    expect(stepsWith(second, "changed")).toEqual([]);
    expect(second.stdout).toMatch(/^mx1\s+ok=\d+ changed=0 failed=0 skipped=\d+$/m);
    expect(second.stdout).toMatch(/^mx2\s+ok=\d+ changed=0 failed=0 skipped=\d+$/m);
    const os = Object.fromEntries(lab.hosts.map((h) => [h.name, h.os]));
    expect([os.mx1, os.mx2].sort()).toEqual(["bookworm", "trixie"]);
    console.log(`converge: first ${first.seconds.toFixed(1)} s, second (no-op) ${second.seconds.toFixed(1)} s`);
  });

  it("every long-running mail service runs in mail.slice, capped at budget_memory_max, on both releases", async () => {
    for (const host of lab.hosts.filter((h) => h.name === "mx1" || h.name === "mx2")) {
      // Debian 12 runs Postfix's master in postfix@-.service, Debian 13 in postfix.service.
      const postfix = host.os === "bookworm" ? "postfix@-.service" : "postfix.service";
      const units = [postfix, "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service"];
      const r = await sshRun(host, `for u in ${units.join(" ")}; do echo "$u $(systemctl show -p Slice --value $u) $(systemctl show -p ControlGroup --value $u)"; done; systemctl show -p MemoryMax -p MemoryHigh -p MemoryLow mail.slice`);
      const lines = r.stdout.trim().split("\n");
      for (const u of units) {
        const line = lines.find((l) => l.startsWith(`${u} `)) ?? "";
        expect(line, host.name).toMatch(new RegExp(`^${u.replace(/[.@]/g, "\\$&")} mail\\.slice /mail\\.slice/`));
      }
      expect(r.stdout, host.name).toContain(`MemoryMax=${100 * 1024 * 1024}`);
      expect(r.stdout, host.name).toContain(`MemoryHigh=${90 * 1024 * 1024}`);
      expect(r.stdout, host.name).toContain(`MemoryLow=${40 * 1024 * 1024}`);
      // The kernel holds the cap: cgroup v2's memory.max, or v1's memory.limit_in_bytes (the lab's hybrid host).
      const cap = await sshRun(host, "cat /sys/fs/cgroup/mail.slice/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/mail.slice/memory.limit_in_bytes");
      expect(Number(cap.stdout.trim()), `${host.name}: ${cap.stdout}`).toBe(100 * 1024 * 1024);
    }
  });

  it("--check --diff on a drifted host reports the drift with a diff and changes nothing", async () => {
    const host = lab.hosts.find((h) => h.name === "mx1")!;
    await sshRun(host, "echo 'hand edit' | sudo tee /etc/motd >/dev/null");
    const before = await sshRun(host, "sha256sum /etc/motd /etc/mailname; stat -c %Y /etc/motd");
    const check = await site(["-i", lab.inventory, "--limit", "mx1", "--check", "--diff"]);
    expect(check.code).toBe(0);
    // in check mode the handler it would notify is reported too
    expect(stepsWith(check, "changed")).toEqual(["mx1 motd: Render /etc/motd", "mx1 motd: record motd change"]);
    expect(check.stdout).toContain("-hand edit");
    expect(check.stdout).toContain("+This host is managed by mailstead");
    const after = await sshRun(host, "sha256sum /etc/motd /etc/mailname; stat -c %Y /etc/motd");
    expect(after.stdout).toBe(before.stdout);
    // and a real run repairs it, then the handler ran exactly once
    const fix = await site(["-i", lab.inventory, "--limit", "mx1", "--tags", "motd"]);
    expect(stepsWith(fix, "changed")).toEqual(["mx1 motd: Render /etc/motd", "mx1 motd: record motd change"]);
  });
});
