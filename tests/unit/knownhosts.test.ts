/**
 * known_hosts decisions. Keys were generated with ssh-keygen; the hashed lines
 * come from `ssh-keygen -H` on a file holding the plain entries below, and
 * `ssh-keygen -F` confirmed OpenSSH itself matches each line for its name.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  appendKnownHost,
  hostKeyAlgorithmsFor,
  hostKeyName,
  keyTypeOfBlob,
  parseKnownHosts,
  patternsMatch,
  readKnownHosts,
  verifyHostKey,
} from "../../lib/transport/knownhosts.js";

const ED1 = "AAAAC3NzaC1lZDI1NTE5AAAAIK8nsm1mRmFRlijap0hrGn6iWKAPJvmC86KcEJZKWUhk";
const ED2 = "AAAAC3NzaC1lZDI1NTE5AAAAILIVqY62kWdvsQ6zUY6OVHI3iKDZ451l3EsxFy8Z5GlR";
const RSA =
  "AAAAB3NzaC1yc2EAAAADAQABAAABAQCWBiWIOrWMkumW86gpFjVswYL3zscqgCPZM6rTBhwkaMJfEoUtcOJygt5J38UDYzGwKf0UNteNfY9y8ml6Q1OelVvwR/kzbu86wNPXDMS37RKONnCmNI8SSKRg+nn03czjvMzLxf6TstYL48bw3m9VFrdRT4XVjFZsYrzE4U7YGQA8rK/uWKWJlyC7u34z+kzvfaPF4HsB/d4djcTScQKxancC2O5ZhsR/tA3U2ygb8svn+21VPZz80Wh+rMqBgh7JTMU5r2lRAKSvo+yrkyibbGVBwwcPf8/MncvpRVsUNnLSxBDU7teQ3gvbTjyw/tq5jaSKmL3kRFAIzdceivO1";
const blob = (b64: string) => Buffer.from(b64, "base64");

/** `ssh-keygen -H` of "mx1.example.test ED1" and "[mx1.example.test]:2222 ED1". */
const HASHED_22 = `|1|Z8QyA1xk7VuCS6InJ8sxRmKK3jQ=|++oD/AfksB7UWYvG+T/crPzyzgM= ssh-ed25519 ${ED1}`;
const HASHED_2222 = `|1|YAyRohPg/n39sglpkqie08b3Gw8=|z/C1x4/u7Iv+29HKIBDb81Mf16M= ssh-ed25519 ${ED1}`;

describe("parseKnownHosts", () => {
  it("skips comments, blank and short lines; reads markers", () => {
    const e = parseKnownHosts(`# comment\n\nmx1.example.test ssh-ed25519 ${ED1} root@vm\n@revoked * ssh-ed25519 ${ED2}\nbroken-line ssh-ed25519\n`);
    expect(e).toEqual([
      { marker: undefined, patterns: "mx1.example.test", keyType: "ssh-ed25519", keyBase64: ED1 },
      { marker: "@revoked", patterns: "*", keyType: "ssh-ed25519", keyBase64: ED2 },
    ]);
  });
});

describe("hostKeyName", () => {
  it("plain on 22, [host]:port otherwise", () => {
    expect(hostKeyName("198.51.100.10", 22)).toBe("198.51.100.10");
    expect(hostKeyName("198.51.100.10", 2222)).toBe("[198.51.100.10]:2222");
  });
});

