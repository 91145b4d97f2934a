import { defineDefaults } from "../../lib/defaults.js";

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
});
