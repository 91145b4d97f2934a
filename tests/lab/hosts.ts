/**
 * The lab's fixed host table. Add a host by adding a row: the rest of the lab
 * (VMs, DNS A/PTR/MX records, ACME update ACL, inventory, known_hosts) follows.
 *
 * Addresses must stay inside LAB_NET (198.51.100.0/24, TEST-NET-2); .1 is the host side
 * of the bridge (DNS, apt proxy, ACME server).
 */
export type LabOs = "bookworm" | "trixie";
export const ALL_OS: readonly LabOs[] = ["bookworm", "trixie"];

export interface HostDef {
  /** VM name, hostname and inventory name. */
  name: string;
  /** IPv4 address on the lab bridge. */
  address: string;
  os: LabOs;
  /** DNS zone the host lives in; fqdn = name.domain. */
  domain: string;
  /** Inventory group. `mail` hosts also get the domain's MX record. */
  group: "mail" | "clients";
  /** certbot_mode for a certificate from the lab's Pebble (the inventory adds its URL and CA bundle); others keep the self-signed one. */
  certbot?: "standalone" | "webroot" | "dns";
  /** The web side on (web_enabled): the lab DNS gets mta-sts., autoconfig. and autodiscover.<domain> pointing at it. */
  web?: boolean;
  /** The mail hosts' backup target: the lab's backup key may log in for SFTP only, into /srv/restic. */
  backupTarget?: boolean;
}

export const LAB_NET = {
  bridge: "labbr0",
  /** Host side of the bridge: DNS, apt-cacher-ng, Pebble. */
  address: "198.51.100.1",
  prefix: 24,
  cidr: "198.51.100.0/24",
  reverseZone: "100.51.198.in-addr.arpa",
} as const;

export const HOSTS: readonly HostDef[] = [
  // mail host for example.test: the server mailstead provisions.
  // Its certificate comes from Pebble (HTTP-01 on port 80, through the web role's lighttpd), so
  // `npm run demo` serves a CA-issued one, for the web side's names too.
  { name: "mx1", address: "198.51.100.10", os: "bookworm", domain: "example.test", group: "mail", certbot: "webroot", web: true },
  // "the rest of the internet": a second mail domain, on the other Debian release; a Pebble
  // certificate as well (an MTA-STS policy host needs a trusted one).
  { name: "mx2", address: "198.51.100.20", os: "trixie", domain: "example.net", group: "mail", certbot: "webroot", web: true },
  // a client / attacker machine with no mail role.
  { name: "outsider", address: "198.51.100.30", os: "bookworm", domain: "example.net", group: "clients" },
  // shaped like an Oracle Cloud Ubuntu instance by the firewall tests (rules.v4 + netfilter-persistent);
  // a client in DNS terms (no MX), so mail for example.test never goes there.
  { name: "oci1", address: "198.51.100.40", os: "bookworm", domain: "example.test", group: "clients" },
  // the mail hosts' backup target (a second VM the user owns): SFTP into /srv/restic; Debian 13 for restic's REST server.
  { name: "vault", address: "198.51.100.50", os: "trixie", domain: "example.net", group: "clients", backupTarget: true },
];

/** Zones served by the lab DNS: every host domain, plus the reverse zone. */
/**
 * The block lists postscreen asks by default (postfix_postscreen_dnsbl_sites) and the lab's own
 * (bl.example.net), each with its RFC 5782 test entry (2.0.0.127.<list>) as the real list answers
 * it. The lab's DNS serves their zones, so the lists answer inside the lab (nothing leaves
 * 198.51.100.0/24) and tests can list an address or make a list refuse the resolver
 * (Spamhaus's 127.255.255.254) with one DNS update.
 */
export const LAB_DNSBLS: { list: string; zone: string; test: string[] }[] = [
  { list: "zen.spamhaus.org", zone: "spamhaus.org", test: ["127.0.0.2", "127.0.0.4", "127.0.0.10"] },
  { list: "bl.spamcop.net", zone: "spamcop.net", test: ["127.0.0.2"] },
  { list: "b.barracudacentral.org", zone: "barracudacentral.org", test: ["127.0.0.2"] },
  { list: "list.dnswl.org", zone: "dnswl.org", test: ["127.0.10.0"] },
  { list: "bl.example.net", zone: "example.net", test: ["127.0.0.2"] },
];

export function labZones(hosts: readonly HostDef[] = HOSTS): string[] {
  const domains = [...new Set(hosts.map((h) => h.domain))];
  return [...new Set([...domains, ...LAB_DNSBLS.map((l) => l.zone)]), LAB_NET.reverseZone];
}

export function fqdn(h: HostDef): string {
  return `${h.name}.${h.domain}`;
}

export function findHost(name: string): HostDef {
  const h = HOSTS.find((x) => x.name === name);
  if (!h) throw new Error(`unknown lab host "${name}" (known: ${HOSTS.map((x) => x.name).join(", ")})`);
  return h;
}

/** Hosts selected by `--os` (all when the filter is empty). */
export function selectHosts(os: readonly LabOs[] | undefined): HostDef[] {
  if (!os || os.length === 0) return [...HOSTS];
  return HOSTS.filter((h) => os.includes(h.os));
}

/** The certbot vars of a lab host Pebble issues for (none for the others). Pure: unit-tested without the lab. */
export function labCertbotVars(h: HostDef, acmeDirectory: string, serverCaPem: string, rootPem: string): Record<string, unknown> {
  if (!h.certbot) return {};
  return { certbot_mode: h.certbot, certbot_server: acmeDirectory, certbot_ca_bundle: `${serverCaPem.trim()}\n${rootPem.trim()}\n` };
}
