/**
 * A fact is a shell command that reads one piece of host state plus a pure
 * parser of its output. Facts are cached per host and read in batches: many
 * facts, one round trip.
 */

export interface Fact<T, A = void> {
  /** Unique name, e.g. `file.stat`. */
  readonly name: string;
  /** The POSIX sh command that prints the fact. Must exit 0 (print a marker for "absent"). */
  command(args: A): string;
  /** Parse the command's stdout. Pure; tested with captured real output. */
  parse(stdout: string, args: A): T;
}

export interface FactRef<T = unknown> {
  readonly fact: Fact<T, any>;
  readonly args: unknown;
  /** Cache key: name plus JSON of the arguments. */
  readonly key: string;
}

export function factKey(name: string, args: unknown): string {
  return args === undefined ? name : `${name}:${JSON.stringify(args)}`;
}

export function ref<T, A>(fact: Fact<T, A>, args: A): FactRef<T> {
  return { fact, args, key: factKey(fact.name, args) };
}

/** What an operation's planner sees: facts already gathered. */
export interface FactReader {
  get<T>(r: FactRef<T>): T;
}

/** A reader over a plain map of fact values (fixture tests, check mode). */
export class MapFactReader implements FactReader {
  constructor(private readonly values: Map<string, unknown> | Record<string, unknown>) {}
  get<T>(r: FactRef<T>): T {
    const has = this.values instanceof Map ? this.values.has(r.key) : Object.hasOwn(this.values, r.key);
    if (!has) throw new Error(`fact ${r.key} was not gathered`);
    return (this.values instanceof Map ? this.values.get(r.key) : this.values[r.key]) as T;
  }
}
