/**
 * POSIX shell quoting. Every remote command runs under `sh -c` (dash on
 * Debian), so nothing here may rely on bash.
 */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one argument for a POSIX shell. */
export function quote(arg: string | number): string {
  const s = String(arg);
  if (s !== "" && SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Build a command line from arguments, each quoted. */
export function cmd(...args: (string | number)[]): string {
  return args.map(quote).join(" ");
}

/** Join commands so the chain stops at the first failure. */
export function and(...commands: string[]): string {
  return commands.filter(Boolean).join(" && ");
}
