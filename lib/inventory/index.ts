/**
 * Inventory loading: read the YAML inventory and its secrets, validate
 * everything (schema, then cross-field checks), and return fully merged hosts.
 * Pure file reading — no connection is opened here. All problems are reported
 * at once, sorted by file and line, in one {@link InventoryError}.
 *
 * Vars precedence, lowest first: role defaults < global `vars` < group `vars`
 * (groups in file order) < host `vars` < secrets (see lib/secrets.ts).
 * Values are replaced whole per setting, never deep-merged.
 */
import { accessSync, constants, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { isIP } from "node:net";
import { defaultValues, type Settings } from "../defaults.js";
import { checkValue } from "../formats.js";
import type { Role, RoleProblem } from "../role.js";
import { InventoryError, type InventoryProblem } from "../errors.js";
import { asRecord, loadSecrets, Redactor, secretEnvName, type LoadedSecrets } from "../secrets.js";
import { ADDRESS_PATTERN, buildInventorySchema, cachedSchema } from "./schema.js";
import { suggestion } from "./suggest.js";
import { validate } from "./validate.js";
import { readYaml, type PathSegment, type YamlSource } from "./yaml.js";

export { buildInventorySchema, buildSecretsSchema } from "./schema.js";

export interface SshSpec {
  user: string;
  port: number;
  /** Absolute path of the private key; undefined = use ssh-agent. */
  key?: string;
  /** Absolute path of the known_hosts file. */
  knownHosts: string;
  timeoutMs: number;
  connectTimeoutMs: number;
}

export interface HostSpec {
  name: string;
  /** `local` runs commands on this machine without SSH (then `ssh` only supplies timeouts). */
  connection: "ssh" | "local";
  /** From the inventory; "localhost" for a local host without one. */
  address: string;
  ssh: SshSpec;
  /** Groups this host is in, in file order. */
  groups: string[];
  /** Merged role settings: defaults included, secrets filled. */
  vars: Record<string, unknown>;
}

export interface Inventory {
  /** The inventory file as given. */
  file: string;
  hosts: HostSpec[];
  /** Group name → host names. */
  groups: Record<string, string[]>;
  /** Knows every secret loaded; use it on anything printed. */
  redactor: Redactor;
  /** Non-fatal findings (ignored env vars, no key and no agent...). */
  warnings: string[];
}

const ADDRESS_RE = new RegExp(ADDRESS_PATTERN, "u");

export const SSH_DEFAULTS = { user: "root", port: 22, knownHosts: "~/.ssh/known_hosts", timeout: 600, connectTimeout: 20 };

/** Load and validate `file`. Throws {@link InventoryError} listing every problem found. */
export function loadInventory(
  file: string,
  opts: {
    settings: Settings;
    env?: NodeJS.ProcessEnv;
    /** Roles whose `validate` runs over each host's vars (all roles of the playbook, whatever --tags selects). */
    roles?: Pick<Role, "name" | "validate">[];
  },
): Inventory {
  const { settings } = opts;
  const env = opts.env ?? process.env;
  const src = readYaml(file);
  if ("problems" in src) {
    throw new InventoryError(src.problems.map((p) => p.message === "file not found"
      ? { ...p, fix: `copy inventory/example.yml to ${file} and edit it (or pass the right path)` }
      : p));
  }
  const renamed = applyRenames(src, settings, file);
  const secrets = secretsFile(file, src.data, env);
  const problems = validate(cachedSchema(settings, buildInventorySchema), src, { unknownKey: unknownVar(settings, file, secrets.file) });
  const data = asRecord(src.data);
  const hostsData = asRecord(data.hosts);
  const groupsData = asRecord(data.groups);
  const hostNames = Object.keys(hostsData);
  const home = env.HOME || homedir();
  const baseDir = dirname(resolve(file));
  const warnings: string[] = [...renamed.warnings];
  problems.push(...renamed.problems);

  problems.push(...checkHosts(src, hostsData, baseDir, home));
  const groups = checkGroups(src, groupsData, hostNames, problems);

  const redactor = new Redactor();
  const loaded = loadSecrets({ ...secrets, settings, hostNames, env, redactor });
  problems.push(...loaded.problems);
  warnings.push(...loaded.warnings);

  const defaults = defaultValues(settings);
  const hosts: HostSpec[] = hostNames.map((name) => {
    const h = asRecord(hostsData[name]);
    const ssh = asRecord(h.ssh);
    const inGroups = Object.keys(groups).filter((g) => groups[g]!.includes(name));
    const vars = {
      ...defaults,
      ...asRecord(data.vars),
      ...Object.assign({}, ...inGroups.map((g) => asRecord(asRecord(groupsData[g]).vars))),
      ...asRecord(h.vars),
      ...loaded.forHost(name),
    } as Record<string, unknown>;
    for (const [k, v] of Object.entries(vars)) if (settings[k]?.sensitive) redactor.add(v);
    const key = typeof ssh.key === "string" ? expand(ssh.key, baseDir, home) : undefined;
    const connection = h.connection === "local" ? "local" : "ssh";
    if (connection === "ssh" && key === undefined && !env.SSH_AUTH_SOCK) {
      warnings.push(`host ${name}: no ssh.key and SSH_AUTH_SOCK is not set — start ssh-agent or set hosts.${name}.ssh.key`);
    }
    return {
      name,
      connection,
      address: typeof h.address === "string" ? h.address : connection === "local" ? "localhost" : "",
      ssh: {
        user: typeof ssh.user === "string" ? ssh.user : SSH_DEFAULTS.user,
        port: typeof ssh.port === "number" ? ssh.port : SSH_DEFAULTS.port,
        ...(key !== undefined ? { key } : {}),
        knownHosts: expand(typeof ssh.known_hosts === "string" ? ssh.known_hosts : SSH_DEFAULTS.knownHosts, baseDir, home),
        timeoutMs: (typeof ssh.timeout === "number" ? ssh.timeout : SSH_DEFAULTS.timeout) * 1000,
        connectTimeoutMs: (typeof ssh.connect_timeout === "number" ? ssh.connect_timeout : SSH_DEFAULTS.connectTimeout) * 1000,
      },
      groups: inGroups,
      vars,
    };
  });
  problems.push(...checkRequired(settings, hosts, src, secrets.file));
  // Typed formats and cross-field rules only on values that passed the schema
  // (a value of the wrong type would only repeat the schema's message).
  if (problems.length === 0) {
    const where = locator(src, data, groups, secrets.file, loaded);
    problems.push(...checkValues(settings, hosts, opts.roles ?? [], where));
  }

  if (problems.length > 0) throw new InventoryError(sortProblems(problems, [file, secrets.file]));
  return { file, hosts, groups, redactor, warnings };
}

/**
 * Settings renamed or moved (Setting.formerly): in every vars mapping of the
 * inventory (global, group, host), an old name is moved to the new one, with
 * a warning at its line; both names at once is a problem. The YAML source's
 * lineOf keeps finding the value under its new name.
 */
function applyRenames(src: YamlSource, settings: Settings, file: string): { warnings: string[]; problems: InventoryProblem[] } {
  const renames = new Map<string, string>();
  for (const [name, s] of Object.entries(settings)) for (const old of s.formerly ?? []) renames.set(old, name);
  const out = { warnings: [] as string[], problems: [] as InventoryProblem[] };
  if (renames.size === 0) return out;
  const data = asRecord(src.data);
  const mappings: [PathSegment[], Record<string, unknown>][] = [[["vars"], asRecord(data.vars)]];
  for (const [g, v] of Object.entries(asRecord(data.groups))) mappings.push([["groups", g, "vars"], asRecord(asRecord(v).vars)]);
  for (const [h, v] of Object.entries(asRecord(data.hosts))) mappings.push([["hosts", h, "vars"], asRecord(asRecord(v).vars)]);
  const moved = new Map<string, PathSegment[]>();
  for (const [at, vars] of mappings) {
    for (const [old, name] of renames) {
      if (!Object.hasOwn(vars, old)) continue;
      const line = src.lineOf([...at, old]);
      if (Object.hasOwn(vars, name)) {
        out.problems.push({ file, line, path: [...at, old].join("."), message: `${old} is the old name of ${name}, and both are set`, fix: `keep only ${name}` });
        continue;
      }
      vars[name] = vars[old];
      delete vars[old];
      moved.set(JSON.stringify([...at, name]), [...at, old]);
      out.warnings.push(`${file}:${line ?? "?"}: ${[...at, old].join(".")} is now called ${name}: rename it (the old name still loads, for now)`);
    }
  }
  if (moved.size) {
    const lineOf = src.lineOf.bind(src);
    src.lineOf = (path) => {
      for (const [k, old] of moved) {
        const n = JSON.parse(k) as PathSegment[];
        if (n.every((x, i) => path[i] === x)) return lineOf([...old, ...path.slice(n.length)]);
      }
      return lineOf(path);
    };
  }
  return out;
}

/**
 * Hosts matching `--limit`: a comma-separated list of host and group names
 * (`mx1`, `mail`, `mx1,mx2`); empty or `all` = every host. Inventory order is kept.
 */
export function selectHosts(inv: Inventory, limit?: string): HostSpec[] {
  const names = (limit ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 0 || names.includes("all")) return inv.hosts;
  const hostNames = inv.hosts.map((h) => h.name);
  const wanted = new Set<string>();
  const problems: InventoryProblem[] = [];
  for (const n of names) {
    if (hostNames.includes(n)) wanted.add(n);
    else if (inv.groups[n]) inv.groups[n]!.forEach((h) => wanted.add(h));
    else {
      const known = [...hostNames, ...Object.keys(inv.groups)];
      problems.push({ file: inv.file, path: "", message: `--limit "${n}" matches no host or group${suggestion(n, known)}`, fix: `known hosts: ${hostNames.join(", ")}${Object.keys(inv.groups).length ? `; groups: ${Object.keys(inv.groups).join(", ")}` : ""}` });
    }
  }
  if (problems.length) throw new InventoryError(problems);
  return inv.hosts.filter((h) => wanted.has(h.name));
}

/** Expand `~` and resolve relative paths against the inventory's directory. */
export function expand(p: string, baseDir: string, home: string): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return join(home, p.slice(2));
  return resolve(baseDir, p);
}

