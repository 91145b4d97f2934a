/**
 * Writes inventory/schema.json from the role settings (run: `npx tsx scripts/gen-schema.ts`).
 * Point your editor's YAML language server at it for completion and checks:
 * `# yaml-language-server: $schema=./schema.json`. A unit test fails if the committed file is stale.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildInventorySchema } from "../lib/inventory/index.js";
import { allSettings } from "../roles/registry.js";

/** The exact text of inventory/schema.json. */
export function schemaText(): string {
  return `${JSON.stringify(buildInventorySchema(allSettings()), null, 2)}\n`;
}

export const SCHEMA_PATH = fileURLToPath(new URL("../inventory/schema.json", import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_PATH, schemaText());
  console.log(`wrote ${SCHEMA_PATH}`);
}
