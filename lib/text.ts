/** Small pure text helpers shared by operations and roles. */
import { TemplateError } from "./errors.js";

/** `s` with every RegExp metacharacter escaped, to match it literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const LINE_BREAK = /[\n\r\0]/;

/**
 * A value placed into a line-based file by code (not a template): refused
 * when it would add a line, or split its line where `forbidden` matches (a
 * map's whitespace, a passwd-file's colon). The inventory loader refuses
 * such values first; this keeps a file's lines its own if one slips through.
 * The error never shows the value (it may be a secret).
 */
export function field(value: string, what: string, forbidden: RegExp = LINE_BREAK): string {
  if (LINE_BREAK.test(value) || forbidden.test(value)) {
    throw new TemplateError(`${what} holds ${LINE_BREAK.test(value) ? "a line break" : `a character that splits its line (${forbidden.source})`}: it would change the file's structure`);
  }
  return value;
}
