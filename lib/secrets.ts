/**
 * Secrets: values of settings declared `sensitive: true`. They never live in
 * the inventory; they come from a private secrets file beside it
 * (`{ vars: {name: value}, hosts: { mx1: {name: value} } }`, mode 600) or from
 * the environment:
 *
 *   MAILSTEAD_SECRET_<NAME>          e.g. MAILSTEAD_SECRET_RELAY_PASSWORD (all hosts)
 *   MAILSTEAD_SECRET_<HOST>__<NAME>  e.g. MAILSTEAD_SECRET_MX1__RELAY_PASSWORD (one host)
 *
 * (names upper-cased, `-` → `_`). Precedence, lowest first: file `vars`,
 * file `hosts.<host>`, env for all hosts, env for the host. Roles just read
 * `host.vars.<name>`; the inventory loader fills sensitive ones from here.
 * Every value loaded goes into a {@link Redactor} so reporters can mask it.
 */
import { statSync, lstatSync } from "node:fs";
import { quote } from "./shell.js";
import type { Settings } from "./defaults.js";
import type { InventoryProblem } from "./errors.js";
import type { JSONSchemaType } from "./jsonschema.js";
import { buildSecretsSchema, cachedSchema } from "./inventory/schema.js";
import { suggestion } from "./inventory/suggest.js";
import { validate } from "./inventory/validate.js";
import { readYaml, type YamlSource } from "./inventory/yaml.js";

export const SECRET_ENV_PREFIX = "MAILSTEAD_SECRET_";

/** Collects secret values and masks them in any text before it is shown. */
export class Redactor {
  private readonly values = new Set<string>();
  /** Shortest value worth masking: masking "a" or "no" would garble every line. */
  static readonly MIN_LENGTH = 4;

