/**
 * The runner's planning context, as a library: the exact RoleContext the
 * runner gives a role, and `planRole`, which plans every step of a role
 * against a set of facts without touching a host (what check mode does on a
 * first pass). Role fixtures (tests/unit/fixtures/roles/) and the hostile
 * template and quoting tests are written against this, so they test the real
 * thing, not a copy of it.
 */
import { MailsteadError } from "./errors.js";
import type { OsRelease } from "./facts/os.js";
import { MapFactReader, type FactReader, type FactRef } from "./facts/types.js";
import type { Command, Plan } from "./operations/types.js";
import { isFlush, type FlushStep, type Handler, type Port, type Role, type StatePath, type RoleContext, type Step } from "./role.js";
import { render } from "./template.js";

export interface ContextInput {
  host: string;
  vars: Record<string, unknown>;
  os: OsRelease;
  /** Gathered facts: a reader (the host's cache) or recorded values keyed by fact key. */
  facts: FactReader | Record<string, unknown>;
  /** Ports every role of the playbook opens (default: none). */
  ports?: Port[];
  /** State every role of the playbook keeps (default: none). */
  state?: StatePath[];
  sshPort?: number;
}

function reader(f: FactReader | Record<string, unknown>): FactReader {
  return typeof (f as FactReader).get === "function" ? (f as FactReader) : new MapFactReader(f as Record<string, unknown>);
}

/** The context a role's facts, steps and handlers are computed in. The runner uses this one. */
export function roleContext(role: Role, input: ContextInput): RoleContext {
  const facts = reader(input.facts);
  const { vars, host, os } = input;
  // One room per setting: a template sees its role's settings and the ones it declares it reads.
  const seen = templateVars(role, vars);
  return {
    host,
    vars,
    os,
    fact: (r) => facts.get(r),
    template: (name, extra) => render(role.name, name, { ...seen, host, os, ...extra }),
    ports: input.ports ?? [],
    state: input.state ?? [],
    ...(input.sshPort !== undefined ? { sshPort: input.sshPort } : {}),
  };
}

/** The vars a role's templates see: its own settings and those it declares in `reads`. */
export function templateVars(role: Role, vars: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of [...Object.keys(role.settings), ...Object.keys(role.reads ?? {})]) if (Object.hasOwn(vars, k)) out[k] = vars[k];
  return out;
}

/** Whether a role is switched off by its `<role>_enabled` setting (see RoleSwitch). */
export function switchedOff(role: Role, vars: Record<string, unknown>): boolean {
  return role.switch !== undefined && vars[role.switch.setting] === false;
}

/**
 * The role's steps and handlers in a context, with every notify checked against the handlers.
 * A role switched off gives its `off` steps and no handlers.
 */
export function roleSteps(role: Role, ctx: RoleContext): { steps: (Step | FlushStep)[]; handlers: Handler[] } {
  if (switchedOff(role, ctx.vars)) return { steps: role.switch!.off?.(ctx) ?? [], handlers: [] };
  const steps = role.steps(ctx);
  const handlers = role.handlers?.(ctx) ?? [];
  for (const s of steps) {
    if (isFlush(s)) continue;
    for (const n of [s.notify ?? []].flat()) {
      if (!handlers.some((h) => h.name === n)) throw new MailsteadError(`role ${role.name}: step "${s.title}" notifies unknown handler "${n}"`);
    }
  }
  return { steps, handlers };
}

/** The facts a role reads before its steps exist (Role.facts); none when it is switched off. */
export function roleFacts(role: Role, vars: Record<string, unknown>): FactRef[] {
  if (switchedOff(role, vars)) return [];
  return role.facts?.(vars) ?? [];
}

export interface PlannedStep {
  title: string;
  kind: "step" | "handler";
  /** "skip": `when: false`; "ok": no command; "change": commands; "error": Plan.error. */
  status: "skip" | "ok" | "change" | "error";
  commands: Command[];
  reasons: string[];
  error?: string;
  file?: Plan["file"];
  sensitive?: boolean;
  notify: string[];
}

export interface RolePlan {
  steps: PlannedStep[];
  /** Handlers a changing step notified, in definition order, planned. */
  handlers: PlannedStep[];
  /** Fact keys the steps read (for recording fixtures). */
  facts: string[];
}

function planOne(title: string, kind: PlannedStep["kind"], s: Step | { action: Step["action"]; when?: boolean; sensitive?: boolean; notify?: undefined }, facts: FactReader): PlannedStep {
  const notify = [s.notify ?? []].flat();
  const sensitive = s.sensitive ? { sensitive: true } : {};
  if (s.when === false) return { title, kind, status: "skip", commands: [], reasons: ["condition is false"], notify, ...sensitive };
  const plan = s.action.plan(facts);
  const common = { title, kind, commands: plan.commands, reasons: plan.reasons, notify, ...sensitive, ...(plan.file ? { file: plan.file } : {}) };
  if (plan.error) return { ...common, status: "error", error: plan.error };
  return { ...common, status: plan.commands.length ? "change" : "ok" };
}

/**
 * Plan a role against facts, as a first check-mode pass does: every step
 * against the same facts (nothing runs, nothing is invalidated), then the
 * handlers its changing steps notify. A fact the facts do not hold throws
 * `fact <key> was not gathered`.
 */
export function planRole(role: Role, input: ContextInput): RolePlan {
  const facts = reader(input.facts);
  const used = new Set<string>();
  const tracking: FactReader = {
    get<T>(r: FactRef<T>): T {
      used.add(r.key);
      return facts.get(r);
    },
  };
  for (const r of roleFacts(role, input.vars)) tracking.get(r);
  const ctx = roleContext(role, { ...input, facts: tracking });
  const { steps, handlers } = roleSteps(role, ctx);
  const planned: PlannedStep[] = [];
  const notified = new Set<string>();
  const handlerPlans: PlannedStep[] = [];
  const flush = () => {
    for (const h of handlers) {
      if (!notified.has(h.name)) continue;
      notified.delete(h.name);
      handlerPlans.push(planOne(h.name, "handler", { action: h.action }, tracking));
    }
  };
  for (const s of steps) {
    if (isFlush(s)) {
      flush();
      continue;
    }
    for (const r of s.when === false ? [] : s.action.facts) used.add(r.key);
    const p = planOne(s.title, "step", s, tracking);
    planned.push(p);
    if (p.status === "change") for (const n of p.notify) notified.add(n);
  }
  flush();
  return { steps: planned, handlers: handlerPlans, facts: [...used].sort() };
}