/** The secrets file: `secrets_file` from the inventory, else `<basename>.secrets.yml` beside it. */
function secretsFile(file: string, data: unknown, env: NodeJS.ProcessEnv): { file: string; readPath: string } {
  const given = asRecord(data).secrets_file;
  let shown: string;
  if (typeof given === "string" && given) {
    shown = given === "~" || given.startsWith("~/") ? expand(given, "/", env.HOME || homedir()) : isAbsolute(given) ? given : join(dirname(file), given);
  } else {
    shown = join(dirname(file), `${basename(file, extname(file))}.secrets.yml`);
  }
  return { file: shown, readPath: resolve(shown) };
}

/** Unknown keys inside a `vars` mapping: secrets in clear text, or typos of setting names. */
function unknownVar(settings: Settings, file: string, secretsShown: string) {
  const names = Object.keys(settings);
  return (parent: PathSegment[], key: string) => {
    const where = parent.length === 1 ? "vars" : parent.length === 3 && (parent[0] === "hosts" || parent[0] === "groups") ? String(parent[0]) : undefined;
    if (!where || parent[parent.length - 1] !== "vars") return undefined;
    if (settings[key]?.sensitive) {
      const host = where === "hosts" ? String(parent[1]) : undefined;
      const under = host ? `under \`hosts.${host}:\`` : "under `vars:`";
      return {
        message: `is a secret: move it to ${secretsShown} (${under}) or set ${secretEnvName(key, host)}`,
        fix: `remove it from ${file}, and change it if this file was ever shared`,
      };
    }
    return { message: `unknown setting${suggestion(key, names)}`, fix: "settings are declared by the roles; inventory/schema.json lists them all" };
  };
}

