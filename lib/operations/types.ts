/**
 * Operations (pyinfra's model): given facts, yield the commands that bring the
 * host to the wanted state; yield none when it already matches. "Changed"
 * means at least one command ran. Planning is pure: `plan(facts)` reads only
 * gathered facts, so each operation is tested with data fixtures.
 */
import type { FactReader, FactRef } from "../facts/types.js";

export interface Command {
  /** POSIX sh command line, run as root. */
  run: string;
  /** Standard input (file uploads). Never printed. */
  stdin?: string | Buffer;
  /** Hide the command line itself in output and reports. */
  sensitive?: boolean;
  timeoutMs?: number;
  /** Run over a new connection (see RunOptions.fresh): a connectivity confirmation. */
  fresh?: boolean;
}

export interface FileChange {
  path: string;
  /** New content; the runner reads the current content from the host for the diff. */
  after: string;
  /** Current content when the operation already has it (key/value edits). */
  before?: string | null;
  sensitive: boolean;
}

export interface Plan {
  commands: Command[];
  /** Why it changes, in a few words ("content differs", "mode 0644 → 0600"). */
  reasons: string[];
  /** For --diff: the file this plan rewrites. */
  file?: FileChange;
  /** Set for commands with no guard: they run every time and say so. */
  nonIdempotent?: boolean;
  /** The host is in a state this operation refuses to touch: the step fails (also in check mode). */
  error?: string;
}

export interface Action {
  /** Operation name, e.g. `apt.packages`. */
  readonly kind: string;
  /** Facts the planner reads; the runner gathers them (batched) before `plan`. */
  readonly facts: FactRef[];
  plan(facts: FactReader): Plan;
}

/** A plan with nothing to do: the host already matches. */
export const noChange = (): Plan => ({ commands: [], reasons: [] });
