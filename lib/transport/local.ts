import { spawn } from "node:child_process";
import { TimeoutError } from "../errors.js";
import type { RunOptions, RunResult, Transport } from "./types.js";

/**
 * Runs commands on this machine under `sh -c`. Same interface as ssh; used by
 * unit tests (against a temp dir) and for provisioning the local machine.
 */
export class LocalTransport implements Transport {
  readonly description = "local";
  constructor(private readonly defaultTimeoutMs = 600_000) {}

  run(command: string, options: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise((resolve, reject) => {
      const child = spawn("sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"], detached: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (d: Buffer) => out.push(d));
      child.stderr.on("data", (d: Buffer) => err.push(d));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        // Kill the whole process group: children of sh (apt-get...) must not outlive the timeout.
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
        reject(new TimeoutError(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
      });
      child.stdin.on("error", () => {}); // command may exit before reading stdin
      child.stdin.end(options.stdin ?? "");
    });
  }

  async close(): Promise<void> {}
}