/** Addresses that are valid IPs, unique address+port pairs, readable key files. */
function checkHosts(src: YamlSource, hostsData: Record<string, unknown>, baseDir: string, home: string): InventoryProblem[] {
  const problems: InventoryProblem[] = [];
  const seen = new Map<string, string>();
  const at = (path: PathSegment[], message: string, fix?: string): InventoryProblem =>
    ({ file: src.file, line: src.lineOf(path), path: path.join("."), message, ...(fix ? { fix } : {}) });
  for (const [name, raw] of Object.entries(hostsData)) {
    const h = asRecord(raw);
    const ssh = asRecord(h.ssh);
    if (typeof h.address === "string" && ADDRESS_RE.test(h.address) && h.connection !== "local") {
      const addr = h.address.toLowerCase();
      if (/^[\d.]+$/.test(addr) && isIP(addr) !== 4) problems.push(at(["hosts", name, "address"], `is not a valid IPv4 address (got ${JSON.stringify(h.address)})`));
      if (addr.includes(":") && isIP(addr.replace(/%.*$/, "")) !== 6) problems.push(at(["hosts", name, "address"], `is not a valid IPv6 address (got ${JSON.stringify(h.address)})`));
      const port = typeof ssh.port === "number" ? ssh.port : SSH_DEFAULTS.port;
      const other = seen.get(`${addr}|${port}`);
      if (other) problems.push(at(["hosts", name, "address"], `same address and port as host "${other}" (${h.address}:${port})`, `each host needs its own address (or SSH port); remove the duplicate or put it in a group instead`));
      else seen.set(`${addr}|${port}`, name);
    }
    if (typeof ssh.key === "string" && ssh.key) {
      const path = expand(ssh.key, baseDir, home);
      const keyProblem = checkReadableFile(path);
      if (keyProblem) problems.push(at(["hosts", name, "ssh", "key"], `key file ${path} ${keyProblem}`, `fix the path (relative paths are relative to the inventory's directory), create a key with \`ssh-keygen -t ed25519 -f ${path}\`, or remove \`key:\` to use ssh-agent`));
    }
  }
  return problems;
}

