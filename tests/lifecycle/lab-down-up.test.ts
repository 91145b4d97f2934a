/**
 * The lab's lifecycle promises, run last by `npm test` (after the e2e suite):
 * `down` leaves no process, bridge, VM root or memory cgroup behind (and puts
 * back the inotify limit `up` raised), and a
 * warm `up` (images cached) brings everything back in under 30 s.
 */
import { existsSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { describe, expect, it, vi } from "vitest";
import { HOSTS, down, ensureLab, sshRun, status, up } from "../lab/index.js";
import { readRunState, type RunState } from "../lab/state.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie holds nothing: it is as good as gone
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

function linkExists(name: string): boolean {
  try {
    execFileSync("ip", ["link", "show", name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("lab lifecycle", () => {
  it("down removes every process, the bridge, VM roots and cgroups it created; a warm up is under 30 s", async () => {
    await ensureLab();
    const before: RunState = readRunState();
    const pids = [before.aptCacherNg?.pid, before.knot?.pid, before.pebble?.pid, ...Object.values(before.vms).map((v) => v.pid)].filter(
      (p): p is number => typeof p === "number",
    );
    expect(pids.length).toBeGreaterThanOrEqual(6);
    const memcgs = Object.values(before.vms).map((v) => v.memcg);
    const roots = Object.values(before.vms).map((v) => v.rootfs);

    await down();
    expect(pids.filter(alive)).toEqual([]);
    expect(linkExists(before.bridge?.name ?? "labbr0")).toBe(false);
    expect(memcgs.filter((p) => existsSync(p))).toEqual([]);
    if (before.memcgParent) expect(existsSync(before.memcgParent)).toBe(false);
    expect(roots.filter((p) => existsSync(p))).toEqual([]);
    // up raised the inotify limit for the VMs' systemd; down puts the machine's value back
    if (before.inotifyRaisedFrom !== undefined) {
      expect(Number(readFileSync("/proc/sys/fs/inotify/max_user_instances", "utf8"))).toBe(before.inotifyRaisedFrom);
    }
    expect(status().up).toBe(false);

    const t0 = performance.now();
    await up();
    const seconds = (performance.now() - t0) / 1000;
    console.log(`warm lab up: ${seconds.toFixed(1)} s`);
    expect(status().up).toBe(true);
    expect(seconds).toBeLessThan(30);
  });

  it("a running VM that stops answering is booted again, and a boot that fails is retried once from a fresh copy", async () => {
    await ensureLab();
    const outsider = HOSTS.find((h) => h.name === "outsider")!;
    const pidBefore = readRunState().vms.outsider!.pid;
    // what a failed systemd-user-sessions leaves: SSH refuses the login user
    await sshRun(outsider, "sudo touch /run/nologin");
    expect((await sshRun(outsider, "true", { nothrow: true })).exitCode).not.toBe(0);
    // and the first fresh boot fails the same way (fault injected into that copy only)
    process.env.MAILSTEAD_LAB_FAULT_NOLOGIN = "outsider";
    // The failed boot is a certainty here: wait 30 s for it, not the lab's 90 s (a clean boot takes 2-5 s).
    process.env.MAILSTEAD_LAB_BOOT_TIMEOUT_S = "30";
    const log = vi.spyOn(console, "log");
    try {
      await up({ quiet: true });
    } finally {
      delete process.env.MAILSTEAD_LAB_FAULT_NOLOGIN;
      delete process.env.MAILSTEAD_LAB_BOOT_TIMEOUT_S;
    }
    const said = log.mock.calls.map((c) => String(c[0]));
    log.mockRestore();
    expect(said.some((l) => l.startsWith("[lab] running outsider does not answer"))).toBe(true);
    const retry = said.find((l) => l.startsWith("[lab] outsider did not come up; booting it once more"));
    expect(retry).toBeDefined();
    // the diagnostics name the cause, seen from inside the VM
    expect(retry).toMatch(/\/run\/nologin:\n-rw/);
    expect(readRunState().vms.outsider!.pid).not.toBe(pidBefore);
    expect((await sshRun(outsider, "test ! -e /run/nologin && systemctl is-active lab-fault-nologin.service", { nothrow: true })).stdout.trim()).toBe("inactive");
  });
});
