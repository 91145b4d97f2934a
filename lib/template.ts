/**
 * Config templates: Handlebars in strict mode (a missing variable is an
 * error, not an empty string), no HTML escaping (these are config files).
 * Templates live in templates/<role>/<name>.hbs.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import { TemplateError } from "./errors.js";

export const TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "templates");

const hb = Handlebars.create();
hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
hb.registerHelper("join", (list: unknown, sep: unknown) => (Array.isArray(list) ? list.join(typeof sep === "string" ? sep : ", ") : ""));

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
      entry = { fn: hb.compile(source, { strict: true, noEscape: true }), ast: hb.parse(source) };
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

/** Render templates/<role>/<name>.hbs. */
export function render(role: string, name: string, vars: object, dir = TEMPLATES_DIR): string {
  const file = join(dir, role, name.endsWith(".hbs") ? name : `${name}.hbs`);
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (e) {
    throw new TemplateError(`template ${file} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  return renderString(source, vars, file);
}
