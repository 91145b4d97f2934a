/**
 * One report per host, every check pass/warn/fail with its fix (docs/operations.md):
 *   npx tsx playbooks/status.ts -i inventory/hosts.yml [--limit H] [--json] [--html FILE] [--resolver IP]
 * The host's own checks (status/host.ts: services and their ports, the mail queue, the disk,
 * the mail services' memory against the budget, fail2ban's bans, a pending reboot, the last
 * backup), then everything verify.ts checks (DNS, MTA-STS, served certificates).
 * Exit codes: 0 nothing failed (warnings allowed), 1 a check failed, 2 bad input.
 */
import { runAsScript } from "../lib/cli.js";
import { verifyMain } from "./verify.js";

runAsScript(import.meta.url, (argv) => verifyMain(argv, undefined, "status"));
