import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

/** Let's Encrypt's production ACME directory (RFC 8555). */
export const LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory";
/** Let's Encrypt's staging directory: untrusted certificates, generous rate limits, for rehearsals. */
export const LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

/**
 * certbot's DNS plugins packaged by Debian (python3-certbot-dns-<name>), with
 * what their credentials look like. All are certbot's own plugins with the same
 * flags: --dns-<name>, --dns-<name>-credentials FILE, --dns-<name>-propagation-seconds N.
 * route53 reads AWS credentials from the environment instead (AWS_SHARED_CREDENTIALS_FILE).
 */
export const DNS_PLUGINS = ["rfc2136", "cloudflare", "digitalocean", "dnsimple", "gehirn", "google", "linode", "ovh", "route53", "sakuracloud"] as const;
export type DnsPlugin = (typeof DNS_PLUGINS)[number];

/**
 * Settings of the `certbot` role: a real certificate for the mail host name
 * from an ACME CA (Let's Encrypt by default), renewed by Debian's certbot
 * timer, served by every mail service through the tls role's stable paths.
 */
export const certbotDefaults = defineDefaults("certbot", {
  certbot_mode: {
    default: "none",
    why:
      "Off until chosen: a real certificate needs DNS pointing at the host and consent to the CA's terms, and the usual mode depends on who owns port 80, so the tool contacts no CA and opens no port by itself " +
      "(the self-signed stand-in still encrypts; MTAs accept it). inventory/example.yml chooses standalone (certbot answers HTTP-01 on port 80, which the firewall then opens); " +
      "webroot when another web server owns port 80 (Nginx Proxy Manager), dns for DNS-01 through a provider API, files for certificates managed elsewhere. See docs/certificates.md.",
    schema: { type: "string", enum: ["standalone", "webroot", "dns", "files", "none"] },
  },
  certbot_server: {
    format: formats.url({ protocols: ["https"] }),
    default: LETSENCRYPT_PRODUCTION,
    why: `The ACME directory URL: Let's Encrypt production; ${LETSENCRYPT_STAGING} for rehearsals (untrusted certificates); a private CA such as Pebble for tests.`,
    schema: { type: "string", pattern: "^https://[^\\s]+$", "x-expected": "an https:// ACME directory URL" },
  },
  certbot_email: {
    format: formats.address(),
    default: "",
    why: "Contact address registered with the CA (account recovery, policy notices); empty registers without one (Let's Encrypt no longer sends expiry mail).",
    schema: { type: "string", pattern: "^$|^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$", "x-expected": "an e-mail address or empty" },
  },
  certbot_key_type: {
    default: "ecdsa",
    why: "ECDSA P-256: smaller, faster handshakes, accepted by every current mail client and MTA (Mozilla intermediate); rsa (2048) only for very old clients.",
    schema: { type: "string", enum: ["ecdsa", "rsa"] },
  },
  certbot_reuse_key: {
    default: false,
    why: "A new key at each renewal limits what a leaked key exposes; turn on to keep the key (and a DANE TLSA '3 1 1' record) stable across renewals.",
    schema: { type: "boolean" },
  },
  certbot_extra_names: {
    format: formats.hostname(),
    default: [],
    why: "More names on the certificate besides the mail host name (e.g. the name clients use); each must resolve to this host (or be in the DNS plugin's zone).",
    schema: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]{2,63}$", "x-expected": "a DNS name such as mail.example.org" } },
  },
  certbot_ca_bundle: {
    default: "",
    why:
      "PEM certificates of a private ACME CA (e.g. Pebble's HTTPS CA and its issuing root): certbot trusts them for the ACME server (REQUESTS_CA_BUNDLE, also for the renewal timer) " +
      "and verify trusts them for the served chain. Empty for public CAs (the system store).",
    schema: { type: "string", pattern: "^$|^-----BEGIN CERTIFICATE-----[\\s\\S]*-----END CERTIFICATE-----\\s*$", "x-expected": "PEM certificates (-----BEGIN CERTIFICATE----- ...) or empty" },
  },
  certbot_webroot_path: {
    format: formats.path({ owned: true }),
    default: "/var/lib/mailstead/acme-webroot",
    why: "webroot mode: the directory the web server on port 80 serves /.well-known/acme-challenge/ from (for Nginx Proxy Manager: the host side of its /data/letsencrypt-acme-challenge).",
    schema: { type: "string", pattern: "^/[^\\s]*[^/]$" },
  },
  certbot_dns_plugin: {
    default: "rfc2136",
    why: "dns mode: the Debian-packaged certbot DNS plugin (python3-certbot-dns-<name>); rfc2136 (TSIG dynamic updates) works with any standard DNS server (BIND, Knot, PowerDNS).",
    schema: { type: "string", enum: [...DNS_PLUGINS] },
  },
  certbot_dns_credentials: {
    default: "",
    why: "dns mode: the plugin's credentials file content (INI; JSON for google; AWS credentials for route53); secret: only in the secrets file or MAILSTEAD_SECRET_CERTBOT_DNS_CREDENTIALS. Written 0600.",
    sensitive: true,
    schema: { type: "string", maxLength: 16384 },
  },
  certbot_dns_propagation_seconds: {
    default: null,
    why: "dns mode: seconds to wait for the TXT record to reach the provider's DNS servers; null keeps the plugin's default (60 s for rfc2136); 0 suits a server that applies updates before answering.",
    schema: { type: ["integer", "null"], minimum: 0, maximum: 3600 },
  },
  certbot_files_fullchain: {
    format: formats.path(),
    default: "",
    why: "files mode: the certificate chain (leaf first) managed elsewhere, e.g. /opt/npm/letsencrypt/live/npm-1/fullchain.pem for Nginx Proxy Manager.",
    schema: { type: "string", pattern: "^$|^/[^\\s]+$" },
  },
  certbot_files_privkey: {
    format: formats.path(),
    default: "",
    why: "files mode: the private key of that certificate (read as root; copied 0600 into the tls directory).",
    schema: { type: "string", pattern: "^$|^/[^\\s]+$" },
  },
  certbot_reload_services: {
    format: formats.serviceName(),
    default: ["postfix", "dovecot"],
    why: "Services reloaded after a new certificate is in place (only those running); add any other server that reads the tls role's paths. The most reported failure of comparable tools is a renewal nobody reloaded.",
    schema: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^[a-zA-Z0-9@._-]+$", "x-expected": "a systemd unit name such as nginx" } },
  },
  certbot_restart_services: {
    format: formats.serviceName(),
    default: ["lighttpd"],
    why: "Services restarted instead (only those running): lighttpd (the web role's) reads the key as root at start and runs as www-data, so a reload (SIGUSR1) cannot read the key again and it exits; a restart of a static site costs a few milliseconds.",
    schema: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^[a-zA-Z0-9@._-]+$", "x-expected": "a systemd unit name such as lighttpd" } },
  },
  certbot_keep_versions: {
    default: 3,
    why: "Validated certificate versions kept in <tls_dir>/versions (the served one and its predecessors, to go back by hand).",
    schema: { type: "integer", minimum: 2, maximum: 20 },
  },
});
