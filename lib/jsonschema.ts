/** A loose JSON Schema object type (ajv validates the real thing). */
export type JSONSchemaType = {
  type?: string | string[];
  description?: string;
  [keyword: string]: unknown;
};
