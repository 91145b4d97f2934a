/** Small helpers shared by the lab modules: bounded waits, daemons by PID, timings. */
import { spawn } from "node:child_process";
import { existsSync, openSync, closeSync, readFileSync } from "node:fs";
import { $ } from "zx";

$.verbose = false;
$.quiet = true;

export { $ };

export class LabError extends Error {
  override name = "LabError";
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `probe` until it returns a truthy value; throw a LabError naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | null | false>,
  opts: { intervalMs?: number; detail?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      // a LabError from the probe means "this will not get better" (e.g. the process died): stop now
      if (e instanceof LabError) throw e;
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const why = lastErr instanceof Error ? `; last error: ${lastErr.message.trim().slice(0, 500)}` : "";
      const detail = opts.detail ? `\n${opts.detail()}` : "";
      throw new LabError(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}${why}${detail}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

/** True when `pid` is alive and (if given) its executable name contains `exe`, so a reused PID is not mistaken for ours. */
export function pidAlive(pid: number | undefined, exe?: string): boolean {
  if (!pid || pid <= 1) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // field 3 (after the comm in parentheses) is the state; Z = zombie
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    if (!exe) return true;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
    return cmdline.includes(exe);
  } catch {
    return false;
  }
}

/** Start a long-running process detached from us (own session), output appended to `logFile`. Returns its PID. */
export function spawnDaemon(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = {}): number {
  const fd = openSync(logFile, "a");
  try {
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    });
    if (!child.pid) throw new LabError(`could not start ${cmd}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM a PID we recorded, wait up to `graceMs`, then SIGKILL. Safe if it is already gone. */
export async function stopPid(pid: number | undefined, exe: string, graceMs = 10_000): Promise<"gone" | "stopped" | "killed"> {
  if (!pidAlive(pid, exe)) return "gone";
  const p = pid as number;
  try {
    process.kill(p, "SIGTERM");
  } catch {
    return "gone";
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(p)) return "stopped";
    await sleep(100);
  }
  try {
    process.kill(p, "SIGKILL");
  } catch {
    /* already gone */
  }
  for (let i = 0; i < 50 && pidAlive(p); i++) await sleep(100);
  return "killed";
}

/** Last `n` lines of a file, for error messages. */
export function tail(file: string, n = 30): string {
  if (!existsSync(file)) return `(no ${file})`;
  const lines = readFileSync(file, "utf8").split("\n");
  return lines.slice(-n).join("\n");
}

/** Phase timings, measured and printed by `up`/`down`/`recreate`. */
export class Timings {
  private readonly t0 = performance.now();
  readonly phases: { name: string; seconds: number }[] = [];
  async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const s = performance.now();
    try {
      return await fn();
    } finally {
      this.phases.push({ name, seconds: (performance.now() - s) / 1000 });
    }
  }
  total(): number {
    return (performance.now() - this.t0) / 1000;
  }
  format(): string {
    const w = Math.max(...this.phases.map((p) => p.name.length), 5);
    return [
      ...this.phases.map((p) => `  ${p.name.padEnd(w)}  ${p.seconds.toFixed(1).padStart(6)} s`),
      `  ${"total".padEnd(w)}  ${this.total().toFixed(1).padStart(6)} s`,
    ].join("\n");
  }
}

export function log(msg: string): void {
  process.stderr.write(`[lab] ${msg}\n`);
}
