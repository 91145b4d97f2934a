/**
 * Role fixtures as data (tests/unit/fixtures/roles/<role>/<release>-<case>.json):
 * the vars a host had (those differing from the defaults), its OS, and the facts
 * recorded from a lab VM (scripts/record-role-fixtures.ts); `expect` is what
 * the runner's planner (lib/plan.ts planRole) must make of them.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultValues } from "../../lib/defaults.js";
import type { OsRelease } from "../../lib/facts/os.js";
import type { FactReader, FactRef } from "../../lib/facts/types.js";
import type { PlannedStep, RolePlan } from "../../lib/plan.js";
import type { ContextInput } from "../../lib/plan.js";
import { allSettings, siteRoles } from "../../roles/registry.js";

export const FIXTURE_DIR = fileURLToPath(new URL("./fixtures/roles/", import.meta.url));

export interface ExpectedStep {
  title: string;
  status: PlannedStep["status"];
  commands: string[];
  /** sha256 of each command's stdin (an uploaded file's content), null without. */
  stdin: (string | null)[];
  reasons: string[];
  error?: string;
  notify?: string[];
}

export interface RoleFixture {
  description: string;
  host: string;
  os: OsRelease;
  vars: Record<string, unknown>;
  facts: Record<string, unknown>;
  /** The SSH port the run connected through (the firewall keeps it open). */
  sshPort?: number;
  expect: { steps: ExpectedStep[]; handlers: ExpectedStep[] };
}

/** A host's merged vars, as the inventory loader makes them: the defaults, then the fixture's. */
export function siteVars(vars: Record<string, unknown>): Record<string, unknown> {
  return { ...defaultValues(allSettings()), ...vars };
}

const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

function expectedStep(p: PlannedStep): ExpectedStep {
  return {
    title: p.title,
    status: p.status,
    commands: p.commands.map((c) => c.run),
    stdin: p.commands.map((c) => (c.stdin === undefined ? null : sha(c.stdin))),
    reasons: p.reasons,
    ...(p.error ? { error: p.error } : {}),
    ...(p.notify.length ? { notify: p.notify } : {}),
  };
}

export function expectedOf(plan: RolePlan): RoleFixture["expect"] {
  return { steps: plan.steps.map(expectedStep), handlers: plan.handlers.map(expectedStep) };
}

/** What the runner gives a role of site.ts on the fixture's host (ports of every site role, the SSH port). */
export function siteInput(fx: Pick<RoleFixture, "host" | "os" | "vars" | "facts" | "sshPort">): ContextInput {
  const vars = siteVars(fx.vars);
  return {
    host: fx.host,
    vars,
    os: fx.os,
    facts: fx.facts,
    ports: siteRoles.flatMap((r) => r.ports?.(vars) ?? []),
    state: siteRoles.flatMap((r) => r.state?.(vars) ?? []),
    ...(fx.sshPort !== undefined ? { sshPort: fx.sshPort } : {}),
  };
}

/** One recorded fixture, e.g. loadRoleFixture("base", "debian12-fresh"). */
export function loadRoleFixture(role: string, name: string): RoleFixture {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, role, `${name}.json`), "utf8")) as RoleFixture;
}

/**
 * A fact reader over recorded facts that answers "absent" for a file, user or group, and
 * "fails" for a command status, the fixture never recorded (vars changed a path): for tests
 * that change vars and only care about the steps, never for the fixture test itself.
 */
export function lenientFacts(facts: Record<string, unknown>): FactReader {
  return {
    get<T>(r: FactRef<T>): T {
      if (Object.hasOwn(facts, r.key)) return facts[r.key] as T;
      if (["file.stat", "file.content", "user", "group"].includes(r.fact.name)) return null as T;
      if (r.fact.name === "command.status") return 1 as T;
      throw new Error(`fact ${r.key} was not gathered`);
    },
  };
}
