/** Run the real CLI (a child process, as a user would) and read its JSON report. */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { JsonReport } from "../../lib/report/json.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  report: JsonReport;
  seconds: number;
}

export async function site(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const json = join(mkdtempSync(join(tmpdir(), "mailstead-e2e-")), "report.json");
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "playbooks/site.ts"), ...args, "--json", json], {
    cwd: ROOT,
    env: { ...process.env, CI: "1", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  let report: JsonReport;
  try {
    report = JSON.parse(readFileSync(json, "utf8")) as JsonReport;
  } catch {
    // Bad input (exit 2) is refused before any host is touched: there are no steps to report.
    if (code === 2) report = { steps: [] } as unknown as JsonReport;
    else throw new Error(`site.ts wrote no report (exit ${code})\n${stdout}\n${stderr}`);
  }
  return { code, stdout, stderr, report, seconds: (performance.now() - started) / 1000 };
}

/** "host role: title" of every step with this status. */
export function stepsWith(r: CliRun, status: string): string[] {
  return r.report.steps.filter((s) => s.status === status).map((s) => `${s.host} ${s.role}: ${s.title}${s.error ? ` — ${s.error}` : ""}`);
}

/** Run another playbook (dns.ts, verify.ts, backup.ts...) as a user would: its exit code and output. */
export async function playbook(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, script), ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  return { code, stdout, stderr, seconds: (performance.now() - started) / 1000 };
}
