/** A loose JSON Schema object type (ajv validates the real thing). */
export type JSONSchemaType = {
  type?: string | readonly string[];
  description?: string;
  [keyword: string]: unknown;
};

type Prim<T> = T extends "string" ? string : T extends "integer" | "number" ? number : T extends "boolean" ? boolean : T extends "null" ? null : never;

/** The properties of an object schema: those in `required` are present, the others optional. */
type PropsOf<P, R> = { -readonly [K in keyof P as K extends R ? K : never]: FromSchema<P[K]> } & {
  -readonly [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]>;
};

/**
 * The TypeScript type of the values a (const) schema accepts, for the shapes the settings use:
 * enum, the primitive types (also as a list such as ["integer", "null"]), arrays of items,
 * objects with properties or with additionalProperties. Anything else is `unknown`.
 */
export type FromSchema<S> = S extends { readonly enum: readonly (infer E)[] }
  ? E
  : S extends { readonly type: "array"; readonly items: infer I }
    ? FromSchema<I>[]
    : S extends { readonly type: "object"; readonly properties: infer P }
      ? PropsOf<P, S extends { readonly required: readonly (infer R)[] } ? R : never>
      : S extends { readonly type: "object"; readonly additionalProperties: infer A }
        ? A extends false ? Record<string, never> : Record<string, FromSchema<A>>
        : S extends { readonly type: infer T }
          ? T extends readonly (infer U)[] ? Prim<U> : [Prim<T>] extends [never] ? unknown : Prim<T>
          : unknown;
