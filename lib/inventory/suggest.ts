/** "Did you mean" suggestions for misspelt names. */
import { closest, distance } from "fastest-levenshtein";

/**
 * The candidate closest to `name`, if it is close enough to be a plausible
 * typo (edit distance at most max(2, a third of the name's length)).
 */
export function didYouMean(name: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const lower = name.toLowerCase();
  const best = closest(lower, candidates.map((c) => c.toLowerCase()));
  if (distance(lower, best) > Math.max(2, Math.ceil(name.length / 3))) return undefined;
  return candidates.find((c) => c.toLowerCase() === best);
}

/** ` — did you mean "x"?` or an empty string. */
export function suggestion(name: string, candidates: readonly string[]): string {
  const s = didYouMean(name, candidates);
  return s === undefined ? "" : ` — did you mean "${s}"?`;
}
