import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

const selector = { type: "string" as const, pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", "x-expected": "a DNS label such as mail or 2026" };

/** Settings of the `opendkim` role: DKIM signatures on outgoing mail, DKIM checks on incoming mail. */
export const opendkimDefaults = defineDefaults("opendkim", {
  opendkim_enabled: {
    default: true,
    why: "Without a DKIM signature big receivers file mail as spam or refuse it (Gmail's sender guidelines, https://support.google.com/a/answer/81126); DMARC alignment needs it when forwarded mail breaks SPF.",
    schema: { type: "boolean" },
  },
  opendkim_selector: {
    default: "mail",
    why: "The DKIM selector: the key is published at <selector>._domainkey.<domain> (RFC 6376 §3.1). A new selector makes a new key beside the old one (key rotation); the old key is never deleted.",
    schema: selector,
  },
  opendkim_port: {
    default: 8891,
    why: "OpenDKIM listens on this localhost TCP port (not a Unix socket: a chrooted smtpd could not reach one); never opened in the firewall.",
    schema: { type: "integer", minimum: 1024, maximum: 65535 },
  },
  opendkim_ed25519: {
    default: false,
    why: "A second, Ed25519 signature (RFC 8463) beside the RSA one; off by default because major receivers ignore it. Debian 12/13's OpenDKIM (2.11.0~beta2) cannot sign with two algorithms, so the role refuses true (docs/dns.md).",
    schema: { type: "boolean" },
  },
  opendkim_ed25519_selector: {
    default: "ed",
    why: "Selector of the Ed25519 key (must differ from opendkim_selector: each key has its own record).",
    schema: selector,
  },
  opendkim_nameservers: {
    format: formats.ip(),
    default: [],
    why: "Resolvers OpenDKIM asks for DKIM keys; empty = the host's /etc/resolv.conf (OpenDKIM's built-in libunbound would otherwise resolve on its own, unlike Postfix and OpenDMARC).",
    schema: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^[0-9A-Fa-f:.]+$" } },
  },
  opendkim_unbound_nodefault_zones: {
    default: [],
    why: "Special-use TLDs (RFC 6761, e.g. test) that OpenDKIM's libunbound answers NXDOMAIN for by itself, without asking any server (unbound.conf(5) local-zone nodefault); only a lab or an internal domain under such a TLD needs this.",
    schema: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^[a-z0-9-]+(\\.[a-z0-9-]+)*$" } },
  },
});
