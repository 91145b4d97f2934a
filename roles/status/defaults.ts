import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

/** Settings of the `status` role: the host watches itself (monit) and tells the admin. */
export const statusDefaults = defineDefaults("status", {
  status_enabled: {
    default: true,
    why: "The operator's machine is not always on: the host itself restarts a stopped mail service and mails the admin when a check changes state (docs/operations.md).",
    schema: { type: "boolean" },
  },
  status_admin_email: {
    format: formats.address(),
    default: "",
    why: "Who hears about a problem (the watchdog's alerts, status.ts --test-alert); empty = postmaster@<mail domain>, which exists on every mailstead host (RFC 2142). Best an address on another server: mail about a broken server should not wait in it.",
    schema: { type: "string", pattern: "^$|^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$", "x-expected": "an e-mail address or empty" },
  },
  status_interval: {
    default: 30,
    why: "Seconds between two rounds of checks (monit's cycle): a service must be down for two rounds before it is restarted, so a stopped service is back within about 30-90 s, inside the two minutes asked for, and a package upgrade's restart (a few seconds) is never mistaken for a crash.",
    schema: { type: "integer", minimum: 10, maximum: 60 },
  },
  status_restart_limit: {
    default: 3,
    why: "A service that needs this many restarts within 10 rounds is broken in a way a restart does not fix: the watchdog stops trying (unmonitors it) and says so in an alert, instead of a restart loop every 30 s (monit 'restarts within': the Nth restart itself triggers it, so at least 2). The next converge watches it again.",
    schema: { type: "integer", minimum: 2, maximum: 10 },
  },
  status_push_url: {
    default: "",
    sensitive: true,
    why: "Optional dead man's switch: a healthchecks-style URL the host pings every 5 min while its checks pass (and URL/fail when one fails). The service outside mails you when the pings stop, so you hear of a host that is down or cannot send mail at all (docs/operations.md). Secret (secrets file or MAILSTEAD_SECRET_STATUS_PUSH_URL): whoever has the URL can ping it and hide an outage.",
    schema: { type: "string", maxLength: 512, pattern: "^$|^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~!$&()*+,;=:@%/-]*)?$", "x-expected": "an https:// URL such as https://hc-ping.com/<uuid>, or empty" },
  },
  status_prometheus_textfile: {
    format: formats.path({ allowSystem: true }),
    default: "",
    why: "Optional: where the 5-minute heartbeat also writes the checks as Prometheus metrics (node_exporter's textfile collector reads *.prom there); empty writes none.",
    schema: { type: "string", maxLength: 256, pattern: "^$|^/[A-Za-z0-9._/-]+\\.prom$", "x-expected": "an absolute path ending in .prom, such as /var/lib/prometheus/node-exporter/mailstead.prom" },
  },
});
