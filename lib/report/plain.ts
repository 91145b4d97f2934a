/** One line per step: for logs, CI and anything that is not a TTY. */
import type { HostSummary, RunnerEvents, StepResult } from "../runner.js";
import type { Colors } from "./colors.js";

export function formatStep(r: StepResult, c: Colors): string {
  const status =
    r.status === "ok" ? c.green("ok") : r.status === "changed" ? c.yellow("changed") : r.status === "failed" ? c.red("FAILED") : r.status === "warning" ? c.yellow("WARNING") : c.cyan("skipped");
  const kind = r.kind === "handler" ? "handler: " : "";
  const why = r.status === "changed" && r.reasons.length ? c.dim(` (${r.reasons.join("; ")})`) : "";
  const warn = r.nonIdempotent ? c.yellow(" [no guard: runs every time]") : "";
  let line = `[${r.host}] ${r.role} | ${kind}${r.title} ... ${status}${why}${warn} ${c.dim(`${r.durationMs} ms`)}`;
  if (r.error) {
    line += `\n    ${r.status === "warning" ? c.yellow(r.error.message) : c.red(r.error.message)}`;
    if (r.error.command) line += `\n    command: ${r.error.command}`;
    if (r.error.stderrTail) line += `\n    ${r.error.stderrTail.split("\n").join("\n    ")}`;
  }
  if (r.diff) line += `\n${r.diff}`;
  return line;
}

export function plainReporter(write: (line: string) => void, c: Colors): RunnerEvents {
  return {
    stepEnd: (r) => write(formatStep(r, c)),
    hostEnd: (s: HostSummary) => {
      if (s.error) write(`[${s.host}] ${c.red(`FAILED: ${s.error}`)}`);
      if (s.pendingHandlers.length) write(`[${s.host}] ${c.yellow(`handlers notified but not run: ${s.pendingHandlers.join(", ")}`)}`);
    },
  };
}
