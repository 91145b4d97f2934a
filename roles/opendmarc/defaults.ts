import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

/** Settings of the `opendmarc` role: SPF and DMARC checks (with the DKIM verdict from OpenDKIM) on mail received on port 25. */
export const opendmarcDefaults = defineDefaults("opendmarc", {
  opendmarc_enabled: {
    default: true,
    why: "Checks SPF (its own SPF code: SPFSelfValidate, no extra daemon; chosen by measured memory, docs/dns.md) and DMARC on port 25, adds Authentication-Results, honours p=reject and p=quarantine.",
    schema: { type: "boolean" },
  },
  opendmarc_port: {
    default: 8893,
    why: "OpenDMARC listens on this localhost TCP port; never opened in the firewall.",
    schema: { type: "integer", minimum: 1024, maximum: 65535 },
  },
  opendmarc_reject_failures: {
    default: true,
    why: "Refuse at SMTP time (550) mail whose domain publishes p=reject and fails DMARC (RFC 7489 §6.6.3); p=quarantine mail is accepted and filed into Junk by the dovecot role's Sieve rule.",
    schema: { type: "boolean" },
  },
  opendmarc_ignore_hosts: {
    format: formats.cidr({ allowWide: "opendmarc_allow_wide" }),
    default: [],
    why: "Client addresses or networks never checked, besides loopback (authenticated clients are never checked either), e.g. a backup MX that forwards to this host.",
    schema: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$" } },
  },
  opendmarc_allow_wide: {
    default: false,
    why: "A prefix shorter than /8 (IPv4) or /32 (IPv6) in opendmarc_ignore_hosts would skip DMARC checks for much of the internet; refused unless this says it is meant.",
    schema: { type: "boolean" },
  },
});
