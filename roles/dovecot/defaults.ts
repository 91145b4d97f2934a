import { defineDefaults } from "../../lib/defaults.js";

/** Settings of the `dovecot` role: IMAPS, LMTP, Sieve/ManageSieve, quota-status. */
export const dovecotDefaults = defineDefaults("dovecot", {
  dovecot_listen: {
    default: ["*", "::"],
    why: "Addresses Dovecot listens on: every IPv4 and IPv6 address (a VM may have either or both: support both, assume neither).",
    schema: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", pattern: "^[0-9a-fA-F.:*]+$" } },
  },
  dovecot_auth_mechanisms: {
    default: ["plain", "login"],
    why: "PLAIN for every client, LOGIN for older Outlook; both only inside TLS (ssl = required). Hashes are BLF-CRYPT, so challenge-response mechanisms cannot work anyway.",
    schema: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", enum: ["plain", "login"] } },
  },
  dovecot_max_userip_connections: {
    default: 20,
    why: "IMAP connections per user and client address: a phone plus a desktop client open ~10 (Dovecot's default of 10 is too tight for both behind one NAT).",
    schema: { type: "integer", minimum: 1, maximum: 1000 },
  },
  dovecot_idle_kill: {
    default: "10s",
    why: "Idle service processes exit after this long instead of 1 min; measured to halve Dovecot's PSS after traffic (docs/memory.md).",
    schema: { type: "string", pattern: "^[0-9]+(s|m|secs|mins)$", "x-expected": "a duration such as 10s or 1m" },
  },
  dovecot_process_limit: {
    default: 20,
    why: "At most this many processes per service (default 100): bounds memory on a 1 GB VM; 20 concurrent IMAP sessions is plenty for a personal server.",
    schema: { type: "integer", minimum: 5, maximum: 1000 },
  },
  dovecot_client_limit: {
    default: 100,
    why: "Connections per process for services that multiplex (auth, anvil, config); default 1000 is sized for large sites.",
    schema: { type: "integer", minimum: 10, maximum: 10000 },
  },
  dovecot_extra_conf: {
    default: "",
    why: "Escape hatch: raw lines appended to dovecot.conf (validated with doveconf before use, like the rest).",
    schema: { type: "string", maxLength: 20000 },
  },
  dovecot_autoexpunge: {
    default: { Junk: "30d", Trash: "30d" },
    why: "Junk and Trash are emptied of messages saved there more than 30 days ago, so they never fill the quota or the disk (Dovecot autoexpunge, by the date a message was saved in the folder); add any folder and age (Sent: 365d), or {} to keep everything. https://doc.dovecot.org/2.3/settings/core/#core_setting-mailbox/autoexpunge",
    schema: {
      type: "object",
      propertyNames: { pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", "x-expected": "a folder name of letters, digits, _ . - (no spaces or /), such as Trash or Lists" },
      additionalProperties: { type: "string", pattern: "^[1-9][0-9]{0,4}[smhd]$", "x-expected": "an age such as 30d or 12h" },
    },
  },
});
