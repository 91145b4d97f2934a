/**
 * The runner: for each host (in parallel, bounded), for each role: gather the
 * facts the steps need (one batch), plan each step, run its commands unless
 * in check mode, notify handlers on change, run notified handlers once at the
 * end of the role in definition order, then the role's verify checks.
 * A host stops at its first failed step; other hosts go on.
 */
import { createTwoFilesPatch } from "diff";
import pLimit from "p-limit";
import { CommandError, MailsteadError, tail } from "./errors.js";
import { fileContent } from "./facts/files.js";
import { osRelease, type OsRelease } from "./facts/os.js";
import { ref, type FactRef } from "./facts/types.js";
import type { Host } from "./host.js";
import type { Action, Plan } from "./operations/types.js";
import { isFlush, type Handler, type Role, type RoleContext, type StatePath, type Step, type FlushStep } from "./role.js";
import { posix } from "node:path";
import { DEFAULT_STATE_DIR, pendingHandlers, pendingPath, type PendingHandler } from "./facts/pending.js";
import { quote } from "./shell.js";
import { roleContext, roleFacts, roleSteps, switchedOff } from "./plan.js";

/** "warning": a step or check that did not succeed but does not fail the host (Step.onError "warn", VerifyCheck.warn). */
export type StepStatus = "ok" | "changed" | "failed" | "skipped" | "warning";
export type StepKind = "step" | "handler" | "verify";

export interface StepResult {
  host: string;
  role: string;
  title: string;
  kind: StepKind;
  status: StepStatus;
  durationMs: number;
  /** Commands run (or that would run in check mode); sensitive ones masked. */
  commands: string[];
  reasons: string[];
  diff?: string;
  nonIdempotent?: boolean;
  error?: { message: string; command?: string; exitCode?: number | null; stderrTail?: string };
}

export interface HostSummary {
  host: string;
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  /** Steps and checks that reported a warning (the exit code stays 0). */
  warnings: number;
  /** Handlers notified but not run because the host failed. */
  pendingHandlers: string[];
  /** Set when the host failed before or outside a step (connection, facts). */
  error?: string;
  durationMs: number;
  factRoundTrips: number;
}

export interface RunnerEvents {
  hostStart?(host: string, roles: string[]): void;
  roleStart?(host: string, role: string, titles: string[]): void;
  stepStart?(host: string, role: string, title: string): void;
  stepEnd?(result: StepResult): void;
  roleEnd?(host: string, role: string): void;
  hostEnd?(summary: HostSummary): void;
}

export interface RunOptions {
  check: boolean;
  diff: boolean;
  /** Hosts run concurrently (default 5). */
  forks?: number;
  events?: RunnerEvents;
  /** Mask secrets in anything that leaves the runner. */
  redact?: (text: string) => string;
  /** Skip verify checks (check mode always skips them). */
  noVerify?: boolean;
  /** Every role of the playbook, also those not selected by --tags (for Role.ports). Default: the roles run. */
  playbookRoles?: Role[];
  /** Where mailstead keeps state on the hosts (pending handlers). Default /var/lib/mailstead. */
  stateDir?: string;
}

export interface RunOutcome {
  results: StepResult[];
  summaries: HostSummary[];
}

const MASK = "<sensitive: hidden>";

function unifiedDiff(path: string, before: string | null, after: string): string {
  return createTwoFilesPatch(before === null ? "/dev/null" : `${path} (host)`, `${path} (mailstead)`, before ?? "", after, undefined, undefined, { context: 3 });
}

class HostRun {
  readonly results: StepResult[] = [];
  private failed = false;
  private pending: string[] = [];
  os!: OsRelease;

  constructor(
    private readonly host: Host,
    private readonly roles: Role[],
    private readonly opts: RunOptions,
  ) {}

  private redact(s: string): string {
    return this.opts.redact ? this.opts.redact(s) : s;
  }

