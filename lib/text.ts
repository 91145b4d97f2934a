/** Small pure text helpers shared by operations and roles. */

/** `s` with every RegExp metacharacter escaped, to match it literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
