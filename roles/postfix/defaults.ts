import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

const cidr = { type: "string" as const, pattern: "^(\\d{1,3}(\\.\\d{1,3}){3}(/\\d{1,2})?|\\[?[0-9a-fA-F:]+\\]?(/\\d{1,3})?)$", "x-expected": "an IPv4 or IPv6 address or CIDR, e.g. 192.0.2.0/24" };

/** Settings of the `postfix` role: MX on 25, submission on 587/465, no relay, limits, postscreen. */
export const postfixDefaults = defineDefaults("postfix", {
  postfix_message_size_limit: {
    default: 10485760,
    why: "10 MiB, advertised in EHLO (RFC 1870 SIZE): attachments beyond that belong in a file share, and a 1 GB mailbox should not fill with a few messages.",
    schema: { type: "integer", minimum: 1048576, maximum: 104857600 },
  },
  postfix_connection_count_limit: {
    default: 10,
    why: "Simultaneous connections per client address (smtpd_client_connection_count_limit; Postfix default 50): one host should not take every smtpd process of a 1 GB VM.",
    schema: { type: "integer", minimum: 0, maximum: 1000 },
  },
  postfix_connection_rate_limit: {
    default: 30,
    why: "Connections per client address per minute (smtpd_client_connection_rate_limit; default 0 = unlimited): slows floods and brute force, far above what a legitimate MTA needs.",
    schema: { type: "integer", minimum: 0, maximum: 100000 },
  },
  postfix_message_rate_limit: {
    default: 60,
    why: "Messages per client address per minute (smtpd_client_message_rate_limit): a stolen password cannot send thousands of spams a minute.",
    schema: { type: "integer", minimum: 0, maximum: 100000 },
  },
  postfix_auth_rate_limit: {
    default: 10,
    why: "AUTH commands per client address per minute (smtpd_client_auth_rate_limit, Postfix ≥ 3.1): bounds password guessing on 587/465 together with Dovecot's auth delay.",
    schema: { type: "integer", minimum: 0, maximum: 100000 },
  },
  postfix_rate_limit_exceptions: {
    format: formats.cidr({ allowWide: "postfix_allow_wide" }),
    default: [],
    why: "Client addresses (besides loopback) exempt from the limits above (smtpd_client_event_limit_exceptions), e.g. a monitoring host; empty by default.",
    schema: { type: "array", uniqueItems: true, items: cidr },
  },
  postfix_postscreen_enabled: {
    default: true,
    why: "postscreen on port 25 drops most zombie spam before an smtpd process starts, at no extra daemon cost (https://www.postfix.org/POSTSCREEN_README.html).",
    schema: { type: "boolean" },
  },
  postfix_postscreen_dnsbl_sites: {
    default: ["zen.spamhaus.org*3", "bl.spamcop.net*2", "b.barracudacentral.org*1", "list.dnswl.org=127.0.[0..255].[1..3]*-2"],
    why: "Weighted DNS block/allow lists (postscreen_dnsbl_sites); a client is refused when its score reaches the threshold. Empty turns DNSBL checks off.",
    schema: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^[a-z0-9.-]+(=[0-9.\\[\\]]+)?(\\*-?[0-9]+)?$|^[a-z0-9.-]+=[0-9.\\[\\]]+(\\*-?[0-9]+)?$" } },
  },
  postfix_postscreen_dnsbl_threshold: {
    default: 3,
    why: "Score at which postscreen refuses a client: one strong list (Spamhaus ZEN, weight 3) or two weaker ones must agree.",
    schema: { type: "integer", minimum: 1, maximum: 100 },
  },
  postfix_postscreen_allowlist: {
    format: formats.cidr({ allowWide: "postfix_allow_wide" }),
    default: [],
    why: "Client addresses that skip postscreen's tests (e.g. your backup MX); empty by default.",
    schema: { type: "array", uniqueItems: true, items: cidr },
  },
  postfix_default_process_limit: {
    default: 10,
    why: "Processes per Postfix service (default 100): measured to keep Postfix near 9 MiB PSS after traffic on a 1 GB VM (docs/memory.md).",
    schema: { type: "integer", minimum: 2, maximum: 1000 },
  },
  postfix_lmtp_concurrency_limit: {
    default: 2,
    why: "Parallel LMTP deliveries into Dovecot (lmtp_destination_concurrency_limit; otherwise up to the process limit): each is a Dovecot lmtp process of ~19 MiB, and nine of them held Debian 13's slice at its cap in a 1,000-message burst (docs/memory.md). Mail waits in Postfix's queue instead.",
    schema: { type: "integer", minimum: 1, maximum: 20 },
  },
  postfix_max_idle: {
    default: "10s",
    why: "Idle Postfix processes exit after this long (default 100s); measured with the process limit above.",
    schema: { type: "string", pattern: "^[0-9]+[smh]?$" },
  },
  postfix_extra_main_cf: {
    default: {},
    why: "Escape hatch: extra main.cf parameters (validated with postconf before use: an unknown name or bad value is refused).",
    schema: { type: "object", propertyNames: { pattern: "^[a-z0-9_]+$" }, additionalProperties: { type: ["string", "integer", "boolean"] } },
  },
  postfix_allow_wide: {
    default: false,
    why: "A prefix shorter than /8 (IPv4) or /32 (IPv6) in postfix_postscreen_allowlist or postfix_rate_limit_exceptions would exempt much of the internet from postscreen or rate limits; refused unless this says it is meant.",
    schema: { type: "boolean" },
  },
});
