import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

/** Patterns are whole-value: every alternative sits inside one ^(?:...)$ (an unanchored "a|b" let a newline and a second map line through). */
const LOCAL = "[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?";
const localPart = `^${LOCAL}$`;
/** Outside addresses: a dot-atom local part (no spaces, commas, angle brackets or control characters) at a DNS name. */
const ADDRESS = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})";
const size = "^[0-9]+[KMGT]?$";

/** Settings of the `mailbox` role: the mail domain, its users and aliases, where mail lives. */
export const mailboxDefaults = defineDefaults("mailbox", {
  mailbox_domain: {
    format: formats.domain(),
    default: "",
    why: "The one mail domain this host serves (user@<domain>); empty means base_domain, the host's own DNS domain.",
    schema: { type: "string", pattern: "^$|^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$", "x-expected": "a lowercase DNS domain, or \"\" for base_domain" },
  },
  mailbox_users: {
    default: [],
    why: "Mailbox users. Hashes only (make one with `npx tsx playbooks/passwd.ts`); removing a user disables login and delivery but keeps the Maildir.",
    schema: {
      // No uniqueItems: ajv compares objects pairwise (16,000 users took 15 s); the mailbox role's
      // validate finds a repeated name in one pass and names it.
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "password_hash"],
        properties: {
          name: { type: "string", pattern: localPart, "x-expected": "the local part of the address, e.g. alice" },
          password_hash: {
            type: "string",
            pattern: "^\\{BLF-CRYPT\\}\\$2[aby]\\$(0[4-9]|[12][0-9]|3[01])\\$[./A-Za-z0-9]{53}$",
            "x-expected": "a {BLF-CRYPT}$2y$... hash from `npx tsx playbooks/passwd.ts`",
          },
          quota: { type: "string", pattern: size, "x-expected": "a size such as 500M or 2G (default mailbox_quota)" },
          aliases: { type: "array", uniqueItems: true, items: { type: "string", pattern: localPart } },
        },
      },
    },
  },
  mailbox_aliases: {
    default: {},
    why: "Extra aliases: local part -> local users or outside addresses (e.g. info: [alice, bob]).",
    schema: {
      type: "object",
      propertyNames: { pattern: localPart },
      additionalProperties: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", pattern: `^(?:${LOCAL}|${ADDRESS})$`, "x-expected": "a local user (alice) or an outside address (bob@example.org)" } },
    },
  },
  mailbox_catchall: {
    format: formats.localPart(),
    default: "",
    why: "Local user receiving mail for every unknown address of the domain; empty (no catch-all) refuses unknown recipients at SMTP time, which keeps backscatter and dictionary spam out.",
    schema: { type: "string", pattern: `^(?:${LOCAL})?$`, "x-expected": "a local user name, or \"\" for none" },
  },
  mailbox_send_as: {
    default: {},
    why: "Extra sender addresses a local user may use on submission, by user: full addresses or @domain (e.g. relay: [\"@example.org\"] for a login that another server of yours relays through); empty: users send only as themselves and their aliases.",
    schema: {
      type: "object",
      propertyNames: { pattern: localPart },
      additionalProperties: {
        type: "array",
        minItems: 1,
        uniqueItems: true,
        items: { type: "string", pattern: `^(?:${ADDRESS}|@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59}))$`, "x-expected": "an address such as bob@example.org, or @example.org for every address of a domain" },
      },
    },
  },
  mailbox_postmaster: {
    format: formats.localPart(),
    default: "",
    why: "Who receives postmaster@ and abuse@ (RFC 2142 §4, RFC 5321 §4.5.1: they must exist); empty means the first user.",
    schema: { type: "string", pattern: `^(?:${LOCAL})?$`, "x-expected": "a local user name, or \"\" for the first user" },
  },
  mailbox_quota: {
    default: "1G",
    why: "Default per-user quota; the Free Tier boot volume is small, so one full box must not fill the disk.",
    schema: { type: "string", pattern: size, "x-expected": "a size such as 1G" },
  },
  mailbox_quota_grace: {
    default: "10M",
    why: "The message that takes a box over quota may exceed it by this much (so a big mail is not refused at 99%); Dovecot's default differs by version (2.3: 10% of the quota, 2.4: 10M), so it is set explicitly.",
    schema: { type: "string", pattern: size, "x-expected": "a size such as 10M, or 0 for none" },
  },
  mailbox_quota_warning_percent: {
    default: 90,
    why: "A warning message is delivered to the user once usage crosses this share of the quota, before mail starts bouncing.",
    schema: { type: "integer", minimum: 1, maximum: 99 },
  },
  mailbox_root: {
    format: formats.path({ owned: true }),
    default: "/var/mail/vhosts",
    why: "The single root of all mail: <root>/<domain>/<user>/Maildir (mail) and .../sieve (filters). Backups and restores rely on this one path.",
    schema: { type: "string", pattern: "^/[^\\s]+[^/]$" },
  },
  mailbox_vmail_user: {
    format: formats.account(),
    default: "vmail",
    why: "One unprivileged system user owns every mailbox (virtual users, Dovecot's recommended setup: https://doc.dovecot.org/2.3/configuration_manual/howto/simple_virtual_install/).",
    schema: { type: "string", pattern: "^[a-z_][a-z0-9_-]{0,31}$" },
  },
  mailbox_vmail_uid: {
    default: 5000,
    why: "A fixed uid/gid for vmail so a restored Maildir on a new host keeps its ownership.",
    schema: { type: "integer", minimum: 1000, maximum: 60000 },
  },
});