  /** Remember a secret value (strings and numbers; shorter than 4 characters are ignored). */
  add(value: unknown): void {
    if (typeof value !== "string" && typeof value !== "number") return;
    const s = String(value);
    if (s.length < Redactor.MIN_LENGTH) return;
    // Also the forms a secret takes once embedded in a shell command or JSON text.
    for (const form of [s, s.replace(/'/g, `'\\''`), JSON.stringify(s).slice(1, -1)]) this.values.add(form);
    // A multi-line secret (a DNS plugin's credentials file) can be shown one line at a time
    // (a diff, a command's stderr tail): each line is a secret of its own, and so is each
    // value after "key =" (the line may come back re-indented or re-spaced).
    if (/[\r\n]/.test(s)) {
      for (const line of s.split(/\r?\n/)) {
        this.add(line.trim());
        const value = /^[^=:]+[=:]\s*(.+)$/.exec(line.trim())?.[1];
        if (value) this.add(value.trim());
      }
    }
  }

  /** `text` with every occurrence of every secret replaced by `***` (longest secrets first). */
  redact(text: string): string {
    const sorted = [...this.values].sort((a, b) => b.length - a.length);
    for (const v of sorted) text = text.split(v).join("***");
    return text;
  }

  /** How many distinct secrets are known. */
  get size(): number {
    return this.values.size;
  }
}

/** `relay_password` → `RELAY_PASSWORD`; `mx-1` → `MX_1`. */
export function envToken(name: string): string {
  return name.toUpperCase().replace(/-/g, "_");
}

/** The environment variable that supplies `name`, for all hosts or for one host. */
export function secretEnvName(name: string, host?: string): string {
  return `${SECRET_ENV_PREFIX}${host ? `${envToken(host)}__` : ""}${envToken(name)}`;
}

export interface SecretsOptions {
  /** Secrets file as shown to the user, and the path to read it at. */
  file: string;
  readPath: string;
  settings: Settings;
  hostNames: string[];
  env: NodeJS.ProcessEnv;
  redactor: Redactor;
}

export interface LoadedSecrets {
  /** Secret values for one host, precedence applied. */
  forHost(host: string): Record<string, unknown>;
  problems: InventoryProblem[];
  warnings: string[];
  /** Where a host's secret value came from (for messages), or undefined when it is not a secret given. */
  origin(host: string, name: string): { file: string; line?: number; path: string } | undefined;
}

/** Read the secrets file (if any) and the MAILSTEAD_SECRET_* environment. Never throws. */
export function loadSecrets(o: SecretsOptions): LoadedSecrets {
  const problems: InventoryProblem[] = [];
  const warnings: string[] = [];
  const sensitive = Object.keys(o.settings).filter((n) => o.settings[n]!.sensitive);
  let fileVars: Record<string, unknown> = {};
  let fileHosts: Record<string, Record<string, unknown>> = {};
  let lineOf: YamlSource["lineOf"] = () => undefined;

  if (exists(o.readPath)) {
    problems.push(...checkMode(o.file, o.readPath));
    const src = readYaml(o.file, o.readPath);
    if ("problems" in src) problems.push(...src.problems);
    else {
      problems.push(...validateSecretsFile(src, o));
      lineOf = src.lineOf;
      const data = asRecord(src.data);
      fileVars = asRecord(data.vars);
      fileHosts = asRecord(data.hosts) as Record<string, Record<string, unknown>>;
    }
  }

  // Environment: global and per-host forms; values are validated like file values.
  const envGlobal: Record<string, unknown> = {};
  const envHosts: Record<string, Record<string, unknown>> = {};
  const secretsSchema = cachedSchema(o.settings, buildSecretsSchema);
  const allowed = (secretsSchema.definitions as { secrets: { properties: Record<string, JSONSchemaType> } }).secrets.properties;
  for (const [key, raw] of Object.entries(o.env)) {
    if (!key.startsWith(SECRET_ENV_PREFIX) || raw === undefined) continue;
    o.redactor.add(raw);
    const rest = key.slice(SECRET_ENV_PREFIX.length);
    const split = rest.indexOf("__");
    const hostToken = split >= 0 ? rest.slice(0, split) : undefined;
    const nameToken = split >= 0 ? rest.slice(split + 2) : rest;
    const name = sensitive.find((n) => envToken(n) === nameToken);
    const host = hostToken === undefined ? undefined : o.hostNames.find((h) => envToken(h) === hostToken);
    if (!name || (hostToken !== undefined && !host)) {
      const expected = sensitive.flatMap((n) => [secretEnvName(n), ...o.hostNames.map((h) => secretEnvName(n, h))]);
      warnings.push(`environment variable ${key} is ignored: it names no secret setting${hostToken !== undefined && !host ? " or no host" : ""}${suggestion(key, expected)}`);
      continue;
    }
    const value = coerce(raw, o.settings[name]!.schema);
    const envSrc: YamlSource = { file: "environment", data: value, lineOf: () => undefined };
    for (const p of validate(allowed[name]!, envSrc, { hideValues: true })) problems.push({ ...p, path: key + (p.path ? `.${p.path}` : "") });
    if (host) (envHosts[host] ??= {})[name] = value;
    else envGlobal[name] = value;
  }

  for (const v of Object.values(fileVars)) o.redactor.add(v);
  for (const h of Object.values(fileHosts)) for (const v of Object.values(asRecord(h))) o.redactor.add(v);

  return {
    forHost: (host) => ({ ...fileVars, ...asRecord(fileHosts[host]), ...envGlobal, ...envHosts[host] }),
    origin: (host, name) => {
      const has = (r: unknown) => Object.prototype.hasOwnProperty.call(asRecord(r), name);
      if (has(envHosts[host])) return { file: "environment", path: secretEnvName(name, host) };
      if (has(envGlobal)) return { file: "environment", path: secretEnvName(name) };
      const at = (path: string[]) => ({ file: o.file, ...(lineOf(path) ? { line: lineOf(path)! } : {}), path: path.join(".") });
      if (has(fileHosts[host])) return at(["hosts", host, name]);
      if (has(fileVars)) return at(["vars", name]);
      return undefined;
    },
    problems,
    warnings,
  };
}

/** Schema validation plus: non-secret settings placed here, and unknown host names. */
function validateSecretsFile(src: YamlSource, o: SecretsOptions): InventoryProblem[] {
  const sensitive = Object.keys(o.settings).filter((n) => o.settings[n]!.sensitive);
  const problems = validate(cachedSchema(o.settings, buildSecretsSchema), src, {
    hideValues: true,
    unknownKey: (parent, key) => {
      const inVars = (parent.length === 1 && parent[0] === "vars") || (parent.length === 2 && parent[0] === "hosts");
      if (!inVars) return undefined;
      if (o.settings[key]) return { message: "is not a secret: set it in the inventory's `vars:` instead" };
      return { message: `unknown secret${suggestion(key, sensitive)}`, fix: sensitive.length ? `secret settings: ${sensitive.join(", ")}` : "no role declares a secret setting; remove it" };
    },
  });
  for (const host of Object.keys(asRecord(asRecord(src.data).hosts))) {
    if (!o.hostNames.includes(host)) {
      problems.push({ file: src.file, line: src.lineOf(["hosts", host]), path: `hosts.${host}`, message: `unknown host${suggestion(host, o.hostNames)}`, fix: `hosts in the inventory: ${o.hostNames.join(", ")}` });
    }
  }
  return problems;
}

/** Refuse secrets files that others can read: `mode & 0o077` must be 0. */
function checkMode(file: string, readPath: string): InventoryProblem[] {
  if (process.platform === "win32") return [];
  // statSync follows a symlink: mode and owner are the target's, which is what is read.
  const st = statSync(readPath);
  const mode = st.mode & 0o777;
  const problems: InventoryProblem[] = [];
  if ((mode & 0o077) !== 0) {
    problems.push({ file, path: "", message: `secrets file is accessible by group or others (mode ${mode.toString(8).padStart(4, "0")})`, fix: `run \`chmod 600 ${quote(file)}\`` });
  }
  // Owned by someone else (another user could rewrite what this run trusts and runs as root with).
  const me = process.getuid?.();
  if (me !== undefined && st.uid !== me && st.uid !== 0) {
    problems.push({ file, path: "", message: `secrets file${lstatSync(readPath).isSymbolicLink() ? " (through its symlink)" : ""} is owned by uid ${st.uid}, not by you (uid ${me}) or root`, fix: `run \`chown $(id -u) ${quote(file)}\` after checking its content, or point secrets_file at your own copy` });
  }
  return problems;
}

/** Env values are strings; parse them as JSON when the setting is not a string (e.g. a number). */
function coerce(raw: string, schema: { type?: string | readonly string[] }): unknown {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes("string") || schema.type === undefined) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}


/** `v` if it is a plain mapping, else `{}`. */
export function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
