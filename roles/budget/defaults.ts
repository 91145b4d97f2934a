import { defineDefaults } from "../../lib/defaults.js";

/** A systemd memory size: bytes, or a number with K, M or G (systemd.resource-control(5)). */
const size = { type: "string", pattern: "^[1-9][0-9]{0,5}[KMG]?$", "x-expected": "a size such as 100M (K, M or G)" } as const;

/** A service unit name (a template such as postfix@.service stands for its instances). */
const service = { type: "string", pattern: "^[a-z][a-z0-9@._-]{0,60}\\.service$" } as const;

/** Settings of the `budget` role: the mail stack's share of the VM's memory, enforced by systemd. */
export const budgetDefaults = defineDefaults("budget", {
  budget_enabled: {
    default: true,
    why: "The mail stack gets 100 MB of a 1 GB VM shared with other services; a systemd slice makes that a limit, not a hope.",
    schema: { type: "boolean" },
  },
  budget_slice: {
    default: "mail.slice",
    why: "The one slice every long-running mail service runs in, so its memory is counted and capped together (systemd.slice(5)).",
    schema: { type: "string", pattern: "^[a-z][a-z0-9-]{0,30}\\.slice$", "x-expected": "a slice unit name such as mail.slice" },
  },
  budget_memory_max: {
    default: "100M",
    why: "The hard cap (MemoryMax): above it the kernel reclaims, then the OOM killer ends a process inside the slice, never outside it (systemd.resource-control(5)).",
    schema: size,
  },
  budget_memory_high: {
    default: "90M",
    why: "The throttle point (MemoryHigh, cgroup v2): the slice is slowed and reclaimed before it reaches the cap, so a peak rarely ends in an OOM kill.",
    schema: size,
  },
  budget_memory_low: {
    default: "40M",
    why: "Protected memory (MemoryLow, cgroup v2): the VM's other tenants cannot push the idle mail services (measured ~42-56 MiB PSS, docs/memory.md) out of RAM.",
    schema: size,
  },
  budget_services: {
    default: ["postfix@.service", "postfix.service", "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service", "lighttpd.service", "mailstead-webmail.service", "mailstead-webmail-php.service", "monit.service"],
    why: "The long-running mail services charged to the slice (lighttpd: the web role's; the webmail's proxy and PHP while they run; monit, the status role's watchdog). Debian 12 runs Postfix as postfix@-.service (the template's drop-in covers it), Debian 13 as postfix.service.",
    schema: { type: "array", items: service, uniqueItems: true },
  },
  budget_service_memory_max: {
    default: { "fail2ban.service": "48M", "opendkim.service": "32M", "opendmarc.service": "32M" },
    why:
      "A runaway helper must not starve Postfix and Dovecot of the shared cap: each gets its own MemoryMax, about twice its measured peak (cgroup max_usage in the lab: fail2ban 23M, opendkim 5M, opendmarc 2M, page cache included). Postfix and Dovecot, the core, are bounded by the slice alone (docs/memory.md).",
    schema: { type: "object", propertyNames: service, additionalProperties: size },
  },
  budget_service_oom_score_adjust: {
    default: { "mailstead-webmail-php.service": 200, "fail2ban.service": 100 },
    why:
      "Who the kernel kills first at the cap: its choice is the process with the most resident memory plus OOMScoreAdjust x the cap / 1000, so +200 weighs the webmail's PHP (started again by its socket at the next request) as 20 MiB heavier and +100 fail2ban (its bans stay in nftables while it restarts) as 10 MiB, before OpenDKIM, Postfix or Dovecot; a runaway bigger than that is still the one killed (bench: fail2ban was the victim at a burst, docs/memory.md).",
    schema: { type: "object", propertyNames: service, additionalProperties: { type: "integer", minimum: -1000, maximum: 1000 } },
  },
});
