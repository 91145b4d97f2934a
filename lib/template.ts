/**
 * Config templates: Handlebars in strict mode (a missing variable is an
 * error, not an empty string), no HTML escaping (these are config files).
 * Templates live in templates/<role>/<name>.hbs.
 *
 * One value, one line: every `{{value}}` must render without a line break
 * (or NUL), whatever the inventory loader let through, so no value can add a
 * line (a directive, a map entry) to a config file. A value that is several
 * lines by design is written `{{{value}}}` in the template, and its setting
 * says why that is safe.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import { TemplateError } from "./errors.js";
import { quote } from "./shell.js";

export const TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "templates");

const hb = Handlebars.create();
hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
// {{sh value}}: the value as one word for a POSIX shell (lib/shell.ts quote), for scripts.
hb.registerHelper("sh", (value: unknown) => quote(typeof value === "number" ? value : String(value ?? "")));
hb.registerHelper("join", (list: unknown, sep: unknown) => (Array.isArray(list) ? list.join(typeof sep === "string" ? sep : ", ") : ""));

const LINE_BREAK = /[\n\r\0]/;

/** The guard every `{{...}}` is wrapped in (see oneValueOneLine). */
hb.registerHelper("__oneLine", (value: unknown, shown: unknown) => {
  const text = Array.isArray(value) ? value.join(",") : typeof value === "string" ? value : "";
  if (LINE_BREAK.test(text)) {
    // Never the value itself: it may be a secret.
    throw new TemplateError(`{{${String(shown)}}} holds a line break: one value may not add a line to a config file (a value that is several lines by design is written {{{${String(shown)}}}})`);
  }
  return value;
});

/** `{{x}}` → `{{__oneLine x "x"}}`, `{{h a b}}` → `{{__oneLine (h a b) "h a b"}}`; `{{{x}}}` stays raw. */
function oneValueOneLine(program: hbs.AST.Program, source: string): void {
  const lines = source.split("\n");
  const text = (loc: hbs.AST.SourceLocation) => {
    if (loc.start.line !== loc.end.line) return "value";
    return lines[loc.start.line - 1]!.slice(loc.start.column, loc.end.column).replace(/^\{\{~?|~?\}\}$/g, "").trim();
  };
  const walk = (p: hbs.AST.Program | undefined): void => {
    if (!p) return;
    p.body = p.body.map((n) => {
      if (n.type === "BlockStatement") {
        walk((n as hbs.AST.BlockStatement).program);
        walk((n as hbs.AST.BlockStatement).inverse);
        return n;
      }
      if (n.type !== "MustacheStatement") return n;
      const m = n as hbs.AST.MustacheStatement;
      if (!m.escaped) return n;
      const inner: hbs.AST.Expression =
        m.params.length || m.hash?.pairs?.length
          ? ({ type: "SubExpression", path: m.path, params: m.params, hash: m.hash, loc: m.loc } as unknown as hbs.AST.SubExpression)
          : m.path;
      const shown = text(m.loc);
      const guard: hbs.AST.MustacheStatement = {
        ...m,
        path: { type: "PathExpression", data: false, depth: 0, parts: ["__oneLine"], original: "__oneLine", loc: m.loc } as hbs.AST.PathExpression,
        params: [inner, { type: "StringLiteral", value: shown, original: shown, loc: m.loc } as hbs.AST.StringLiteral],
        hash: undefined as unknown as hbs.AST.Hash,
        escaped: false,
      };
      return guard;
    });
  };
  walk(program);
}

const cache = new Map<string, { fn: HandlebarsTemplateDelegate; ast: hbs.AST.Program }>();

/** Block helpers whose body runs in another context: paths inside are not the template's vars. */
const CONTEXT_CHANGING = new Set(["each", "with"]);

/**
 * Handlebars' strict mode only catches a missing `{{name}}`; a missing name in
 * `{{#if name}}`, `{{#each name}}` or a helper's arguments renders as empty.
 * Walk the template and name every path that does not exist in the vars.
 */