  private emit(r: StepResult): StepResult {
    const red: StepResult = {
      ...r,
      title: this.redact(r.title),
      reasons: r.reasons.map((x) => this.redact(x)),
      commands: r.commands.map((c) => this.redact(c)),
      ...(r.diff ? { diff: this.redact(r.diff) } : {}),
      ...(r.error
        ? {
            error: {
              ...r.error,
              message: this.redact(r.error.message),
              ...(r.error.command ? { command: this.redact(r.error.command) } : {}),
              ...(r.error.stderrTail ? { stderrTail: this.redact(r.error.stderrTail) } : {}),
            },
          }
        : {}),
    };
    this.results.push(red);
    this.opts.events?.stepEnd?.(red);
    return red;
  }

  /** Handlers an earlier, failed run notified and never ran (persisted on the host). */
  private earlier: PendingHandler[] = [];

  private get stateDir(): string {
    // MAILSTEAD_STATE_DIR: the unit tests run real commands on this machine and keep their state in a temp dir.
    return this.opts.stateDir ?? process.env.MAILSTEAD_STATE_DIR ?? DEFAULT_STATE_DIR;
  }

  async run(): Promise<void> {
    const osRef = ref(osRelease, undefined);
    const pendingRef = ref(pendingHandlers, this.stateDir);
    // With the release: every role's plan facts (best effort: a failing one fails in its role's turn).
    const planFacts = this.roles.flatMap((r) => roleFacts(r, this.host.vars));
    await this.host.gather([osRef, pendingRef, ...planFacts]).catch(() => this.host.gather([osRef, pendingRef]));
    this.os = this.host.get(osRef);
    this.earlier = this.host.get(pendingRef);
    await this.prefetch();
    try {
      for (const role of this.roles) {
        if (this.failed) break;
        await this.runRole(role);
      }
    } finally {
      await this.resume();
    }
  }

  /** Role.pause of the playbook's roles that are on (also those --tags leaves out). */
  private pauses(): { role: string; suspend: string; resume: string; why: string }[] {
    const vars = this.host.vars;
    return (this.opts.playbookRoles ?? this.roles).filter((r) => !switchedOff(r, vars)).flatMap((r) => (r.pause ? [{ role: r.name, ...r.pause(vars) }] : []));
  }

  private suspended = false;

  /** Before the run's first command: suspend what must not act while the host changes. */
  private async suspend(): Promise<void> {
    if (this.suspended || this.opts.check) return;
    this.suspended = true;
    for (const p of this.pauses()) await this.host.exec({ run: p.suspend });
  }

  /**
   * After the last role (not in check mode): resume every paused service, changed or not. A
   * resume that fails is a warning (with the command to run by hand), a failure only when this
   * run suspended it; a host whose run already failed gets no extra line for it.
   */
  private async resume(): Promise<void> {
    if (this.opts.check) return;
    for (const p of this.pauses()) {
      try {
        await this.host.exec({ run: p.resume });
      } catch (e) {
        if (this.failed && !this.suspended) continue;
        const status = this.suspended ? "failed" : "warning";
        this.emit({ host: this.host.name, role: p.role, title: `resume after the run (${p.why})`, kind: "step", status, durationMs: 0, commands: [p.resume], reasons: [], error: { message: `${(e as Error).message}; run it by hand on the host: ${p.resume}` } });
        if (status === "failed") this.failed = true;
      }
    }
  }

  /**
   * Read what every role will read in one more round trip: with the release and the roles'
   * plan facts known (the first round trip), every role's steps can be built, so their facts,
   * their handlers' and every verify's go in one batch. A run that changes nothing needs no
   * other fact round trip; after a change the cache is dropped and each role gathers again
   * as it goes.
   */
  private async prefetch(): Promise<void> {
    const vars = this.host.vars;
    const live = this.roles.filter((r) => !switchedOff(r, vars));
    const verifying = !this.opts.check && !this.opts.noVerify;
    // Best effort: a fact that fails here fails again, in its role's turn, with that role's error.
    const gather = (refs: FactRef[]) => this.host.gather(refs).catch(() => {});
    await gather([...(verifying ? live.flatMap((r) => r.verifyFacts?.(vars, this.os) ?? []) : []), ...this.stepFacts()]);
  }

