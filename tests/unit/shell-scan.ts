/**
 * Where a text lands when a POSIX shell reads it: for every occurrence of a
 * marker in a command line or script, whether the shell would expand or
 * split it there ("live") or take it as literal data (inside single quotes,
 * a quoted heredoc, a comment). A test helper for the injection tests: a
 * value that reaches a command must only ever be literal data.
 */

export type Place = "single" | "double" | "plain" | "comment" | "heredoc-literal" | "heredoc-live";

/** The place of every character of `script`, as a POSIX shell tokenises it (one level deep). */
export function places(script: string): Place[] {
  const out: Place[] = new Array(script.length);
  let state: Place = "plain";
  const pendingHeredocs: { delim: string; literal: boolean }[] = [];
  let i = 0;
  const atWordStart = (j: number) => j === 0 || /[\s;&|()]/.test(script[j - 1]!);
  while (i < script.length) {
    const c = script[i]!;
    if (state === "single") {
      out[i] = "single";
      if (c === "'") state = "plain";
      i++;
      continue;
    }
    if (state === "double") {
      out[i] = "double";
      if (c === "\\") {
        out[i + 1] = "double";
        i += 2;
        continue;
      }
      if (c === '"') state = "plain";
      i++;
      continue;
    }
    if (state === "comment") {
      if (c === "\n") state = "plain";
      else {
        out[i] = "comment";
        i++;
        continue;
      }
    }
    // plain
    if (c === "\n" && pendingHeredocs.length) {
      out[i] = "plain";
      i++;
      // Bodies follow, in order, each up to its delimiter line.
      for (const h of pendingHeredocs.splice(0)) {
        while (i < script.length) {
          const end = script.indexOf("\n", i);
          const line = script.slice(i, end < 0 ? script.length : end);
          const stop = line.replace(/^\t+/, "") === h.delim;
          for (let k = i; k < i + line.length; k++) out[k] = stop ? "plain" : h.literal ? "heredoc-literal" : "heredoc-live";
          if (end >= 0) out[end] = "plain";
          i = end < 0 ? script.length : end + 1;
          if (stop) break;
        }
      }
      continue;
    }
    if (c === "\\") {
      out[i] = "plain";
      if (i + 1 < script.length) out[i + 1] = "single"; // an escaped character is literal
      i += 2;
      continue;
    }
    if (c === "'") {
      out[i] = "single";
      state = "single";
      i++;
      continue;
    }
    if (c === '"') {
      out[i] = "double";
      state = "double";
      i++;
      continue;
    }
    if (c === "#" && atWordStart(i)) {
      state = "comment";
      out[i] = "comment";
      i++;
      continue;
    }
    if (c === "<" && script[i + 1] === "<" && script[i + 2] !== "<") {
      const m = /^<<-?[ \t]*(?:'([^']*)'|"([^"]*)"|\\?([A-Za-z0-9_]+))/.exec(script.slice(i));
      if (m) {
        const literal = m[1] !== undefined || m[2] !== undefined || m[0].includes("\\");
        pendingHeredocs.push({ delim: m[1] ?? m[2] ?? m[3]!, literal });
        for (let k = i; k < i + m[0].length; k++) out[k] = "plain";
        i += m[0].length;
        continue;
      }
    }
    out[i] = "plain";
    i++;
  }
  return out;
}

/** Every place the shell would expand `marker`, as "…context…" strings (empty: it is only ever data). */
export function liveOccurrences(script: string, marker: string): string[] {
  const p = places(script);
  const hits: string[] = [];
  for (let at = script.indexOf(marker); at >= 0; at = script.indexOf(marker, at + 1)) {
    const where = p[at];
    if (where === "plain" || where === "double" || where === "heredoc-live") {
      hits.push(`${where}: …${script.slice(Math.max(0, at - 40), at + marker.length + 10).replace(/\n/g, "⏎")}…`);
    }
  }
  return hits;
}