export function missingPaths(ast: hbs.AST.Program, vars: object): string[] {
  const missing = new Set<string>();
  const exists = (parts: string[]) => {
    let cur: unknown = vars;
    for (const p of parts) {
      if (cur === null || typeof cur !== "object" || !(p in (cur as object))) return false;
      cur = (cur as Record<string, unknown>)[p];
    }
    return true;
  };
  const checkPath = (n: hbs.AST.Node, asHelper: boolean) => {
    if (n.type !== "PathExpression") return visit(n, true);
    const path = n as hbs.AST.PathExpression;
    if (path.data || path.depth > 0 || path.original.startsWith("this") || path.parts.length === 0) return;
    if (asHelper && hb.helpers[path.parts[0]!]) return;
    if (!exists(path.parts)) missing.add(path.original);
  };
  const visit = (n: hbs.AST.Node | undefined, checking: boolean): void => {
    if (!n) return;
    switch (n.type) {
      case "Program":
        for (const s of (n as hbs.AST.Program).body) visit(s, checking);
        return;
      case "MustacheStatement":
      case "SubExpression": {
        const m = n as hbs.AST.MustacheStatement;
        if (checking) {
          checkPath(m.path, true);
          for (const p of m.params) checkPath(p, false);
          for (const pair of m.hash?.pairs ?? []) checkPath(pair.value, false);
        }
        return;
      }
      case "BlockStatement": {
        const b = n as hbs.AST.BlockStatement;
        const name = b.path.type === "PathExpression" ? (b.path as hbs.AST.PathExpression).original : "";
        if (checking) {
          checkPath(b.path, true);
          for (const p of b.params) checkPath(p, false);
          for (const pair of b.hash?.pairs ?? []) checkPath(pair.value, false);
        }
        visit(b.program, checking && !CONTEXT_CHANGING.has(name));
        visit(b.inverse, checking);
        return;
      }
      default:
        return;
    }
  };
  visit(ast, true);
  return [...missing];
}

/** Render a template string. Throws TemplateError naming the template on a missing variable. */
export function renderString(source: string, vars: object, name = "<inline>"): string {
  let entry = cache.get(source);
  if (!entry) {
    try {
      entry = { fn: compileGuarded(source), ast: hb.parse(source) };
    } catch (e) {
      throw new TemplateError(`template ${name}: ${(e as Error).message}`, { cause: e });
    }
    cache.set(source, entry);
  }
  const missing = missingPaths(entry.ast, vars);
  if (missing.length) {
    throw new TemplateError(`template ${name}: ${missing.map((m) => `"${m}"`).join(", ")} not defined (a missing variable is an error, not an empty string)`);
  }
  try {
    return entry.fn(vars);
  } catch (e) {
    throw new TemplateError(`template ${name}: ${(e as Error).message}`, { cause: e });
  }
}

/** Compile a template source with the one-value-one-line guard (for partials too). */
function compileGuarded(source: string): HandlebarsTemplateDelegate {
  const guarded = hb.parse(source);
  oneValueOneLine(guarded, source);
  return hb.compile(guarded, { strict: true, noEscape: true });
}

const partialDirs = new Set<string>();

/**
 * Partials: templates/<role>/_<name>.hbs is `{{> <role>/<name>}}` in that role's templates
 * (text two templates share, e.g. Dovecot 2.3's and 2.4's). Guarded like any template.
 */
function registerPartials(dir: string, role: string): void {
  const key = join(dir, role);
  if (partialDirs.has(key)) return;
  partialDirs.add(key);
  let files: string[] = [];
  try {
    files = readdirSync(key).filter((f) => f.startsWith("_") && f.endsWith(".hbs"));
  } catch {
    return;
  }
  for (const f of files) hb.registerPartial(`${role}/${f.slice(1, -4)}`, compileGuarded(readFileSync(join(key, f), "utf8")));
}

/** Render templates/<role>/<name>.hbs. */
export function render(role: string, name: string, vars: object, dir = TEMPLATES_DIR): string {
  registerPartials(dir, role);
  const file = join(dir, role, name.endsWith(".hbs") ? name : `${name}.hbs`);
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (e) {
    throw new TemplateError(`template ${file} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  return renderString(source, vars, file);
}
