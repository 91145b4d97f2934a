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

const cache = new Map<string, HandlebarsTemplateDelegate>();

/** Render a template string. Throws TemplateError naming the template on a missing variable. */
export function renderString(source: string, vars: object, name = "<inline>"): string {
  let fn = cache.get(source);
  if (!fn) {
    fn = hb.compile(source, { strict: true, noEscape: true });
    cache.set(source, fn);
  }
  try {
    return fn(vars);
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
