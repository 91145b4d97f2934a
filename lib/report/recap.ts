/** The Ansible-style recap: one line per host, then a total. */
import type { HostSummary, StepResult } from "../runner.js";
import type { Colors } from "./colors.js";

export function recapLines(summaries: HostSummary[], c: Colors): string[] {
  const width = Math.max(5, ...summaries.map((s) => s.host.length));
  const line = (name: string, s: Pick<HostSummary, "ok" | "changed" | "failed" | "skipped" | "warnings">) => {
    const body =
      `${c.green(`ok=${s.ok}`)} ${s.changed ? c.yellow(`changed=${s.changed}`) : `changed=${s.changed}`} ` +
      `${s.failed ? c.red(`failed=${s.failed}`) : `failed=${s.failed}`} ${s.skipped ? c.cyan(`skipped=${s.skipped}`) : `skipped=${s.skipped}`}` +
      // Shown only when there are some, so the usual line keeps its shape.
      (s.warnings ? ` ${c.yellow(`warnings=${s.warnings}`)}` : "");
    return `${name.padEnd(width)}  ${body}`;
  };
  const sorted = [...summaries].sort((a, b) => a.host.localeCompare(b.host));
  const total = sorted.reduce(
    (t, s) => ({ ok: t.ok + s.ok, changed: t.changed + s.changed, failed: t.failed + s.failed, skipped: t.skipped + s.skipped, warnings: t.warnings + (s.warnings ?? 0) }),
    { ok: 0, changed: 0, failed: 0, skipped: 0, warnings: 0 },
  );
  const out = sorted.map((s) => line(s.host, s));
  out.push(line("total", total));
  return out;
}

/** One line per warning, printed after the recap so a warning is never lost in a long run's output. */
export function warningLines(results: StepResult[], c: Colors): string[] {
  return results
    .filter((r) => r.status === "warning")
    .map((r) => c.yellow(`WARNING [${r.host}] ${r.role}: ${r.title}${r.error ? ` — ${r.error.message}` : ""}`));
}
