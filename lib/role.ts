/**
 * The shape of a role: steps computed from vars (and a few facts), handlers in
 * definition order, and `verify` checks that read the live service.
 */
import type { Settings } from "./defaults.js";
import type { OsRelease } from "./facts/os.js";
import type { FactRef } from "./facts/types.js";
import type { Action } from "./operations/types.js";
import type { RunResult } from "./transport/types.js";

export interface Step {
  /** Imperative title, e.g. "Install Postfix". */
  title: string;
  action: Action;
  /** Handler names to run (once, at the end of the role) if this step changed. */
  notify?: string | string[];
  /** `false` skips the step (reported as skipped). */
  when?: boolean;
  /** Mask command lines and diffs of this step. */
  sensitive?: boolean;
  /**
   * "warn": a failure of this step is reported as a warning (with its error) and
   * the host goes on; the exit code stays 0. For steps whose failure leaves a
   * working fallback in place. Default "fail".
   */
  onError?: "fail" | "warn";
}

/** Marker step: run the handlers notified so far, now, instead of at the role's end. */
export interface FlushStep {
  title: string;
  flush: true;
}

export interface Handler {
  name: string;
  action: Action;
}

export interface RoleContext<V = Record<string, unknown>> {
  host: string;
  vars: V;
  os: OsRelease;
  /** A fact the role declared in `facts`, already gathered. */
  fact<T>(r: FactRef<T>): T;
  /** Render templates/<role>/<name>.hbs with the vars (plus extra). */
  template(name: string, extra?: object): string;
  /** Ports every role of the playbook needs open on this host (see Role.ports). */
  ports: Port[];
  /** The SSH port the run connects through (undefined for a local connection). */
  sshPort?: number;
}

export interface VerifyCheck {
  name: string;
  ok: boolean;
  detail?: string;
  /** A check that did not pass is a warning, not a failure (the host still counts as converged). */
  warn?: boolean;
}

export interface VerifyContext<V = Record<string, unknown>> {
  host: string;
  vars: V;
  os: OsRelease;
  /** Run a read-only command on the host (fresh, not cached). */
  run(command: string): Promise<RunResult>;
}

/** A port a role's service listens on for the world (the firewall opens it). */
export interface Port {
  port: number;
  proto: "tcp" | "udp";
  /** Which service and why, e.g. "SMTP from other mail servers". */
  why: string;
}

/** A path holding state that a rebuild must restore (mail, keys, user db...). */
export interface StatePath {
  path: string;
  /** What lives there and why it must survive a rebuild. */
  what: string;
  /** Secret material (keys, password files): backed up encrypted, never printed. */
  secret?: boolean;
}

/** A cross-field problem found by Role.validate, located by the loader at the setting's line. */
export interface RoleProblem {
  /** The setting the fix goes into (its line is reported). */
  setting: string;
  /** Item of an array, or key of a mapping, inside that setting. */
  at?: number | string;
  message: string;
  fix: string;
}

export interface ValidateContext {
  host: string;
  /** The account the run logs in as (ssh.user): never a service account. */
  loginUser: string;
}

export interface Role<V = any> {
  name: string;
  settings: Settings;
  /** Facts the step list depends on; gathered in one batch before `steps`. */
  facts?(vars: V, os: OsRelease): FactRef[];
  steps(ctx: RoleContext<V>): (Step | FlushStep)[];
  handlers?(ctx: RoleContext<V>): Handler[];
  /**
   * Paths whose content is state, not configuration: everything a disaster
   * recovery must bring back. Backups and restores read this list.
   */
  state?(vars: V): StatePath[];
  /** Ports this role's services need reachable from outside, given the vars. */
  ports?(vars: V): Port[];
  /**
   * Cross-field rules over the host's merged vars (a catch-all that is not a
   * user, a relay without a password...): run when the inventory loads, so a
   * bad inventory exits 2 before any host is touched. Rules that need the
   * host's state belong in a step whose plan returns `Plan.error` (refuse()).
   */
  validate?(vars: V, ctx: ValidateContext): RoleProblem[];
  /** Checks against the live host after the role converged. */
  verify?(ctx: VerifyContext<V>): Promise<VerifyCheck[]>;
}

export function defineRole<V>(role: Role<V>): Role<V> {
  return role;
}

export function isFlush(s: Step | FlushStep): s is FlushStep {
  return (s as FlushStep).flush === true;
}
