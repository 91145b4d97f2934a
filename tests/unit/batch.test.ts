/**
 * Fact batches run for real through `sh -c` (LocalTransport) and split back.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BATCH_LANES, batchScript, newNonce, splitBatch } from "../../lib/facts/batch.js";
import { fileContent, fileStat } from "../../lib/facts/files.js";
import { commandOutput, commandStatus } from "../../lib/facts/system.js";
import { ref, type FactRef } from "../../lib/facts/types.js";
import { LocalTransport } from "../../lib/transport/local.js";

const t = new LocalTransport(30_000);

async function runBatch(refs: FactRef[], nonce = newNonce()) {
  const res = await t.run(batchScript(refs, nonce));
  expect(res.code).toBe(0);
  return splitBatch(res.stdout, refs.length, nonce);
}

describe("batchScript + splitBatch through sh -c", () => {
  it("content without trailing newline, with blank lines, empty output", async () => {
    const parts = await runBatch([
      ref(commandOutput, "printf 'no newline'"),
      ref(commandOutput, "printf 'a\\n\\n\\nb\\n\\n'"),
      ref(commandOutput, "true"),
      ref(commandOutput, "printf '\\n'"),
    ]);
    expect(parts).toEqual([
      { stdout: "no newline", code: 0 },
      { stdout: "a\n\n\nb\n\n", code: 0 },
      { stdout: "", code: 0 },
      { stdout: "\n", code: 0 },
    ]);
  });

  it("a failing fact command keeps its exit status and does not disturb the others", async () => {
    const parts = await runBatch([
      ref(commandOutput, "echo before"),
      ref(commandOutput, "echo partial; echo oops >&2; exit 3"),
      ref(commandOutput, "ls /nonexistent/mailstead"),
      ref(commandOutput, "echo after"),
    ]);
    expect(parts[0]).toEqual({ stdout: "before\n", code: 0 });
    expect(parts[1]).toEqual({ stdout: "partial\n", code: 3 }); // stderr is discarded
    expect(parts[2]!.stdout).toBe("");
    expect(parts[2]!.code).not.toBe(0);
    expect(parts[3]).toEqual({ stdout: "after\n", code: 0 });
  });

  it("output that looks like a marker with another nonce stays content", async () => {
    const nonce = "0123456789ab";
    const fake = "@@ffffffffffff 0 end 0";
    const parts = await runBatch(
      [ref(commandOutput, `printf '%s\\n' '@@ffffffffffff 1 begin' 'x'; printf '\\n%s\\n' '${fake}'`), ref(commandOutput, "echo second")],
      nonce,
    );
    expect(parts).toEqual([
      { stdout: `@@ffffffffffff 1 begin\nx\n\n${fake}\n`, code: 0 },
      { stdout: "second\n", code: 0 },
    ]);
  });

  it("fact commands do not read the batch's stdin", async () => {
    const parts = await runBatch([ref(commandOutput, "cat; echo done")]);
    expect(parts).toEqual([{ stdout: "done\n", code: 0 }]);
  });

  it("real file facts parse after the round trip", async () => {
    const d = mkdtempSync(join(tmpdir(), "batch-"));
    writeFileSync(join(d, "a.txt"), "line 1\n\nline 3"); // no trailing newline
    mkdirSync(join(d, "sub"));
    symlinkSync("a.txt", join(d, "link"));
    const refs = [
      ref(fileStat, join(d, "a.txt")),
      ref(fileContent, join(d, "a.txt")),
      ref(fileStat, join(d, "sub")),
      ref(fileStat, join(d, "link")),
      ref(fileStat, join(d, "missing")),
      ref(commandStatus, "test -d /"),
      ref(commandStatus, "test -d /nonexistent"),
    ] as FactRef[];
    const parts = await runBatch(refs);
    const values = parts.map((p, i) => refs[i]!.fact.parse(p.stdout, refs[i]!.args as never));
    expect(values[0]).toMatchObject({
      type: "file",
      size: 14,
      sha256: createHash("sha256").update("line 1\n\nline 3").digest("hex"),
    });
    expect(values[1]).toBe("line 1\n\nline 3");
    expect(values[2]).toMatchObject({ type: "directory" });
    expect(values[3]).toMatchObject({ type: "symlink", target: "a.txt" });
    expect(values[4]).toBeNull();
    expect(values[5]).toBe(0);
    expect(values[6]).toBe(1);
  });
});

describe("a large batch runs in lanes", () => {
  it("keeps order, output, status and the no-stdin rule across lanes, and removes its temp dir", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "lanes-"));
    const refs = Array.from({ length: 3 * BATCH_LANES + 1 }, (_, i) =>
      ref(commandOutput, i === 5 ? "cat; printf 'five\\n\\n'; exit 4" : `printf '%s' 'fact ${i}'`),
    );
    const nonce = newNonce();
    const res = await new LocalTransport(30_000).run(`TMPDIR=${tmp}; export TMPDIR\n${batchScript(refs, nonce)}`);
    expect(res.code).toBe(0);
    const parts = splitBatch(res.stdout, refs.length, nonce);
    parts.forEach((p, i) => expect(p).toEqual(i === 5 ? { stdout: "five\n\n", code: 4 } : { stdout: `fact ${i}`, code: 0 }));
    expect(readdirSync(tmp)).toEqual([]);
  });

  it("slow facts overlap: eight 0.4 s facts take well under their 3.2 s sum", async () => {
    const refs = Array.from({ length: 8 }, (_, i) => ref(commandOutput, `sleep 0.4; echo ${i}`));
    const t0 = performance.now();
    const parts = await runBatch(refs);
    const ms = performance.now() - t0;
    expect(parts.map((p) => p.stdout)).toEqual(refs.map((_, i) => `${i}\n`));
    expect(ms).toBeLessThan(2_000);
  });
});

describe("splitBatch on synthetic output", () => {
  it("throws when a part or its end is missing", () => {
    expect(() => splitBatch("@@n 0 begin\nx\n@@n 0 end 0\n", 2, "n")).toThrow(/missing part 1/);
    expect(() => splitBatch("@@n 0 begin\nx", 1, "n")).toThrow(/missing the end of part 0/);
  });

  it("ignores noise before the first marker (motd, shell banners)", () => {
    expect(splitBatch("Welcome!\n@@n 0 begin\nok\n\n@@n 0 end 0\n", 1, "n")).toEqual([{ stdout: "ok\n", code: 0 }]);
  });

  it("newNonce is 12 hex chars and differs per call", () => {
    const a = newNonce();
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(newNonce()).not.toBe(a);
  });
});
