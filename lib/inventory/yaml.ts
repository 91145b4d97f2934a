/**
 * YAML reading with positions: parse a file into plain data plus a way to map
 * a path inside that data back to a 1-based line, so every problem can say
 * `file:line`.
 */
import { readFileSync } from "node:fs";
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { InventoryProblem } from "../errors.js";

export type PathSegment = string | number;

export interface YamlSource {
  /** The file as the user named it (used in problems). */
  file: string;
  /** The document as plain JS data (null for an empty file). */
  data: unknown;
  /** 1-based line where the node at `path` is named (its key's line); falls back to the nearest ancestor. Undefined when not from a file. */
  lineOf(path: readonly PathSegment[]): number | undefined;
}

/** Read and parse `file` (path to read: `readPath`). Syntax errors and duplicate keys become problems. */
export function readYaml(file: string, readPath: string = file): YamlSource | { problems: InventoryProblem[] } {
  let text: string;
  try {
    text = readFileSync(readPath, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory, not a file" : code === "EACCES" ? "is not readable (permission denied)" : `cannot be read (${code ?? String(e)})`;
    return { problems: [{ file, path: "", message }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((err): InventoryProblem => {
      const line = lineCounter.linePos(err.pos[0]).line;
      if (err.code === "DUPLICATE_KEY") {
        const key = keyAt(text, err.pos[0]);
        return { file, line, path: "", message: `duplicate key${key ? ` "${key}"` : ""}: a key may appear only once in a mapping`, fix: "remove or merge the repeated key" };
      }
      return { file, line, path: "", message: `YAML syntax error: ${err.message.replace(/ at line \d+, column \d+:?\s*$/s, "")}`, fix: "check the indentation, colons and brackets on this line and the one above" };
    });
    return { problems };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? null;
  } catch (e) {
    // A "billion laughs" alias bomb (yaml refuses past maxAliasCount): bad input, not an internal error.
    return { problems: [{ file, path: "", message: `YAML aliases expand too far (${(e as Error).message})`, fix: "write the values out instead of nesting *aliases of aliases" }] };
  }
  return {
    file,
    data,
    lineOf: (path) => lineOf(doc, lineCounter, path),
  };
}

/** The plain key written at `offset` (for duplicate-key messages). */
function keyAt(text: string, offset: number): string | undefined {
  const m = /^["']?([^"':\n]+)["']?\s*:/.exec(text.slice(offset));
  return m?.[1]?.trim();
}

function lineOf(doc: Document, lc: LineCounter, path: readonly PathSegment[]): number {
  const lineAt = (n: { range?: [number, number, number] | null } | null | undefined) =>
    n?.range ? lc.linePos(n.range[0]).line : undefined;
  let node: unknown = doc.contents;
  let line = lineAt(doc.contents as Node | null) ?? 1;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      line = lineAt(pair.key as Node) ?? line;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) break;
      line = lineAt(item as Node) ?? line;
      node = item;
    } else break;
  }
  return line;
}
