/**
 * Read many facts in one round trip: each fact's command runs in a subshell
 * between marker lines carrying a random nonce, and the output is split back.
 */
import { randomBytes } from "node:crypto";
import type { FactRef } from "./types.js";

/** Facts read side by side: a few lanes, each running its share of the facts in turn. */
export const BATCH_LANES = 4;

/**
 * The script that reads `refs` and prints each fact's output between marker lines.
 * A small batch runs in order; a larger one runs in {@link BATCH_LANES} lanes side by
 * side (facts only read, so their order does not matter), each fact's output kept in a
 * private temporary directory and printed in order once every lane is done. A slow fact
 * (`postfix check`, apt's resolver) then costs its own time, not the sum of all.
 */
export function batchScript(refs: FactRef[], nonce: string): string {
  // The command sits on lines of its own, so a trailing `# comment` cannot swallow the `)`.
  const sub = (r: FactRef) => `(\n${r.fact.command(r.args as never)}\n) </dev/null`;
  const begin = (i: number) => `printf '%s\\n' '@@${nonce} ${i} begin'`;
  const end = (i: number, status: string) => `printf '\\n%s %s\\n' '@@${nonce} ${i} end' ${status}`;
  if (refs.length <= BATCH_LANES) {
    return refs.map((r, i) => `${begin(i)}; ${sub(r)}; ${end(i, '"$?"')}`).join("\n");
  }
  const lanes: string[][] = Array.from({ length: BATCH_LANES }, () => []);
  refs.forEach((r, i) => lanes[i % BATCH_LANES]!.push(`${sub(r)} >"$d/${i}"; echo "$?" >"$d/${i}.rc"`));
  return [
    `d=$(mktemp -d "\${TMPDIR:-/tmp}/mailstead-facts.XXXXXX") || exit 97`,
    `trap 'rm -rf "$d"' EXIT`,
    `trap 'exit 143' HUP INT TERM`,
    ...lanes.map((lane) => `{\n${lane.join("\n")}\n} &`),
    "wait",
    ...refs.map((_, i) => `${begin(i)}; cat "$d/${i}"; ${end(i, `"$(cat "$d/${i}.rc")"`)}`),
  ].join("\n");
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
