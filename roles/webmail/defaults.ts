import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

/**
 * Settings of the `webmail` role: Roundcube from Debian (SQLite), PHP started on the first
 * request by systemd socket activation and stopped after an idle period, served by the web
 * role's lighttpd on the host's name.
 */
export const webmailDefaults = defineDefaults("webmail", {
  webmail_enabled: {
    default: false,
    why: "Off until chosen: Roundcube and PHP cost 30-35 MiB while someone uses them (nothing while idle); needs the web side (web_enabled) for HTTPS. See docs/webmail.md.",
    schema: { type: "boolean" },
  },
  webmail_idle_stop_seconds: {
    default: 300,
    why: "PHP stops this long after the last request: an open Roundcube tab asks every minute (refresh_interval 60 s) and keeps it up; five minutes after the tab closes the memory is back (systemd-socket-proxyd(8) --exit-idle-time).",
    schema: { type: "integer", minimum: 10, maximum: 3600 },
  },
  webmail_port: {
    default: 9071,
    why: "Localhost TCP port systemd listens on for lighttpd's FastCGI requests (a TCP socket, not a unix one: php-fpm unlinks its unix socket when it stops, which would break the next activation); never opened in the firewall.",
    schema: { type: "integer", minimum: 1024, maximum: 65534 },
  },
  webmail_product_name: {
    default: "Webmail",
    why: "The name on the login page and in the browser's title.",
    schema: { type: "string", pattern: "^[A-Za-z0-9 .,()_-]{1,40}$", "x-expected": "up to 40 letters, digits, spaces or .,()_-" },
  },
  webmail_session_lifetime_minutes: {
    default: 60,
    why: "A session without activity ends after an hour (Roundcube session_lifetime); sessions live in Roundcube's database, so they survive PHP's idle stop.",
    schema: { type: "integer", minimum: 5, maximum: 1440 },
  },
  webmail_mode: {
    default: "direct",
    why: "direct: lighttpd serves the webmail over HTTPS on the host's name. proxy: only a reverse proxy you run (Nginx Proxy Manager) reaches it, over HTTP on webmail_proxy_address:webmail_proxy_port, and terminates TLS itself (docs/webmail.md).",
    schema: { type: "string", enum: ["direct", "proxy"] },
  },
  webmail_proxy_address: {
    format: formats.ip(),
    default: "127.0.0.1",
    why: "proxy mode: the address lighttpd serves the webmail on, for the proxy only: 127.0.0.1 for a proxy on this host outside Docker, the docker0 address (172.17.0.1) for NPM in Docker, the VM's VCN address for a proxy on another VM.",
    schema: { type: "string", pattern: "^[0-9A-Fa-f:.]+$" },
  },
  webmail_proxy_port: {
    default: 8080,
    why: "proxy mode: the HTTP port the proxy forwards to; opened in the firewall only for webmail_trusted_proxies.",
    schema: { type: "integer", minimum: 1024, maximum: 65535 },
  },
  webmail_trusted_proxies: {
    format: formats.cidr({ allowWide: "webmail_allow_wide" }),
    default: [],
    why: "proxy mode: the only peers whose X-Forwarded-For lighttpd believes (the real client address is what Roundcube logs and fail2ban bans); anyone else's header is dropped. Required in proxy mode.",
    schema: { type: "array", items: { type: "string", pattern: "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$" }, uniqueItems: true },
  },
  webmail_allow_wide: {
    default: false,
    why: "A prefix shorter than /8 (IPv4) or /32 (IPv6) in webmail_trusted_proxies would let much of the internet forge client addresses; refused unless this says it is meant.",
    schema: { type: "boolean" },
  },
});
