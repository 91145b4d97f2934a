import { defineDefaults } from "../../lib/defaults.js";
import { formats } from "../../lib/formats.js";

const hostLabel = "^(?!-)[a-z0-9-]{1,63}(?<!-)$";
const domain = "^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$";

/** Settings of the `base` role: the host itself, before any mail service. */
export const baseDefaults = defineDefaults("base", {
  base_hostname: {
    default: undefined,
    why: "The short host name; with base_domain it forms the FQDN that Postfix says in EHLO and that the PTR must match (RFC 5321 §4.1.1.1).",
    schema: { type: "string", pattern: hostLabel, "x-expected": "a host label: lowercase letters, digits, hyphens (e.g. mx1)" },
  },
  base_domain: {
    format: formats.domain(),
    default: undefined,
    why: "The DNS domain of the host (e.g. example.org); the FQDN is <base_hostname>.<base_domain>.",
    schema: { type: "string", pattern: domain, "x-expected": "a lowercase DNS domain such as example.org" },
  },
  base_packages: {
    default: ["ca-certificates", "unattended-upgrades", "systemd-timesyncd", "openssl"],
    why: "What every later role assumes: CA roots for TLS clients, security updates, a synced clock (TLS and DKIM timestamps), openssl for key checks.",
    schema: { type: "array", items: { type: "string", pattern: "^[a-z0-9][a-z0-9+.-]+$" }, uniqueItems: true },
  },
  base_extra_packages: {
    default: [],
    why: "Room for the admin's own tools without editing the role.",
    schema: { type: "array", items: { type: "string", pattern: "^[a-z0-9][a-z0-9+.-]+$" }, uniqueItems: true },
  },
  base_apt_cache_max_age: {
    default: 3600,
    why: "Refresh package lists at most hourly: fresh enough for security updates, cheap on re-runs (seconds).",
    schema: { type: "integer", minimum: 0, maximum: 604800 },
  },
  base_apt_security_source: {
    default: true,
    why: "Debian security updates come from a separate archive; an image without it never gets them (https://www.debian.org/security/).",
    schema: { type: "boolean" },
  },
  base_security_updates: {
    default: true,
    why: "Apply pending security updates on every converge: a mail server is on the internet from its first minute.",
    schema: { type: "boolean" },
  },
  base_unattended_upgrades: {
    default: true,
    why: "Keep applying security updates between converges (https://wiki.debian.org/UnattendedUpgrades).",
    schema: { type: "boolean" },
  },
  base_journald_max_use: {
    default: "100M",
    why: "Cap the journal's disk use; the Free Tier boot volume is small and journald's default is 10% of the filesystem (journald.conf(5)).",
    schema: { type: "string", pattern: "^[0-9]+[KMG]$", "x-expected": "a size such as 100M or 1G" },
  },
  base_swap_min_ram_mb: {
    default: 2048,
    why: "Below this much RAM (the Free Tier micro VM has 1 GB) a swap file keeps a memory spike from killing a daemon mid-delivery.",
    schema: { type: "integer", minimum: 0 },
  },
  base_swap_size_mb: {
    default: 1024,
    why: "1 GiB of swap on a 1 GB VM: enough for spikes, small for the boot volume.",
    schema: { type: "integer", minimum: 64, maximum: 65536 },
  },
  base_swap_file: {
    format: formats.path({ owned: true }),
    default: "/swapfile",
    why: "Conventional location; on the root filesystem so it needs no extra volume.",
    schema: { type: "string", pattern: "^/[^\\s]+$" },
  },
});
