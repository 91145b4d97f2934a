/**
 * The facts dns.ts and verify.ts read from a host over SSH, in one command:
 * its global addresses and the public halves of its DKIM keys. The parser is
 * pure (unit-tested with fixtures).
 */
import { BlockList, isIPv4, isIPv6 } from "node:net";
import { quote } from "../lib/shell.js";
import type { DkimPublicKey, HostFacts } from "./records.js";

export interface KeySpec {
  selector: string;
  algorithm: "rsa" | "ed25519";
  path: string;
}

/** One shell command printing `addr <ip/prefix>` lines and `dkim <selector> <algorithm> <base64 DER | missing>` lines. */
export function hostFactsCommand(keys: KeySpec[]): string {
  const parts = [`ip -o addr show scope global 2>/dev/null | awk '{print "addr " $4}'`];
  for (const k of keys) {
    parts.push(
      `if test -f ${quote(k.path)}; then echo "dkim ${k.selector} ${k.algorithm} $(openssl pkey -in ${quote(k.path)} -pubout -outform DER 2>/dev/null | base64 -w0)"; else echo "dkim ${k.selector} ${k.algorithm} missing"; fi`,
    );
  }
  return parts.join("; ");
}

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

export function parseHostFacts(out: string): HostFacts & { missingKeys: string[]; privateAddresses: string[] } {
  const facts = { ipv4: [] as string[], ipv6: [] as string[], dkim: [] as DkimPublicKey[], missingKeys: [] as string[], privateAddresses: [] as string[] };
  for (const line of out.split("\n")) {
    const [kind, a, b, c] = line.trim().split(/\s+/);
    if (kind === "addr" && a) {
      const ip = a.replace(/\/\d+$/, "");
      if (!isPublicAddress(ip)) facts.privateAddresses.push(ip);
      else if (isIPv4(ip)) facts.ipv4.push(ip);
      else if (isIPv6(ip)) facts.ipv6.push(ip);
    } else if (kind === "dkim" && a && (b === "rsa" || b === "ed25519")) {
      if (!c || c === "missing") facts.missingKeys.push(a);
      else facts.dkim.push({ selector: a, algorithm: b, publicKey: dkimPValue(b, c) });
    }
  }
  return facts;
}