/** Groups naming unknown hosts, clashing with host names, or named `all`. Returns group → hosts. */
function checkGroups(src: YamlSource, groupsData: Record<string, unknown>, hostNames: string[], problems: InventoryProblem[]): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const [g, raw] of Object.entries(groupsData)) {
    const members = asRecord(raw).hosts;
    groups[g] = Array.isArray(members) ? members.filter((m): m is string => typeof m === "string") : [];
    if (g === "all" || hostNames.includes(g)) {
      problems.push({ file: src.file, line: src.lineOf(["groups", g]), path: `groups.${g}`, message: g === "all" ? `"all" is reserved (--limit all selects every host)` : `a host has the same name; --limit would be ambiguous`, fix: "rename the group" });
    }
    groups[g].forEach((m, i) => {
      if (!hostNames.includes(m)) {
        problems.push({ file: src.file, line: src.lineOf(["groups", g, "hosts", i]), path: `groups.${g}.hosts[${i}]`, message: `unknown host "${m}"${suggestion(m, hostNames)}`, fix: `define it under \`hosts:\` or remove it from the group` });
      }
    });
  }
  return groups;
}

/**
 * Settings without a default must be set for every host — unless their role
 * is switched off (`<prefix>_enabled: false`, e.g. `relay_enabled`).
 */
function checkRequired(settings: Settings, hosts: HostSpec[], src: YamlSource, secretsShown: string): InventoryProblem[] {
  const problems: InventoryProblem[] = [];
  const switches = Object.keys(settings).filter((n) => n.endsWith("_enabled"));
  for (const [name, s] of Object.entries(settings)) {
    if (s.default !== undefined) continue;
    const off = (h: HostSpec) => switches.some((sw) => name.startsWith(sw.slice(0, -"enabled".length)) && h.vars[sw] === false);
    const missing = hosts.filter((h) => h.vars[name] === undefined && !off(h)).map((h) => h.name);
    if (missing.length === 0) continue;
    const forHosts = `for host${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`;
    if (s.sensitive) {
      problems.push({
        file: secretsShown,
        path: "",
        message: `secret "${name}" has no value ${forHosts} (${s.why})`,
        fix: `add \`${name}: ...\` under \`vars:\` in ${secretsShown} (or under \`hosts.<host>:\`), or set ${secretEnvName(name)} (or ${secretEnvName(name, missing[0])})`,
      });
    } else {
      problems.push({ file: src.file, line: src.lineOf(["vars"]), path: "vars", message: `required setting "${name}" is not set ${forHosts} (${s.why})`, fix: `add \`${name}: ...\` under \`vars:\` (or a group's or host's vars)` });
    }
  }
  return problems;
}

