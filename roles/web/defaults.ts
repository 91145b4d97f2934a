import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

/**
 * Settings of the `web` role: the mail domain's web side, static files only (no PHP):
 * the MTA-STS policy (RFC 8461) and client autoconfiguration, served by lighttpd over
 * HTTPS with the certbot role's certificate; HTTP only for ACME and redirects.
 */
export const webDefaults = defineDefaults("web", {
  web_enabled: {
    default: false,
    why:
      "Off until chosen: it opens ports 80 and 443 and needs DNS names (mta-sts.<domain>, autoconfig.<domain>) pointing at the host; with it on, certbot validates through it (webroot: port 80 is lighttpd's). See docs/web.md.",
    schema: { type: "boolean" },
  },
  web_root: {
    format: formats.path({ owned: true }),
    default: "/var/www/mailstead",
    why: "The static sites' files (one directory per name), written by mailstead and read by lighttpd as www-data; nothing in it is state (every file is rendered from the inventory).",
    schema: { type: "string", pattern: "^/[^\\s]*[^/]$" },
  },
  web_mta_sts_mode: {
    formerly: ["dns_mta_sts_mode"],
    default: "testing",
    why:
      "MTA-STS policy mode (RFC 8461 §5): testing makes senders report TLS failures (TLS-RPT) and still deliver; enforce once the reports are clean; none withdraws a published policy. Its hash is the _mta-sts record's id, so a change changes the id.",
    schema: { type: "string", enum: ["testing", "enforce", "none"] },
  },
  web_mta_sts_max_age: {
    default: 604800,
    why: "How long senders cache the policy, in seconds: one week, as RFC 8461 §3.2's example and Mail-in-a-Box use; at most 31557600 (a year).",
    schema: { type: "integer", minimum: 86400, maximum: 31557600 },
  },
  web_mta_sts_extra_mx: {
    format: formats.hostname(),
    default: [],
    why: "More MX host names the policy allows besides this host (a backup MX): a sender refuses every MX the policy does not list (RFC 8461 §4.1).",
    schema: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]{2,63}$", "x-expected": "a host name such as mx2.example.org" } },
  },
  web_autoconfig_enabled: {
    default: true,
    why: "Serve Thunderbird's autoconfig file at https://autoconfig.<domain>/mail/config-v1.1.xml, so a client set up with the address alone finds IMAPS 993 and submission 465/587.",
    schema: { type: "boolean" },
  },
  web_hsts_max_age: {
    default: 63072000,
    why: "Strict-Transport-Security max-age (two years, as hstspreload.org asks): the web names are HTTPS only. Without includeSubDomains: the domain's other names are not ours.",
    schema: { type: "integer", minimum: 0, maximum: 63072000 },
  },
});
