/**
 * Operation planners against data fixtures (pyinfra's tests/operations/*.json):
 * tests/unit/fixtures/operations/<operation>/<case>.json holds the arguments,
 * the gathered facts (keyed by `factKey`) and the exact commands expected.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { MapFactReader } from "../../lib/facts/types.js";
import * as ops from "../../lib/operations/index.js";
import { apt, command, directory, edit, file, group, keyValue, lineInFile, refuse, symlink, systemd, user } from "../../lib/operations/index.js";
import type { Action } from "../../lib/operations/types.js";

const DIR = fileURLToPath(new URL("./fixtures/operations/", import.meta.url));

interface Fixture {
  description: string;
  args: Record<string, unknown>;
  facts: Record<string, unknown>;
  commands: string[];
  /** Expected stdin per command (null: none). Omitted: no command has stdin. */
  stdin?: (string | null)[];
  /** Expected `sensitive` flag per command (omitted: none is). */
  sensitive?: (boolean | null)[];
  reasons?: string[];
  nonIdempotent?: boolean;
  /** Expected plan.error: the operation refuses to touch the host (the step fails, also in check mode). */
  error?: string;
  /** Expected plan.file (omitted: the plan has none unless it uploads). */
  file?: { path: string; after: string; before?: string | null; sensitive: boolean };
}

/** The factories the fixtures below exercise (by identity). */
const COVERED = new Set<unknown>([apt.packages, apt.update, apt.debconf, file, keyValue, lineInFile, edit, directory, symlink, systemd.service, systemd.daemonReload, user, group, command, refuse]);
/** Exports that are not operations: planFile is file's planner (keyValue, lineInFile and edit share it), sha256 a helper. */
const PLANNER_HELPERS = new Set(["planFile", "sha256"]);

const TRANSFORMS = { upper: (s: string) => s.toUpperCase() };

/** Operations whose plan reads no fact: the same commands (or refusal) whatever the host; one case is enough. */
const FACTLESS = new Set(["systemd.daemon_reload", "refuse"]);

const OPERATIONS: Record<string, (args: any) => Action> = {
  "apt.packages": apt.packages,
  "apt.update": apt.update,
  "apt.debconf": apt.debconf,
  file,
  "file.keyvalue": keyValue,
  directory,
  symlink,
  "file.line": lineInFile,
  // A transform is code: fixtures name one of TRANSFORMS.
  "file.edit": (a: { transform: keyof typeof TRANSFORMS }) => edit({ ...a, transform: TRANSFORMS[a.transform] } as never),
  "systemd.service": systemd.service,
  "systemd.daemon_reload": () => systemd.daemonReload(),
  refuse: (a: { message: string }) => refuse(a.message),
  user,
  group,
  command,
};

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

const operations = readdirSync(DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe("operation fixtures", () => {
  it("cover every operation the engine exports (a new one without fixtures fails here)", () => {
    const exported = [...Object.entries(ops), ...Object.entries(ops.apt).map(([k, v]) => [`apt.${k}`, v] as const), ...Object.entries(ops.systemd).map(([k, v]) => [`systemd.${k}`, v] as const)]
      .filter(([k, v]) => typeof v === "function" && !PLANNER_HELPERS.has(k));
    expect(exported.length).toBeGreaterThanOrEqual(15);
    for (const [name, fn] of exported) expect(COVERED.has(fn), `operation ${name} has no fixtures`).toBe(true);
  });

  it("cover every operation, each with a fresh and a converged case", () => {
    expect(operations).toEqual(Object.keys(OPERATIONS).sort());
    for (const op of operations) {
      if (FACTLESS.has(op)) continue;
      const cases = readdirSync(join(DIR, op)).map((f) => JSON.parse(readFileSync(join(DIR, op, f), "utf8")) as Fixture);
      expect(cases.some((c) => c.commands.length > 0), `${op}: a case with commands`).toBe(true);
      expect(cases.some((c) => c.commands.length === 0 && !c.error), `${op}: a converged case`).toBe(true);
    }
  });

  for (const op of operations) {
    describe(op, () => {
      const files = readdirSync(join(DIR, op))
        .filter((f) => f.endsWith(".json"))
        .sort();
      for (const f of files) {
        const fx = JSON.parse(readFileSync(join(DIR, op, f), "utf8")) as Fixture;
        it(`${f.replace(/\.json$/, "")}: ${fx.description}`, () => {
          const factory = OPERATIONS[op];
          expect(factory, `no operation for directory ${op}`).toBeDefined();
          const action = factory!(fx.args);
          expect(action.kind).toBe(op);
          // The fixture supplies exactly the facts the action declares: none missing, none stale.
          expect(action.facts.map((r) => r.key).sort()).toEqual(Object.keys(fx.facts).sort());

          const plan = action.plan(new MapFactReader(fx.facts));
          expect(plan.commands.map((c) => c.run)).toEqual(fx.commands);
          expect(plan.commands.map((c) => (c.stdin === undefined ? null : String(c.stdin)))).toEqual(
            fx.stdin ?? fx.commands.map(() => null),
          );
          expect(plan.commands.map((c) => c.sensitive ?? null)).toEqual(
            fx.sensitive ?? fx.commands.map(() => null),
          );
          if (fx.reasons) expect(plan.reasons).toEqual(fx.reasons);
          // A plan with commands says why; a converged plan has nothing to say.
          expect(plan.error ?? null).toEqual(fx.error ?? null);
          if (fx.commands.length || fx.error) expect(plan.reasons.length).toBeGreaterThan(0);
          else expect(plan.reasons).toEqual([]);
          if (fx.nonIdempotent !== undefined) expect(plan.nonIdempotent ?? false).toBe(fx.nonIdempotent);
          else expect(plan.nonIdempotent ?? false).toBe(false);
          if (fx.file) {
            expect(plan.file).toEqual(fx.file);
            // The uploaded bytes are the ones shown in the diff.
            expect(plan.commands[0]?.stdin).toBe(fx.file.after);
          }
        });
      }
    });
  }
});

describe("fixture self-consistency", () => {
  // A converged file/keyvalue fixture is only meaningful if its stat sha256 is really the content's.
  it("stat sha256 values in converged keyvalue fixtures match the content fact", () => {
    const dir = join(DIR, "file.keyvalue");
    for (const f of readdirSync(dir)) {
      const fx = JSON.parse(readFileSync(join(dir, f), "utf8")) as Fixture;
      for (const [k, v] of Object.entries(fx.facts)) {
        if (!k.startsWith("file.content:") || v === null) continue;
        const stat = fx.facts[k.replace("file.content:", "file.stat:")] as { sha256: string; size: number };
        expect(stat.sha256, `${f} ${k}`).toBe(sha256(v as string));
        expect(stat.size, `${f} ${k}`).toBe(Buffer.byteLength(v as string));
      }
    }
  });

  it("file fixtures that converge carry the sha256 of the wanted content", () => {
    const dir = join(DIR, "file");
    for (const f of readdirSync(dir)) {
      const fx = JSON.parse(readFileSync(join(dir, f), "utf8")) as Fixture;
      const stat = fx.facts[`file.stat:${JSON.stringify(fx.args.path)}`] as { type: string; sha256?: string } | null;
      const uploads = fx.commands.some((c) => c.includes("mailstead-tmp"));
      if (stat?.type === "file") expect(stat.sha256 === sha256(fx.args.content as string), f).toBe(!uploads);
    }
  });
});
