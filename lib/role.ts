/**
 * The shape of a role: steps computed from vars (and a few facts), handlers in
 * definition order, and `verify` checks that read the live service.
 */
import type { Settings } from "./defaults.js";
import type { OsRelease } from "./facts/os.js";
import type { FactRef } from "./facts/types.js";
import type { Action } from "./operations/types.js";

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
  /** State every role of the playbook keeps on this host (see Role.state), for the role that backs it up. */
  state: StatePath[];
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
  /** A fact the role declared in `verifyFacts`, read after the role converged (batched with the other roles'). */
  fact<T>(r: FactRef<T>): T;
  /** State every role of the playbook keeps on this host (as in RoleContext). */
  state: StatePath[];
}

/** A port a role's service listens on for the world (the firewall opens it). */
export interface Port {
  port: number;
  proto: "tcp" | "udp";
  /** Which service and why, e.g. "SMTP from other mail servers". */
  why: string;
  /** Only from these addresses or CIDRs (a reverse proxy); open to everyone when absent. */
  from?: string[];
}

/** A path holding state that a rebuild must restore (mail, keys, user db...). */
export interface StatePath {
  path: string;
  /** What lives there and why it must survive a rebuild. */
  what: string;
  /** Secret material (keys, password files): backed up encrypted, never printed. */
  secret?: boolean;
  /** Not in backups, and why (state that lives for seconds and would do harm restored). */
  volatile?: string;
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

/**
 * A role's on/off switch: the boolean setting `<role>_enabled`. One meaning for every role:
 * off, the role's own steps and verify do not run; `off` steps run instead (stop and disable
 * its service; files and state stay, so switching it back on restores it). A role whose
 * switch is a security decision (the firewall, fail2ban) says why in `security`: the run
 * reports a warning for it every time, check mode included.
 * Settings named `<role>_<feature>_enabled` are features of a role that is on, not switches.
 */
export interface RoleSwitch<V = any> {
  /** The boolean setting, always `<role>_enabled`. */
  setting: string;
  /** What is left unprotected when off: shown as a warning on every run. */
  security?: string;
  /** Steps run when off (default: none). */
  off?(ctx: RoleContext<V>): Step[];
}

export interface Role<V = any> {
  name: string;
  /**
   * Settings of other roles this role's templates render, each with why (templates see the
   * role's own settings, these, and what a step passes in; nothing else).
   */
  reads?: Record<string, string>;
  /** The role's on/off switch (see RoleSwitch). */
  switch?: RoleSwitch<V>;
  settings: Settings;
  /**
   * Facts the step list depends on; gathered in one batch before `steps`. They depend on the
   * vars only (not the release), so the runner reads them with the host's release, in the
   * run's first round trip.
   */
  facts?(vars: V): FactRef[];
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
  /**
   * A service of this role that must not act while a run changes the host (a watchdog would
   * "repair" a service a step stops or restarts on purpose). `suspend` runs once, just before
   * the run's first command on the host; `resume` once after the last role, whether the run
   * changed something or not and also when it failed (so a run cut off earlier cannot leave it
   * suspended). Never in check mode. Both must be harmless where the service is not installed.
   * Declared by a role of the playbook that is on, also when --tags leaves that role out.
   */
  pause?(vars: V): { suspend: string; resume: string; why: string };
  /** Facts `verify` reads: gathered in one round trip with every later role's (fresh after any change). */
  verifyFacts?(vars: V, os: OsRelease): FactRef[];
  /** Checks against the live host after the role converged. */
  verify?(ctx: VerifyContext<V>): Promise<VerifyCheck[]> | VerifyCheck[];
}

export function defineRole<V>(role: Role<V>): Role<V> {
  return role;
}

export function isFlush(s: Step | FlushStep): s is FlushStep {
  return (s as FlushStep).flush === true;
}
