/**
 * Every role the tool knows, in the order site.ts applies them. The inventory
 * schema is composed from their settings.
 */
import type { Settings } from "../lib/defaults.js";
import type { Role } from "../lib/role.js";
import { base } from "./base/index.js";
import { budget } from "./budget/index.js";
import { fail2ban } from "./fail2ban/index.js";
import { firewall } from "./firewall/index.js";
import { motd } from "./motd/index.js";
import { tls } from "./tls/index.js";
import { certbot } from "./certbot/index.js";
import { mailbox } from "./mailbox/index.js";
import { relay } from "./relay/index.js";
import { postfix } from "./postfix/index.js";
import { dovecot } from "./dovecot/index.js";
import { opendkim } from "./opendkim/index.js";
import { opendmarc } from "./opendmarc/index.js";
import { dns } from "./dns/index.js";
import { backup } from "./backup/index.js";
import { web } from "./web/index.js";
import { webmail } from "./webmail/index.js";
import { status } from "./status/index.js";

/** Roles applied by playbooks/site.ts, in order. */
// certbot comes after postfix and dovecot: its verify checks what 25/465/587/993 serve, and
// on a fresh host they only listen once those roles ran (they name tls's stable paths, which
// certbot re-points and then reloads them).
// budget comes right after base: the mail services find their slice drop-ins when their packages install.
// web comes before certbot: in webroot mode lighttpd must answer the CA on port 80 before the first issuance.
// status (the watchdog) comes after every service it watches is installed.
// backup comes last: every role's state is declared and in place.
export const siteRoles: Role[] = [base, budget, firewall, tls, mailbox, relay, opendkim, opendmarc, postfix, dovecot, web, webmail, certbot, fail2ban, dns, motd, status, backup];

/** Settings of every role, by role name. */
export const roleSettings: Record<string, Settings> = Object.fromEntries(siteRoles.map((r) => [r.name, r.settings]));

/** All settings of all roles, keyed by setting name. */
export function allSettings(): Settings {
  const out: Settings = {};
  for (const s of Object.values(roleSettings)) Object.assign(out, s);
  return out;
}
