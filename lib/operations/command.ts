/**
 * Arbitrary commands, made idempotent by a guard: `creates` (skip when the
 * path exists), `unless` (skip when the test command succeeds) or `onlyIf`
 * (run only when it succeeds). A bare command runs every time and is reported
 * as non-idempotent.
 */
import { fileStat } from "../facts/files.js";
import { commandStatus } from "../facts/system.js";
import { ref, type FactRef } from "../facts/types.js";
import type { Action } from "./types.js";
import { noChange } from "./types.js";

export interface CommandArgs {
  run: string;
  creates?: string;
  unless?: string;
  onlyIf?: string;
  stdin?: string;
  sensitive?: boolean;
  timeoutMs?: number;
}

export function command(args: CommandArgs): Action {
  const creates = args.creates ? ref(fileStat, args.creates) : undefined;
  const unless = args.unless ? ref(commandStatus, args.unless) : undefined;
  const onlyIf = args.onlyIf ? ref(commandStatus, args.onlyIf) : undefined;
  const facts = [creates, unless, onlyIf].filter((x): x is FactRef<any> => x !== undefined);
  return {
    kind: "command",
    facts,
    plan(f) {
      if (creates && f.get(creates) !== null) return noChange();
      if (unless && f.get(unless) === 0) return noChange();
      if (onlyIf && f.get(onlyIf) !== 0) return noChange();
      const reasons = creates ? [`${args.creates} is missing`] : unless ? ["guard failed"] : onlyIf ? ["condition holds"] : ["always runs"];
      return {
        commands: [{ run: args.run, stdin: args.stdin, sensitive: args.sensitive, timeoutMs: args.timeoutMs }],
        reasons,
        nonIdempotent: facts.length === 0,
      };
    },
  };
}

/**
 * Refuse: a step that fails with `message` in every mode, check mode included
 * (its plan is a `Plan.error`; nothing runs on the host). For refusals that
 * depend on host facts; refusals that depend only on vars go in Role.validate.
 */
export function refuse(message: string): Action {
  return { kind: "refuse", facts: [], plan: () => ({ commands: [], reasons: ["refused"], error: message }) };
}
