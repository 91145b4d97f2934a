import { defineDefaults } from "../../lib/defaults.js";

const port = { type: "integer", minimum: 1, maximum: 65535 };

/** Settings of the `firewall` role (nftables, plus Oracle's iptables rules files). */
export const firewallDefaults = defineDefaults("firewall", {
  firewall_enabled: {
    default: true,
    why: "A mail server on a public address is probed within minutes; only what the mail service needs may be reachable.",
    schema: { type: "boolean" },
  },
  firewall_extra_tcp_ports: {
    default: [],
    why: "Host services of the admin's own (not in Docker) that must stay reachable; every other port is dropped.",
    schema: { type: "array", items: port, uniqueItems: true },
  },
  firewall_trusted_interfaces: {
    default: ["lo", "docker0", "br-*"],
    why: "Traffic from Docker's bridges to host services (a reverse proxy container talking to the host) must not be dropped.",
    schema: { type: "array", items: { type: "string", pattern: "^[A-Za-z0-9_.*-]{1,16}$" }, uniqueItems: true },
  },
  firewall_admin_addresses: {
    default: [],
    why: "The admin's own addresses or networks (CIDR): never rate-limited on SSH and never banned by fail2ban, so the admin cannot be locked out.",
    schema: {
      type: "array",
      items: { type: "string", pattern: "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$", "x-expected": "an IPv4/IPv6 address or CIDR network" },
      uniqueItems: true,
    },
  },
  firewall_ssh_rate: {
    default: "10/minute",
    why: "New SSH connections per source address beyond this are dropped: slows password guessing without locking out the admin.",
    schema: { type: "string", pattern: "^[0-9]+/(second|minute|hour)$", "x-expected": "a rate such as 10/minute" },
  },
  firewall_ssh_burst: {
    default: 10,
    why: "Allows a burst of reconnects (scp, a converge's probe connection) before the rate applies.",
    schema: { type: "integer", minimum: 1, maximum: 1000 },
  },
  firewall_confirm_seconds: {
    default: 60,
    why: "A new ruleset is rolled back after this long unless a fresh SSH connection confirms it: a bad rule can never lock the admin out.",
    schema: { type: "integer", minimum: 15, maximum: 600 },
  },
  firewall_iptables_files: {
    default: true,
    why: "Oracle's Ubuntu images REJECT all but SSH in /etc/iptables/rules.v4; our ports must be accepted there too, before that REJECT, persistently.",
    schema: { type: "boolean" },
  },
});