type Locate = (host: string, setting: string, at?: number | string) => Omit<InventoryProblem, "message">;

/**
 * Where a host's value of `setting` was written: the host's vars, else the
 * last of its groups that sets it, else the global vars, else the secrets
 * file or environment; a default is reported at `vars` (it is the fix's place).
 */
function locator(src: YamlSource, data: Record<string, unknown>, groups: Record<string, string[]>, secretsShown: string, secrets: Pick<LoadedSecrets, "origin">): Locate {
  return (host, setting, at) => {
    const has = (o: unknown) => Object.prototype.hasOwnProperty.call(asRecord(o), setting);
    const sub = at === undefined ? [] : [at];
    const show = (path: PathSegment[]) => path.map((p, i) => (typeof p === "number" ? `[${p}]` : i ? `.${p}` : p)).join("");
    const yamlAt = (path: PathSegment[]) => ({ file: src.file, line: src.lineOf([...path, ...sub]) ?? src.lineOf(path), path: show([...path, ...sub]) });
    const fromSecrets = secrets.origin(host, setting);
    if (fromSecrets) return { file: fromSecrets.file === "environment" ? "environment" : secretsShown, ...(fromSecrets.line ? { line: fromSecrets.line } : {}), path: show([fromSecrets.path, ...sub]) };
    const h = asRecord(asRecord(data.hosts)[host]);
    if (has(h.vars)) return yamlAt(["hosts", host, "vars", setting]);
    const gs = Object.keys(groups).filter((g) => groups[g]!.includes(host)).reverse();
    for (const g of gs) if (has(asRecord(asRecord(asRecord(data.groups)[g]).vars))) return yamlAt(["groups", g, "vars", setting]);
    if (has(data.vars)) return yamlAt(["vars", setting]);
    return { file: src.file, ...(src.lineOf(["vars"]) ? { line: src.lineOf(["vars"])! } : {}), path: `vars.${setting} (default, for host ${host})` };
  };
}

/** Each setting's format over each host's value, then each role's cross-field rules; one problem per place. */
function checkValues(settings: Settings, hosts: HostSpec[], roles: Pick<Role, "name" | "validate">[], where: Locate): InventoryProblem[] {
  const out = new Map<string, InventoryProblem>();
  const add = (host: string, p: RoleProblem) => {
    const loc = where(host, p.setting, p.at);
    const problem = { ...loc, message: p.message, fix: p.fix };
    const key = `${loc.file}|${loc.line}|${loc.path}|${p.message}`;
    if (!out.has(key)) out.set(key, problem);
  };
  for (const h of hosts) {
    const ctx = { vars: h.vars };
    for (const [name, value] of Object.entries(h.vars)) {
      const format = settings[name]?.format;
      if (!format || value === "" || value === undefined || value === null) continue;
      for (const p of checkValue(format, value, ctx)) {
        add(h.name, { setting: name, ...(p.index !== undefined ? { at: p.index } : {}), message: settings[name]!.sensitive ? `the secret value is not ${format.expected} (not shown)` : p.message, fix: p.fix });
      }
    }
    for (const r of roles) {
      if (!r.validate) continue;
      for (const p of r.validate(h.vars, { host: h.name, loginUser: h.ssh.user })) add(h.name, p);
    }
  }
  return [...out.values()];
}

/** Why `path` cannot be used as a key file, or undefined if it can. */
function checkReadableFile(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return "is not a regular file";
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "is not readable (check its owner and mode: `chmod 600`)";
  }
}

/** Order by file (inventory first), then line. */
function sortProblems(problems: InventoryProblem[], fileOrder: string[]): InventoryProblem[] {
  const rank = (f: string) => (fileOrder.indexOf(f) + 1 || fileOrder.length + 1);
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p.file) - rank(b.p.file) || (a.p.line ?? 0) - (b.p.line ?? 0) || a.i - b.i)
    .map(({ p }) => p);
}
