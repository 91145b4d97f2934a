/**
 * known_hosts handling (OpenSSH format): plain and hashed host patterns,
 * `[host]:port` for non-22 ports, `@revoked` markers. Pure functions plus a
 * small append helper, so the decision logic is unit-tested without a server.
 */
import { createHmac } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";

export interface KnownHostEntry {
  marker?: "@revoked" | "@cert-authority";
  patterns: string;
  keyType: string;
  keyBase64: string;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") marker = fields.shift() as KnownHostEntry["marker"];
    const [patterns, keyType, keyBase64] = fields;
    if (!patterns || !keyType || !keyBase64) continue;
    entries.push({ marker, patterns, keyType, keyBase64 });
  }
  return entries;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    const mac = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return mac === hash;
  }
  return globToRegExp(pattern).test(name);
}

/** Does the comma-separated pattern list match `name` (with `!negation`)? */
export function patternsMatch(patterns: string, name: string): boolean {
  let matched = false;
  for (const p of patterns.split(",")) {
    if (p.startsWith("!")) {
      if (patternMatches(p.slice(1), name)) return false;
    } else if (patternMatches(p, name)) matched = true;
  }
  return matched;
}

/** The key type named inside an SSH public key blob (first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString("ascii");
}

export type HostKeyVerdict =
  | { kind: "known" }
  | { kind: "unknown" }
  | { kind: "changed"; expectedTypes: string[] }
  | { kind: "revoked" };

/** Decide about a presented key against the entries for `name`. */
export function verifyHostKey(entries: KnownHostEntry[], name: string, blob: Buffer): HostKeyVerdict {
  const presented = blob.toString("base64");
  const mine = entries.filter((e) => e.marker !== "@cert-authority" && patternsMatch(e.patterns, name));
  if (mine.some((e) => e.marker === "@revoked" && e.keyBase64 === presented)) return { kind: "revoked" };
  const plain = mine.filter((e) => !e.marker);
  if (plain.some((e) => e.keyBase64 === presented)) return { kind: "known" };
  if (plain.length === 0) return { kind: "unknown" };
  return { kind: "changed", expectedTypes: [...new Set(plain.map((e) => e.keyType))] };
}

/** Host key algorithms to offer so the server presents a key type we know. */
export function hostKeyAlgorithmsFor(entries: KnownHostEntry[], name: string): string[] | undefined {
  const types = entries
    .filter((e) => !e.marker && patternsMatch(e.patterns, name))
    .flatMap((e) => (e.keyType === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [e.keyType]));
  return types.length ? [...new Set(types)] : undefined;
}

export function readKnownHosts(file: string): KnownHostEntry[] {
  return existsSync(file) ? parseKnownHosts(readFileSync(file, "utf8")) : [];
}

export function appendKnownHost(file: string, name: string, blob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${name} ${keyTypeOfBlob(blob)} ${blob.toString("base64")}\n`, { mode: 0o600 });
}
