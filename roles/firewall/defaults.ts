import { defineDefaults } from "../../lib/defaults.js";
import { formats, type Format } from "../../lib/formats.js";

const port = { type: "integer", minimum: 1, maximum: 65535 } as const;

/**
 * A trusted interface: a plain name (lo, docker0, wg0), or a wildcard only
 * for the container bridges Docker, libvirt and LXC create (br-*, veth*,
 * docker*, virbr*, lxcbr*): a wider wildcard such as "e*" or "*" would also
 * match the uplink (eth0, ens3, enp0s3) and open every port to the internet.
 */
const BRIDGE_WILDCARDS = ["br-*", "veth*", "docker*", "virbr*", "lxcbr*"];
const trustedInterface: Format = {
  name: "trusted interface",
  expected: `an interface name such as docker0, or one of ${BRIDGE_WILDCARDS.join(", ")}`,
  check(value, ctx) {
    if (typeof value === "string" && BRIDGE_WILDCARDS.includes(value)) return undefined;
    if (typeof value === "string" && value.includes("*")) {
      return { message: `${JSON.stringify(value)} is a wildcard that can match the uplink (eth0, ens3, enp0s3) and would open every port to the internet`, fix: `name the interface exactly, or use one of the bridge wildcards ${BRIDGE_WILDCARDS.join(", ")}` };
    }
    return formats.interfaceName().check(value, ctx);
  },
};

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
    format: trustedInterface,
    default: ["lo", "docker0", "br-*"],
    why: "Traffic from Docker's bridges to host services (a reverse proxy container talking to the host) must not be dropped.",
    schema: { type: "array", items: { type: "string", pattern: "^[A-Za-z0-9_.*-]{1,16}$" }, uniqueItems: true },
  },
  firewall_admin_addresses: {
    format: formats.cidr({ allowWide: "firewall_allow_wide" }),
    default: [],
    why: "The admin's own addresses or networks (CIDR): never rate-limited on SSH and never banned by fail2ban, so the admin cannot be locked out.",
    schema: {
      type: "array",
      items: { type: "string", pattern: "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$", "x-expected": "an IPv4/IPv6 address or CIDR network" },
      uniqueItems: true,
    },
  },
  firewall_allow_wide: {
    default: false,
    why: "A prefix shorter than /8 (IPv4) or /32 (IPv6) in firewall_admin_addresses exempts much of the internet from SSH rate limits and fail2ban; refused unless this says it is meant.",
    schema: { type: "boolean" },
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
