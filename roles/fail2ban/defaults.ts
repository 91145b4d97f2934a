import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

const duration = { type: "string", pattern: "^[0-9]+[smhdw]$", "x-expected": "a duration such as 10m, 1h, 1d, 1w" } as const;

/** Settings of the `fail2ban` role: ban password guessers on SSH, SMTP AUTH and IMAP. */
export const fail2banDefaults = defineDefaults("fail2ban", {
  fail2ban_enabled: {
    default: true,
    why: "A public mail server is probed for passwords within minutes; banning guessers keeps logs readable and accounts safe.",
    schema: { type: "boolean" },
  },
  fail2ban_maxretry: {
    default: 5,
    why: "Five failures: enough for a user's typos, too few for a guessing run (fail2ban's own default).",
    schema: { type: "integer", minimum: 1, maximum: 100 },
  },
  fail2ban_findtime: {
    default: "10m",
    why: "Failures are counted over ten minutes (jail.conf(5) default): slow guessers are caught by recidive instead.",
    schema: duration,
  },
  fail2ban_bantime: {
    default: "1h",
    why: "First ban one hour; repeat offenders get longer bans (bantime.increment).",
    schema: duration,
  },
  fail2ban_bantime_maxtime: {
    default: "1w",
    why: "Escalating bans stop growing at a week, the same as recidive.",
    schema: duration,
  },
  fail2ban_recidive_bantime: {
    default: "1w",
    why: "An address banned again and again is banned on every port for a week.",
    schema: duration,
  },
  fail2ban_recidive_findtime: {
    default: "1d",
    why: "Bans counted over a day for recidive (jail.conf's recidive default).",
    schema: duration,
  },
  fail2ban_recidive_maxretry: {
    default: 5,
    why: "Five bans within the day make a recidivist (jail.conf default).",
    schema: { type: "integer", minimum: 1, maximum: 100 },
  },
  fail2ban_ignore_addresses: {
    format: formats.cidr({ allowWide: "fail2ban_allow_wide" }),
    default: [],
    why: "Addresses never banned, besides loopback and firewall_admin_addresses (e.g. a monitoring host).",
    schema: { type: "array", items: { type: "string", pattern: "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$" }, uniqueItems: true },
  },
  fail2ban_dbpurgeage: {
    default: "1w",
    why: "Ban history older than the longest ban is useless; a smaller database costs less memory and disk (fail2ban.conf(5)).",
    schema: duration,
  },
  fail2ban_allow_wide: {
    default: false,
    why: "A prefix shorter than /8 (IPv4) or /32 (IPv6) in fail2ban_ignore_addresses would switch banning off for much of the internet; refused unless this says it is meant.",
    schema: { type: "boolean" },
  },
});