  /**
   * The facts of every role's steps and handlers that can be planned now: a role whose
   * steps read a fact not gathered yet is left for later (its own turn reports any error).
   */
  private stepFacts(): FactRef[] {
    const wanted: FactRef[] = [];
    for (const role of this.roles) {
      try {
        const { steps, handlers } = roleSteps(role, this.context(role));
        for (const s of steps) if (!isFlush(s) && s.when !== false) wanted.push(...s.action.facts);
        for (const h of handlers) wanted.push(...h.action.facts);
      } catch {
        // Not yet (a fact it reads is not gathered), or it cannot build its steps at all.
      }
    }
    return wanted;
  }

  /** Every role of the playbook, also those not selected by --tags. */
  private get playbookRoles(): Role[] {
    return this.opts.playbookRoles ?? this.roles;
  }

  /** The state every role of the playbook keeps on this host (the backup role reads it). */
  private playbookState(): StatePath[] {
    return this.playbookRoles.flatMap((r) => r.state?.(this.host.vars) ?? []);
  }

  private context(role: Role): RoleContext {
    return roleContext(role, {
      host: this.host.name,
      vars: this.host.vars,
      os: this.os,
      facts: this.host,
      ports: this.playbookRoles.flatMap((r) => r.ports?.(this.host.vars) ?? []),
      state: this.playbookState(),
      ...(this.host.sshPort !== undefined ? { sshPort: this.host.sshPort } : {}),
    });
  }

