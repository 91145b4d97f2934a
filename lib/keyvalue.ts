/**
 * A key/value editor for config files the tool does not own (the role of
 * Mail-in-a-Box's editconf): set, replace or remove `key = value` settings
 * and leave every other line, comment and blank line as it was. Pure: text in,
 * text out; no in-place stream edits of configs.
 *
 * Rules:
 * - The first active occurrence of a key is replaced in place (with its
 *   continuation lines, for formats that have them); later active duplicates
 *   are commented out, since "last one wins" would otherwise hide our value.
 * - A key not present is appended at the end (after a blank line if needed).
 * - `null` comments out every active occurrence.
 * - With `sections`, only top-level keys (outside `{ ... }` blocks) are touched.
 */

export interface EditConfOptions {
  /** How key and value are separated: "=" (main.cf, dovecot.conf) or "space" (sshd_config). */
  delimiter?: "=" | "space";
  /** Comment character, default "#". */
  comment?: string;
  /** Lines starting with whitespace continue the previous setting (Postfix main.cf). */
  continuation?: boolean;
  /** Track `{`/`}` blocks and edit only top-level keys (dovecot.conf). */
  sections?: boolean;
  /** Keys compare case-insensitively (sshd_config). */
  caseInsensitive?: boolean;
}

interface Parsed {
  key: string;
}

function parseLine(line: string, o: Required<EditConfOptions>): Parsed | null {
  if (/^\s/.test(line) && o.continuation) return null;
  const t = line.trim();
  if (!t || t.startsWith(o.comment)) return null;
  const re = o.delimiter === "=" ? /^([A-Za-z0-9_.\-/]+)\s*=/ : /^([A-Za-z0-9_.\-/]+)\s+\S/;
  const m = re.exec(t);
  return m ? { key: m[1]! } : null;
}

export function editConf(
  text: string,
  settings: Record<string, string | null>,
  options: EditConfOptions = {},
): string {
  const o: Required<EditConfOptions> = {
    delimiter: options.delimiter ?? "=",
    comment: options.comment ?? "#",
    continuation: options.continuation ?? false,
    sections: options.sections ?? false,
    caseInsensitive: options.caseInsensitive ?? false,
  };
  const norm = (k: string) => (o.caseInsensitive ? k.toLowerCase() : k);
  const wanted = new Map<string, [string, string | null]>();
  for (const [k, v] of Object.entries(settings)) wanted.set(norm(k), [k, v]);
  const render = (key: string, value: string) => (o.delimiter === "=" ? `${key} = ${value}` : `${key} ${value}`);

  const hadTrailingNewline = text.endsWith("\n");
  const lines = text === "" ? [] : (hadTrailingNewline ? text.slice(0, -1) : text).split("\n");
  const out: string[] = [];
  const done = new Set<string>();
  let depth = 0;
  let skippingContinuation = false;

  const isContinuation = (l: string | undefined) => l !== undefined && /^\s/.test(l) && l.trim() !== "";
  /** Postfix ignores blank and comment lines inside a multi-line setting: is another continuation line ahead? */
  const continuesLater = (from: number) => {
    for (let j = from; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim() === "" || l.trimStart().startsWith(o.comment)) continue;
      return isContinuation(l);
    }
    return false;
  };

  for (let idx = 0; idx < lines.length; idx++) {
    const line = lines[idx]!;
    if (skippingContinuation && o.continuation) {
      const last = out[out.length - 1] ?? "";
      const commentedOut = last.startsWith(o.comment);
      if (isContinuation(line)) {
        // a continuation of a setting we replaced (dropped) or commented out (commented too)
        if (commentedOut) out.push(`${o.comment}${line}`);
        continue;
      }
      if ((line.trim() === "" || line.trimStart().startsWith(o.comment)) && continuesLater(idx + 1)) {
        if (commentedOut) out.push(line);
        continue;
      }
    }
    skippingContinuation = false;
    const parsed = depth === 0 ? parseLine(line, o) : null;
    if (o.sections) {
      // Dovecot: %{variable} in values is not a block; a block opens at a line ending in "{".
      const code = (line.split(o.comment)[0] ?? "").replace(/%\{[^}]*\}/g, "");
      const opens = (code.match(/{/g) ?? []).length;
      depth += opens - (code.match(/}/g) ?? []).length;
      if (depth < 0) depth = 0;
      // a line that opens a block is not a setting
      if (parsed && opens > 0) {
        out.push(line);
        continue;
      }
    }
    const w = parsed ? wanted.get(norm(parsed.key)) : undefined;
    if (!parsed || !w) {
      out.push(line);
      continue;
    }
    const [key, value] = w;
    const k = norm(key);
    skippingContinuation = true;
    if (value === null || done.has(k)) {
      out.push(`${o.comment}${line}`);
      continue;
    }
    out.push(render(key, value));
    done.add(k);
  }
  const missing = [...wanted.entries()].filter(([k, [, v]]) => v !== null && !done.has(k));
  if (missing.length) {
    if (out.length && out[out.length - 1]!.trim() !== "") out.push("");
    for (const [, [key, value]] of missing) out.push(render(key, value!));
  }
  if (out.length === 0) return "";
  return `${out.join("\n")}\n`;
}
