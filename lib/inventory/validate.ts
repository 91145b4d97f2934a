/**
 * Runs ajv and turns its errors into human problems with file:line:
 * `hosts.mx1.ssh.port: must be an integer 1-65535 (got "twenty-two")`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { InventoryProblem } from "../errors.js";
import type { JSONSchemaType } from "../jsonschema.js";
import { suggestion } from "./suggest.js";
import type { PathSegment, YamlSource } from "./yaml.js";

const ajv = new Ajv({ allErrors: true, verbose: true, strictTypes: false, strictTuples: false, strictRequired: false });
ajv.addVocabulary(["x-expected", "x-fix"]);
const compiled = new WeakMap<object, ValidateFunction>();

export interface ValidateOptions {
  /** Explains an unknown key, or returns undefined for the generic "unknown key" message. */
  unknownKey?: (parentPath: PathSegment[], key: string) => Omit<InventoryProblem, "file" | "line" | "path"> | undefined;
  /** Never echo values (secrets file): say "(got a string)" instead of the value. */
  hideValues?: boolean;
}

/** Validate `src.data` against `schema`; one problem per bad node or key. */
export function validate(schema: JSONSchemaType, src: YamlSource, opts: ValidateOptions = {}): InventoryProblem[] {
  let fn = compiled.get(schema);
  if (!fn) compiled.set(schema, (fn = ajv.compile(schema)));
  if (fn(src.data)) return [];
  const seen = new Set<string>();
  const problems: InventoryProblem[] = [];
  for (const err of fn.errors ?? []) {
    if (err.keyword === "propertyNames" || err.keyword === "if") continue; // wrappers; the inner error says more
    const parent = pointerToPath(err.instancePath, src.data);
    const p = translate(err, parent, src.data, opts);
    const id = `${p.path.join("\0")}\0${p.message}`;
    if (seen.has(id) || seen.has(p.path.join("\0"))) continue;
    seen.add(id);
    if (p.kind === "value") seen.add(p.path.join("\0")); // one message per value, even when several keywords fail
    problems.push({ file: src.file, line: src.lineOf(p.path), path: displayPath(p.path), message: p.message, ...(p.fix ? { fix: p.fix } : {}) });
  }
  return problems;
}

interface Translated {
  kind: "key" | "value";
  path: PathSegment[];
  message: string;
  fix?: string;
}

function translate(err: ErrorObject, at: PathSegment[], data: unknown, opts: ValidateOptions): Translated {
  const schema = (err.parentSchema ?? {}) as JSONSchemaType;
  const fix = typeof schema["x-fix"] === "string" ? schema["x-fix"] : undefined;
  if (err.propertyName !== undefined) {
    // The name as quoted data (a line break in it is shown, not printed), and always a fix.
    return { kind: "key", path: [...at, err.propertyName], message: `invalid name ${show(err.propertyName)}: must be ${describe(schema)}`, fix: fix ?? `rename it to ${describe(schema)}` };
  }
  if (err.keyword === "additionalProperties") {
    const key = String(err.params.additionalProperty);
    const path = [...at, key];
    const custom = opts.unknownKey?.(at, key);
    if (custom) return { kind: "key", path, ...custom };
    const allowed = Object.keys((schema.properties as object | undefined) ?? {});
    return {
      kind: "key",
      path,
      message: `unknown key${suggestion(key, allowed)}`,
      fix: allowed.length ? `allowed keys here: ${allowed.join(", ")}` : "remove it",
    };
  }
  if (err.keyword === "required") {
    const key = String(err.params.missingProperty);
    return { kind: "key", path: at, message: `missing required key "${key}"`, ...(fix ? { fix } : {}) };
  }
  const value = valueAt(data, at);
  const got = value === undefined ? "" : ` (got ${opts.hideValues ? kindOf(value) : show(value)})`;
  if (err.keyword === "uniqueItems") {
    const dup = Array.isArray(value) ? value[Number(err.params.j)] : undefined;
    return { kind: "value", path: at, message: `must not list ${dup === undefined ? "an item" : show(dup)} twice`, fix: "remove the repeated item" };
  }
  // Every problem carries a fix: the schema's own, else the one that always applies.
  return { kind: "value", path: at, message: `must be ${describe(schema)}${got}`, fix: fix ?? "write a value of that form (inventory/example.yml shows one for every setting)" };
}

/** What a valid value looks like, in words, from a schema fragment. */
export function describe(s: JSONSchemaType): string {
  if (typeof s["x-expected"] === "string") return s["x-expected"];
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ")}`;
  if (s.const !== undefined) return JSON.stringify(s.const);
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const parts = types.map((t) => describeType(t, s));
  return parts.length ? parts.join(" or ") : "a valid value";
}

function describeType(t: string, s: JSONSchemaType): string {
  const min = s.minimum as number | undefined;
  const max = s.maximum as number | undefined;
  switch (t) {
    case "integer":
    case "number": {
      const noun = t === "integer" ? "an integer" : "a number";
      if (min !== undefined && max !== undefined) return `${noun} ${min}-${max}`;
      if (min !== undefined) return `${noun} >= ${min}`;
      if (max !== undefined) return `${noun} <= ${max}`;
      return noun;
    }
    case "string": {
      const lo = s.minLength as number | undefined;
      const hi = s.maxLength as number | undefined;
      let out = "a string";
      if (lo !== undefined && hi !== undefined) out = `a string of ${lo}-${hi} characters`;
      else if (hi !== undefined) out = `a string of at most ${hi} characters`;
      else if (lo === 1) out = "a non-empty string";
      else if (lo !== undefined) out = `a string of at least ${lo} characters`;
      if (typeof s.pattern === "string") out += ` matching /${s.pattern}/`;
      return out;
    }
    case "boolean":
      return "true or false";
    case "object":
      return "a mapping";
    case "array": {
      const items = s.items as JSONSchemaType | undefined;
      return items && !Array.isArray(items) && items.type ? `a list of ${describe(items).replace(/^an? /, "")}s` : "a list";
    }
    case "null":
      return "null";
    default:
      return t;
  }
}

/** A short rendering of a value for "(got ...)". */
function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Type of a value without the value itself: "a string of 5 characters", "a number", "a mapping". */
function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `a string of ${v.length} characters`;
  return `a ${typeof v}`;
}

/** JSON pointer → path segments (array indices as numbers). */
function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (!pointer) return [];
  const out: PathSegment[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const idx = Array.isArray(cur) ? Number(seg) : seg;
    out.push(idx);
    cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

/** The value at `path` in `data`. */
export function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let cur = data;
  for (const seg of path) cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[seg] : undefined;
  return cur;
}

/** `["hosts","mx1","ssh","port"]` → `hosts.mx1.ssh.port`; indices as `[0]`. */
export function displayPath(path: readonly PathSegment[]): string {
  return path.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");
}