  private async runRole(role: Role): Promise<void> {
    await this.host.gather(roleFacts(role, this.host.vars));
    const { steps, handlers } = roleSteps(role, this.context(role));
    const off = switchedOff(role, this.host.vars);
    const warnOff = off && role.switch!.security !== undefined;
    const offTitle = `${role.switch?.setting} is false: ${role.name} is switched off`;
    // Reporters get one title per result they will receive (a flush yields none of its own).
    this.opts.events?.roleStart?.(this.host.name, role.name, [...(warnOff ? [offTitle] : []), ...steps.filter((s) => !isFlush(s)).map((s) => s.title)]);
    if (warnOff) {
      // A security decision: said on every run, loudly, and counted in the recap's warnings.
      this.emit({ host: this.host.name, role: role.name, title: offTitle, kind: "step", status: "warning", durationMs: 0, commands: [], reasons: [], error: { message: role.switch!.security! } });
    }
    const notified = new Set<string>();
    // Handlers a failed run notified: they run at this role's end (or flush), and say why.
    const earlier = new Set(this.earlier.filter((p) => p.role === role.name && handlers.some((h) => h.name === p.handler)).map((p) => p.handler));
    for (const n of earlier) notified.add(n);
    const persisted = new Set(earlier);
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      if (isFlush(s)) {
        await this.runHandlers(role, handlers, notified, earlier);
        if (this.failed) return;
        continue;
      }
      // One round trip for the facts of this and every later step not cached yet.
      const wanted: FactRef[] = [];
      for (const later of steps.slice(i)) if (!isFlush(later) && later.when !== false) wanted.push(...later.action.facts);
      const changed = await this.runStep(role, s, "step", wanted);
      if (this.failed) {
        this.pending = handlers.filter((h) => notified.has(h.name)).map((h) => h.name);
        return;
      }
      if (changed) {
        const fresh = [s.notify ?? []].flat().filter((n) => !persisted.has(n));
        for (const n of [s.notify ?? []].flat()) notified.add(n);
        // Persist them before going on: if a later step fails, the next run still runs them.
        if (fresh.length && !this.opts.check) {
          if (!(await this.persist(role, fresh))) return;
          for (const n of fresh) persisted.add(n);
        }
      }
    }
    await this.runHandlers(role, handlers, notified, earlier);
    if (this.failed) return;
    if (role.verify && !off && !this.opts.check && !this.opts.noVerify) await this.runVerify(role);
    this.opts.events?.roleEnd?.(this.host.name, role.name);
  }

  /** Write the pending markers of these handlers; a failure fails the host (nothing else ran). */
  private async persist(role: Role, names: string[]): Promise<boolean> {
    const dir = posix.join(this.stateDir, "pending");
    const writes = names.map((n) => `printf '%s\n%s\n' ${quote(role.name)} ${quote(n)} > ${quote(pendingPath(this.stateDir, { role: role.name, handler: n }))}`);
    try {
      await this.host.exec({ run: [`mkdir -p ${quote(dir)}`, ...writes].join(" && ") });
      return true;
    } catch (e) {
      this.failed = true;
      this.emit({ host: this.host.name, role: role.name, title: "remember the notified handlers", kind: "handler", status: "failed", durationMs: 0, commands: [], reasons: [], error: { message: (e as Error).message } });
      return false;
    }
  }

  private async runHandlers(role: Role, handlers: Handler[], notified: Set<string>, earlier: Set<string>): Promise<void> {
    for (let i = 0; i < handlers.length; i++) {
      const h = handlers[i]!;
      if (!notified.has(h.name)) continue;
      notified.delete(h.name);
      const action: Action = earlier.has(h.name)
        ? { ...h.action, plan: (f) => { const p = h.action.plan(f); return { ...p, reasons: [...p.reasons, "notified by an earlier run that failed before it ran"] }; } }
        : h.action;
      await this.runStep(role, { title: h.name, action }, "handler", h.action.facts);
      // Cleared only once the handler succeeded.
      if (!this.failed && !this.opts.check) {
        try {
          await this.host.exec({ run: `rm -f ${quote(pendingPath(this.stateDir, { role: role.name, handler: h.name }))}` });
        } catch (e) {
          this.failed = true;
          this.emit({ host: this.host.name, role: role.name, title: `forget the pending ${h.name}`, kind: "handler", status: "failed", durationMs: 0, commands: [], reasons: [], error: { message: (e as Error).message } });
        }
      }
      earlier.delete(h.name);
      if (this.failed) {
        this.pending = handlers.slice(i + 1).filter((x) => notified.has(x.name)).map((x) => x.name);
        return;
      }
    }
  }

  /** Plan and (unless checking) apply one step. Returns whether it changed. */
  private async runStep(role: Role, s: Step | FlushStep, kind: StepKind, facts: FactRef[]): Promise<boolean> {
    const step = s as Step;
    const started = performance.now();
    const base = { host: this.host.name, role: role.name, title: step.title, kind };
    const ms = () => Math.round((performance.now() - started) * 10) / 10;
    if (step.when === false) {
      this.emit({ ...base, status: "skipped", durationMs: 0, commands: [], reasons: ["condition is false"] });
      return false;
    }
    this.opts.events?.stepStart?.(this.host.name, role.name, step.title);
    let plan: Plan | undefined;
    const shown = (p: Plan) => p.commands.map((c) => (c.sensitive || step.sensitive ? MASK : c.run));
    try {
      await this.host.gather(facts);
      plan = (step.action as Action).plan(this.host);
      if (plan.error) throw new MailsteadError(plan.error);
      if (plan.commands.length === 0) {
        this.emit({ ...base, status: "ok", durationMs: ms(), commands: [], reasons: [] });
        return false;
      }
      let diff: string | undefined;
      if (this.opts.diff && plan.file) {
        if (plan.file.sensitive || step.sensitive) diff = `--- ${plan.file.path}\n${MASK} (content of a sensitive file is never shown)\n`;
        else {
          const before = plan.file.before !== undefined ? plan.file.before : await this.host.fact(ref(fileContent, plan.file.path));
          diff = unifiedDiff(plan.file.path, before, plan.file.after);
        }
      }
      if (!this.opts.check) {
        try {
          await this.suspend();
          for (const c of plan.commands) await this.host.exec(c);
        } finally {
          // Something ran (or half ran): every cached fact may be stale now.
          this.host.invalidate();
        }
      }
      this.emit({
        ...base,
        status: "changed",
        durationMs: ms(),
        commands: shown(plan),
        reasons: plan.reasons,
        ...(diff ? { diff } : {}),
        // A handler runs only when notified, so an unguarded command is expected there.
        ...(plan.nonIdempotent && kind === "step" ? { nonIdempotent: true } : {}),
      });
      return true;
    } catch (e) {
      const warn = step.onError === "warn";
      if (!warn) this.failed = true;
      const err = e as Error;
      const ce = e instanceof CommandError ? e : undefined;
      this.emit({
        ...base,
        status: warn ? "warning" : "failed",
        durationMs: ms(),
        commands: plan ? shown(plan) : [],
        reasons: plan?.reasons ?? [],
        error: {
          message: ce ? `exit ${ce.code}: ${tail(ce.stderr || ce.stdout, 3)}` : err.message,
          ...(ce ? { command: step.sensitive ? MASK : ce.command, exitCode: ce.code, stderrTail: tail(ce.stderr || ce.stdout, 20) } : {}),
        },
      });
      return false;
    }
  }

  private async runVerify(role: Role): Promise<void> {
    const started = performance.now();
    const base = { host: this.host.name, role: role.name, kind: "verify" as const, commands: [], reasons: [] };
    try {
      // This role's verify facts and every later role's, in one round trip: on a run that
      // changes nothing after this point, the later verifies read the same batch.
      const later = this.roles.slice(this.roles.indexOf(role)).filter((r) => !switchedOff(r, this.host.vars));
      await this.host.gather(later.flatMap((r) => r.verifyFacts?.(this.host.vars, this.os) ?? []));
      const checks = await role.verify!({
        host: this.host.name,
        vars: this.host.vars,
        os: this.os,
        fact: (r) => this.host.get(r),
        state: this.playbookState(),
      });
      const each = Math.round(((performance.now() - started) / Math.max(checks.length, 1)) * 10) / 10;
      for (const c of checks) {
        this.emit({
          ...base,
          title: `verify: ${c.name}`,
          status: c.ok ? "ok" : c.warn ? "warning" : "failed",
          durationMs: each,
          ...(c.ok ? {} : { error: { message: c.detail ?? "check failed" } }),
        });
        if (!c.ok && !c.warn) this.failed = true;
      }
    } catch (e) {
      this.failed = true;
      this.emit({ ...base, title: "verify", status: "failed", durationMs: performance.now() - started, error: { message: (e as Error).message } });
    }
  }

  summary(durationMs: number, error?: string): HostSummary {
    const count = (s: StepStatus) => this.results.filter((r) => r.status === s).length;
    return {
      host: this.host.name,
      ok: count("ok"),
      changed: count("changed"),
      failed: count("failed") + (error ? 1 : 0),
      skipped: count("skipped"),
      warnings: count("warning"),
      pendingHandlers: this.pending,
      ...(error ? { error: this.redact(error) } : {}),
      durationMs,
      factRoundTrips: this.host.factRoundTrips,
    };
  }
}

/** Run roles on hosts. Never throws for a host's failure: it is in the outcome. */
export async function run(hosts: Host[], roles: Role[], opts: RunOptions): Promise<RunOutcome> {
  const limit = pLimit(opts.forks ?? 5);
  const results: StepResult[] = [];
  const summaries = await Promise.all(
    hosts.map((host) =>
      limit(async () => {
        const started = performance.now();
        opts.events?.hostStart?.(host.name, roles.map((r) => r.name));
        const hr = new HostRun(host, roles, opts);
        let error: string | undefined;
        try {
          await hr.run();
        } catch (e) {
          error = (e as Error).message;
        } finally {
          await host.transport.close().catch(() => {});
        }
        const summary = hr.summary(Math.round(performance.now() - started), error);
        results.push(...hr.results);
        opts.events?.hostEnd?.(summary);
        return summary;
      }),
    ),
  );
  return { results, summaries };
}
