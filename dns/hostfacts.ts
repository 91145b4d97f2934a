/**
 * The facts dns.ts and verify.ts read from a host, as engine facts (lib/facts),
 * gathered in one round trip like a role's: its global addresses and the
 * public halves of its DKIM keys. Parsers are pure (unit-tested).
 */
import { BlockList, isIPv4, isIPv6 } from "node:net";
import type { Fact } from "../lib/facts/types.js";
import { quote } from "../lib/shell.js";
import type { DkimPublicKey, HostFacts } from "./records.js";

export interface KeySpec {
  selector: string;
  algorithm: "rsa" | "ed25519";
  path: string;
}

export interface HostAddresses {
  ipv4: string[];
  ipv6: string[];
  /** Private, CGNAT, link-local addresses the host has (never published: NAT needs dns_public_*). */
  privateAddresses: string[];
}

/** The host's global addresses (`ip -o addr show scope global`), split into public v4/v6 and the rest. */
export const hostAddresses: Fact<HostAddresses> = {
  name: "net.addresses",
  command: () => `ip -o addr show scope global 2>/dev/null | awk '{print $4}'`,
  parse(stdout) {
    const out: HostAddresses = { ipv4: [], ipv6: [], privateAddresses: [] };
    for (const line of stdout.split("\n")) {
      const ip = line.trim().replace(/\/\d+$/, "");
      if (!ip) continue;
      if (!isPublicAddress(ip)) out.privateAddresses.push(ip);
      else if (isIPv4(ip)) out.ipv4.push(ip);
      else if (isIPv6(ip)) out.ipv6.push(ip);
    }
    return out;
  },
};

/** The public half of a private key file, SubjectPublicKeyInfo DER in base64; null when the file is missing. */
export const publicKeyDer: Fact<string | null, string> = {
  name: "key.public_der",
  command: (path) => `if test -f ${quote(path)}; then openssl pkey -in ${quote(path)} -pubout -outform DER 2>/dev/null | base64 -w0; else echo missing; fi`,
  parse: (stdout) => (stdout.trim() === "missing" || stdout.trim() === "" ? null : stdout.trim()),
};

const notPublic = new BlockList();
for (const [net, len] of [["10.0.0.0", 8], ["172.16.0.0", 12], ["192.168.0.0", 16], ["100.64.0.0", 10], ["169.254.0.0", 16], ["127.0.0.0", 8]] as const) notPublic.addSubnet(net, len, "ipv4");
for (const [net, len] of [["fc00::", 7], ["fe80::", 10], ["::1", 128]] as const) notPublic.addSubnet(net, len, "ipv6");

/** Private, shared (CGNAT), link-local and loopback addresses are never published. */
export function isPublicAddress(ip: string): boolean {
  if (isIPv4(ip)) return !notPublic.check(ip, "ipv4");
  if (isIPv6(ip)) return !notPublic.check(ip, "ipv6");
  return false;
}

/** The p= value of a DKIM record from the SubjectPublicKeyInfo DER (base64). */
export function dkimPValue(algorithm: "rsa" | "ed25519", spkiBase64: string): string {
  if (algorithm === "rsa") return spkiBase64;
  // RFC 8463 §4.2: the raw 32-byte Ed25519 key, the tail of its 44-byte SPKI.
  return Buffer.from(spkiBase64, "base64").subarray(-32).toString("base64");
}

/** The records' host facts from the gathered facts: public addresses and the DKIM p= values (and what is missing). */
export function hostFacts(addresses: HostAddresses, keys: (KeySpec & { der: string | null })[]): HostFacts & { missingKeys: string[]; privateAddresses: string[] } {
  return {
    ipv4: addresses.ipv4,
    ipv6: addresses.ipv6,
    privateAddresses: addresses.privateAddresses,
    dkim: keys.filter((k) => k.der !== null).map((k) => ({ selector: k.selector, algorithm: k.algorithm, publicKey: dkimPValue(k.algorithm, k.der!) })),
    missingKeys: keys.filter((k) => k.der === null).map((k) => k.selector),
  };
}
