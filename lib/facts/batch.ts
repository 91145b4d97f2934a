/**
 * Read many facts in one round trip: each fact's command runs in a subshell
 * between marker lines carrying a random nonce, and the output is split back.
 */
import { randomBytes } from "node:crypto";
import type { FactRef } from "./types.js";

export function batchScript(refs: FactRef[], nonce: string): string {
  return refs
    .map(
      (r, i) =>
        // The command sits on lines of its own, so a trailing `# comment` cannot swallow the `)`.
        `printf '%s\\n' '@@${nonce} ${i} begin'; (\n${r.fact.command(r.args as never)}\n) </dev/null; ` +
        `printf '\\n%s %s\\n' '@@${nonce} ${i} end' "$?"`,
    )
    .join("\n");
}

export interface BatchPart {
  stdout: string;
  code: number;
}

/** Split a batch's output into one part per fact (in order). */
export function splitBatch(output: string, count: number, nonce: string): BatchPart[] {
  const parts: BatchPart[] = [];
  for (let i = 0; i < count; i++) {
    const begin = `@@${nonce} ${i} begin\n`;
    const endRe = new RegExp(`\\n@@${nonce} ${i} end (\\d+)\\n`);
    const b = output.indexOf(begin);
    if (b < 0) throw new Error(`fact batch output is missing part ${i}`);
    const rest = output.slice(b + begin.length);
    const m = endRe.exec(rest);
    if (!m) throw new Error(`fact batch output is missing the end of part ${i}`);
    parts.push({ stdout: rest.slice(0, m.index), code: Number(m[1]) });
  }
  return parts;
}

export function newNonce(): string {
  return randomBytes(6).toString("hex");
}
