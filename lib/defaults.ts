/**
 * Role settings. Every setting a role reads is declared once, role-prefixed,
 * with its default, a one-line why, and a JSON Schema fragment. The inventory
 * schema is composed from these, so a typo in an inventory var is caught
 * (with a did-you-mean) before any host is touched.
 */
import type { Format } from "./formats.js";
import type { FromSchema, JSONSchemaType } from "./jsonschema.js";

export interface Setting<T = unknown> {
  /** Value used when the inventory does not set it. `undefined` = required. */
  default: T | undefined;
  /** One line: why this default. Link the doc or RFC when there is one. */
  why: string;
  /** JSON Schema for the value (type, range, pattern, enum...). */
  schema: JSONSchemaType;
  /** Secret values never appear in output or diffs. */
  sensitive?: boolean;
  /**
   * A typed check of the value (of each item, for an array) run when the
   * inventory loads, after the schema: addresses, CIDRs, paths, names...
   * (lib/formats.ts). "" is "not set" and is left to the schema.
   */
  format?: Format;
  /**
   * Names this setting had before (renamed, or moved from another role): an
   * inventory that still uses one loads, with a warning naming the new name.
   */
  formerly?: readonly string[];
}

export type Settings = Record<string, Setting>;

/**
 * Identity helper that checks every key carries the role prefix. `const`: the schemas keep
 * their literal types, so a role's vars type is derived from them ({@link VarsOf}), never
 * written a second time.
 */
export function defineDefaults<const S extends Settings>(prefix: string, settings: S): S {
  for (const key of Object.keys(settings)) {
    if (!key.startsWith(`${prefix}_`)) {
      throw new Error(`setting ${key} must be prefixed with "${prefix}_"`);
    }
    if (!settings[key]!.why.trim()) throw new Error(`setting ${key} has no why`);
  }
  return settings;
}

/** The vars a role sees for its settings, typed from each setting's schema. */
export type VarsOf<S extends Settings> = { -readonly [K in keyof S]: FromSchema<S[K]["schema"]> };

/** The default values of a settings map. */
export function defaultValues(settings: Settings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(settings)) if (s.default !== undefined) out[k] = s.default;
  return out;
}
