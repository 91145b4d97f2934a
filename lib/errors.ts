/**
 * Typed errors. Only the outermost entry point (lib/cli.ts `main`) turns them
 * into exit codes: 2 for bad input (nothing was touched), 1 for failures on a host.
 */

export class MailsteadError extends Error {
  /** Exit code the CLI uses when this error reaches it. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input found before any host was touched (inventory, secrets, flags). Exit 2. */
export class InputError extends MailsteadError {
  override readonly exitCode = 2;
}

export interface InventoryProblem {
  /** File the problem is in, as given by the user (relative paths stay relative). */
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** Dotted YAML path, e.g. `hosts.mx1.ssh.port`. Empty for the document itself. */
  path: string;
  /** What was expected / what is wrong, e.g. `must be an integer 1-65535 (got "twenty-two")`. */
  message: string;
  /** How to fix it, when we can say more than the message does. */
  fix?: string;
}

export function formatProblem(p: InventoryProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}` : p.file;
  const path = p.path ? `${p.path}: ` : "";
  const fix = p.fix ? ` — ${p.fix}` : "";
  return `${where}: ${path}${p.message}${fix}`;
}

/** One or more problems in the inventory or secrets files. */
export class InventoryError extends InputError {
  constructor(readonly problems: InventoryProblem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

/** Command-line usage error (unknown flag, missing value). */
export class UsageError extends InputError {}

/** A command on a host exited non-zero where success was required. */
export class CommandError extends MailsteadError {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
    readonly host?: string,
  ) {
    super(
      `command failed${host ? ` on ${host}` : ""} (exit ${code ?? "signal"}): ${command}\n${tail(stderr || stdout, 15)}`,
    );
  }
}

/** Could not connect, authenticate, or the connection dropped. */
export class TransportError extends MailsteadError {}

/** The host's SSH key is unknown (and --accept-new-host-keys was not given) or changed. */
export class HostKeyError extends TransportError {}

/** A command ran longer than its timeout. */
export class TimeoutError extends TransportError {}

/** A template referenced a variable that does not exist, or failed to render. */
export class TemplateError extends MailsteadError {}

/** The last `n` lines of `text`. */
export function tail(text: string, n: number): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  return lines.slice(-n).join("\n");
}