describe("verifyHostKey", () => {
  it("plain entry: known; other host: unknown", () => {
    const e = parseKnownHosts(`mx1.example.test,198.51.100.10 ssh-ed25519 ${ED1}\n`);
    expect(verifyHostKey(e, "198.51.100.10", blob(ED1))).toEqual({ kind: "known" });
    expect(verifyHostKey(e, "MX1.example.test", blob(ED1))).toEqual({ kind: "known" });
    expect(verifyHostKey(e, "mx2.example.net", blob(ED1))).toEqual({ kind: "unknown" });
    expect(verifyHostKey([], "mx1.example.test", blob(ED1))).toEqual({ kind: "unknown" });
  });

  it("hashed entries (real ssh-keygen -H output) for port 22 and a non-22 port", () => {
    const e = parseKnownHosts(`${HASHED_22}\n${HASHED_2222}\n`);
    expect(verifyHostKey(e, hostKeyName("mx1.example.test", 22), blob(ED1))).toEqual({ kind: "known" });
    expect(verifyHostKey(e, hostKeyName("mx1.example.test", 2222), blob(ED1))).toEqual({ kind: "known" });
    expect(verifyHostKey(e, hostKeyName("mx1.example.test", 2200), blob(ED1))).toEqual({ kind: "unknown" });
    expect(verifyHostKey(e, "mx2.example.net", blob(ED1))).toEqual({ kind: "unknown" });
  });

  it("a [host]:port entry does not match the same host on port 22", () => {
    const e = parseKnownHosts(`[mx1.example.test]:2222 ssh-ed25519 ${ED1}\n`);
    expect(verifyHostKey(e, "mx1.example.test", blob(ED1))).toEqual({ kind: "unknown" });
  });

  // Regression test, fixed (was lib/transport/knownhosts.ts:38): globToRegExp does not escape `[` and `]`,
  // so the plain pattern `[mx1.example.test]:2222` becomes the regex character class
  // `^[mx1\.example\.test]:2222$`, which matches e.g. "m:2222" and never "[mx1.example.test]:2222".
  // Every plain (unhashed) entry for a non-22 port is reported unknown — including the
  // lines appendKnownHost itself writes. `ssh-keygen -F '[mx1.example.test]:2222'` matches it.
  it("plain [host]:port entry matches hostKeyName(host, port)", () => {
    const e = parseKnownHosts(`[mx1.example.test]:2222 ssh-ed25519 ${ED1}\n`);
    expect(verifyHostKey(e, hostKeyName("mx1.example.test", 2222), blob(ED1))).toEqual({ kind: "known" });
  });

  it("plain [host]:port pattern is not a character class", () => {
    expect(patternsMatch("[mx1.example.test]:2222", "m:2222")).toBe(false);
  });

  it("changed key → changed with the expected key types", () => {
    const e = parseKnownHosts(`mx1.example.test ssh-ed25519 ${ED1}\nmx1.example.test ssh-rsa ${RSA}\n`);
    expect(verifyHostKey(e, "mx1.example.test", blob(ED2))).toEqual({ kind: "changed", expectedTypes: ["ssh-ed25519", "ssh-rsa"] });
    // one of the known keys presented → known
    expect(verifyHostKey(e, "mx1.example.test", blob(RSA))).toEqual({ kind: "known" });
  });

  it("@revoked key is refused even when also listed as known", () => {
    const e = parseKnownHosts(`mx1.example.test ssh-ed25519 ${ED1}\n@revoked * ssh-ed25519 ${ED1}\n`);
    expect(verifyHostKey(e, "mx1.example.test", blob(ED1))).toEqual({ kind: "revoked" });
    // a revoked line alone is not a known key for the host
    const only = parseKnownHosts(`@revoked mx1.example.test ssh-ed25519 ${ED2}\n`);
    expect(verifyHostKey(only, "mx1.example.test", blob(ED1))).toEqual({ kind: "unknown" });
  });

  it("@cert-authority lines are not host keys", () => {
    const e = parseKnownHosts(`@cert-authority *.example.test ssh-ed25519 ${ED2}\n`);
    expect(verifyHostKey(e, "mx1.example.test", blob(ED2))).toEqual({ kind: "unknown" });
  });

  it("negated pattern excludes a host the wildcard would match", () => {
    const e = parseKnownHosts(`*.example.test,!mx9.example.test ssh-ed25519 ${ED1}\n`);
    expect(verifyHostKey(e, "mx1.example.test", blob(ED1))).toEqual({ kind: "known" });
    expect(verifyHostKey(e, "mx9.example.test", blob(ED1))).toEqual({ kind: "unknown" });
    expect(patternsMatch("!mx9.example.test", "mx1.example.test")).toBe(false); // negation alone never matches
    expect(patternsMatch("mx?.example.test", "mx1.example.test")).toBe(true);
    expect(patternsMatch("mx?.example.test", "mx10.example.test")).toBe(false);
  });
});

describe("hostKeyAlgorithmsFor", () => {
  it("ssh-rsa expands to the SHA-2 signature algorithms first", () => {
    const e = parseKnownHosts(`mx1.example.test ssh-rsa ${RSA}\nmx1.example.test ssh-ed25519 ${ED1}\n@revoked mx1.example.test ecdsa-sha2-nistp256 AAAA\n`);
    expect(hostKeyAlgorithmsFor(e, "mx1.example.test")).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", "ssh-ed25519"]);
    expect(hostKeyAlgorithmsFor(e, "mx2.example.net")).toBeUndefined();
  });
});

describe("keyTypeOfBlob / appendKnownHost", () => {
  it("reads the key type from the blob; appended line reads back as known", () => {
    expect(keyTypeOfBlob(blob(ED1))).toBe("ssh-ed25519");
    expect(keyTypeOfBlob(blob(RSA))).toBe("ssh-rsa");
    const file = join(mkdtempSync(join(tmpdir(), "kh-")), "sub", "known_hosts");
    appendKnownHost(file, "198.51.100.10", blob(ED1));
    expect(readFileSync(file, "utf8")).toBe(`198.51.100.10 ssh-ed25519 ${ED1}\n`);
    expect(verifyHostKey(readKnownHosts(file), "198.51.100.10", blob(ED1))).toEqual({ kind: "known" });
  });
});
