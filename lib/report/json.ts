/** `--json FILE`: every step's host, role, title, status, duration and failure details. */
import { writeFileSync } from "node:fs";
import type { RunOutcome } from "../runner.js";

export interface JsonReport {
  version: 1;
  startedAt: string;
  finishedAt: string;
  check: boolean;
  hosts: RunOutcome["summaries"];
  steps: {
    host: string;
    role: string;
    title: string;
    kind: string;
    status: string;
    durationMs: number;
    reasons: string[];
    commands: string[];
    nonIdempotent?: boolean;
    command?: string;
    exitCode?: number | null;
    stderrTail?: string;
    error?: string;
    /** The message of a step or check with status "warning". */
    warning?: string;
  }[];
}

export function jsonReport(outcome: RunOutcome, meta: { startedAt: Date; check: boolean }): JsonReport {
  return {
    version: 1,
    startedAt: meta.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    check: meta.check,
    hosts: outcome.summaries,
    steps: outcome.results.map((r) => ({
      host: r.host,
      role: r.role,
      title: r.title,
      kind: r.kind,
      status: r.status,
      durationMs: r.durationMs,
      reasons: r.reasons,
      commands: r.commands,
      ...(r.nonIdempotent ? { nonIdempotent: true } : {}),
      ...(r.error
        ? {
            ...(r.status === "warning" ? { warning: r.error.message } : { error: r.error.message }),
            ...(r.error.command !== undefined ? { command: r.error.command } : {}),
            ...(r.error.exitCode !== undefined ? { exitCode: r.error.exitCode } : {}),
            ...(r.error.stderrTail !== undefined ? { stderrTail: r.error.stderrTail } : {}),
          }
        : {}),
    })),
  };
}

export function writeJsonReport(file: string, report: JsonReport): void {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 });
}
