/**
 * A host during a run: its transport, merged vars, and the fact cache. Facts
 * are gathered in batches (one round trip for many) and dropped after any
 * change, so later steps plan against fresh state.
 */
import { CommandError, MailsteadError, TimeoutError } from "./errors.js";
import { batchScript, newNonce, splitBatch } from "./facts/batch.js";
import type { FactReader, FactRef } from "./facts/types.js";
import type { Command } from "./operations/types.js";
import type { RunResult, Transport } from "./transport/types.js";

export class Host implements FactReader {
  private cache = new Map<string, unknown>();
  /** Round trips spent on facts (for the benchmark and tests). */
  factRoundTrips = 0;

  constructor(
    readonly name: string,
    readonly vars: Record<string, unknown>,
    readonly transport: Transport,
    /** The SSH port of the connection, so a firewall never closes it. */
    readonly sshPort?: number,
  ) {}

  /** Gather every fact not cached yet, in one round trip. */
  async gather(refs: FactRef[]): Promise<void> {
    const missing = new Map<string, FactRef>();
    for (const r of refs) if (!this.cache.has(r.key) && !missing.has(r.key)) missing.set(r.key, r);
    if (missing.size === 0) return;
    const list = [...missing.values()];
    const nonce = newNonce();
    this.factRoundTrips++;
    const res = await this.transport.run(batchScript(list, nonce));
    if (res.code !== 0) {
      throw new CommandError("<fact batch>", res.code, res.stdout, res.stderr, this.name);
    }
    const parts = splitBatch(res.stdout, list.length, nonce);
    list.forEach((r, i) => {
      // Every fact prints a marker for "absent"; a failing fact command means we cannot
      // know the state, and planning on an empty output would do harm.
      if (parts[i]!.code !== 0) {
        throw new CommandError(`<fact ${r.key}>`, parts[i]!.code, parts[i]!.stdout, res.stderr, this.name);
      }
      try {
        this.cache.set(r.key, r.fact.parse(parts[i]!.stdout, r.args as never));
      } catch (e) {
        throw new MailsteadError(`${this.name}: cannot parse fact ${r.key}: ${(e as Error).message}`, { cause: e });
      }
    });
  }

  get<T>(r: FactRef<T>): T {
    if (!this.cache.has(r.key)) throw new Error(`fact ${r.key} was not gathered`);
    return this.cache.get(r.key) as T;
  }

  /** Read one fact now (gathering it if needed). */
  async fact<T>(r: FactRef<T>): Promise<T> {
    await this.gather([r]);
    return this.get(r);
  }

  /** Drop every cached fact: a command ran and may have changed anything. */
  invalidate(): void {
    this.cache.clear();
  }

  run(command: string, options?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<RunResult> {
    return this.transport.run(command, options);
  }

  /** Run a planned command; a non-zero exit throws CommandError. */
  async exec(c: Command): Promise<RunResult> {
    const shown = c.sensitive ? "<sensitive command>" : c.run;
    let r: RunResult;
    try {
      r = await this.transport.run(c.run, { stdin: c.stdin, timeoutMs: c.timeoutMs, fresh: c.fresh });
    } catch (e) {
      if (e instanceof TimeoutError) throw new CommandError(shown, null, "", e.message, this.name);
      throw e;
    }
    if (r.code !== 0) throw new CommandError(shown, r.code, r.stdout, r.stderr, this.name);
    return r;
  }
}
