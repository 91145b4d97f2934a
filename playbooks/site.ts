/**
 * Converge every host of the inventory to a complete mail server.
 *   npx tsx playbooks/site.ts -i inventory/hosts.yml [--check] [--diff] [--limit NAME|GROUP]
 *     [--tags ROLE,...] [--json FILE] [--accept-new-host-keys]
 */
import { runPlaybook } from "../lib/cli.js";
import { allSettings, siteRoles } from "../roles/registry.js";

process.exitCode = await runPlaybook(process.argv.slice(2), { name: "site", roles: siteRoles, settings: allSettings() });
