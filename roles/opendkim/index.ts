/**
 * The opendkim role: OpenDKIM signs the domain's outgoing mail (submission
 * 587/465 and mail made on the host) and checks DKIM signatures of mail
 * received on port 25 (one daemon, `Mode sv`; the verdict goes into an
 * Authentication-Results header that OpenDMARC reads).
 *
 * The RSA 2048 key (RFC 8301; RFC 8463 Ed25519 optional) is generated once on
 * the host with openssl and never regenerated: the step only runs when the key
 * file is missing. Its public half is published by playbooks/dns.ts.
 */
import { derived } from "../derived.js";
import { fileStat } from "../../lib/facts/files.js";
import { posix } from "node:path";
import { commandOutput, isLoopback, listeningSockets, systemdUnit, tcpListeners } from "../../lib/facts/system.js";
import { ref } from "../../lib/facts/types.js";
import { apt, command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import { mailDomain, type MailboxVars } from "../mailbox/model.js";
import { opendkimDefaults } from "./defaults.js";
import type { BaseVars } from "../base/index.js";
import type { VarsOf } from "../../lib/defaults.js";

export type OpendkimVars = VarsOf<typeof opendkimDefaults> & Pick<BaseVars, "base_hostname" | "base_domain"> & Pick<MailboxVars, "mailbox_domain">;

export const OPENDKIM_DIR = "/etc/opendkim";
export const OPENDKIM_KEYS = `${OPENDKIM_DIR}/keys`;

/** Where the private key of a selector lives: /etc/opendkim/keys/<domain>/<selector>.private. */
export function dkimKeyPath(domain: string, selector: string): string {
  return posix.join(OPENDKIM_KEYS, domain, `${selector}.private`);
}

/** Every key the host signs with: RSA always, Ed25519 when enabled. */
export interface DkimKey {
  name: string;
  algorithm: "rsa" | "ed25519";
  selector: string;
  /** The file OpenDKIM signs with (KeyTable). */
  path: string;
  /** A PEM copy the public half is read from (the same file for RSA). */
  pem: string;
}

export function dkimKeys(v: OpendkimVars): DkimKey[] {
  const domain = mailDomain(v);
  const rsa = dkimKeyPath(domain, v.opendkim_selector);
  const keys: DkimKey[] = [{ name: "rsa", algorithm: "rsa", selector: v.opendkim_selector, path: rsa, pem: rsa }];
  if (v.opendkim_ed25519) {
    const ed = dkimKeyPath(domain, v.opendkim_ed25519_selector);
    keys.push({ name: "ed25519", algorithm: "ed25519", selector: v.opendkim_ed25519_selector, path: ed, pem: ed.replace(/\.private$/, ".pem") });
  }
  return keys;
}

/** The nameserver lines of /etc/resolv.conf. */
export function parseResolvConf(text: string): string[] {
  return text.split("\n").map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => Boolean(x));
}

const resolvConf = ref(commandOutput, "cat /etc/resolv.conf 2>/dev/null || true");

/**
 * Generate a private key in a root-only temporary directory (mktemp -d, umask 077), then
 * `install -m 600 -o opendkim` it beside its final name and rename it into place. The keys
 * directory belongs to opendkim, so nothing in it is followed: install unlinks an existing
 * `.tmp` (a planted symlink included) and creates the file anew, and rename(2) replaces a
 * link at the final name instead of writing through it. No chown or chmod ever runs on a
 * path in that directory.
 * RSA: PEM, as OpenDKIM reads it. Ed25519: OpenDKIM wants the raw 32-byte seed in base64
 * (the tail of the PKCS#8 DER); the PEM is kept beside it for reading the public half.
 */
export function genKey(k: DkimKey): string {
  const q = (p: string) => quote(p);
  const put = (tmpName: string, dest: string) =>
    `install -m 600 -o opendkim -g opendkim "$t"/${tmpName} ${q(`${dest}.tmp`)} && mv -f -T ${q(`${dest}.tmp`)} ${q(dest)}`;
  const start = `umask 077 && t=$(mktemp -d) && trap 'rm -rf "$t"' EXIT`;
  if (k.algorithm === "rsa") {
    return [start, `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$t"/key 2>&1`, put("key", k.path)].join(" && ");
  }
  return [
    start,
    `openssl genpkey -algorithm ed25519 -out "$t"/pem 2>&1`,
    `openssl pkey -in "$t"/pem -outform DER | tail -c 32 | base64 -w0 > "$t"/key`,
    put("pem", k.pem),
    put("key", k.path),
  ].join(" && ");
}

export function opendkimTemplateVars(v: OpendkimVars, resolv: string) {
  const domain = mailDomain(v);
  const ns = v.opendkim_nameservers.length ? v.opendkim_nameservers : parseResolvConf(resolv);
  return {
    fqdn: derived(v).fqdn,
    mail_domain: domain,
    keys: dkimKeys(v),
    multiple: v.opendkim_ed25519,
    nameservers: ns.join(","),
    unbound_conf: v.opendkim_unbound_nodefault_zones.length ? `${OPENDKIM_DIR}/unbound.conf` : "",
    nodefault_zones: v.opendkim_unbound_nodefault_zones,
  };
}

/** What the opendkim role's verify reads: the unit, the listeners, the signing key's file and its size. */
function opendkimVerifyFacts(v: OpendkimVars) {
  const key = dkimKeys(v)[0]!.path;
  return {
    unit: ref(systemdUnit, "opendkim"),
    sockets: ref(listeningSockets, undefined),
    key: ref(fileStat, key),
    bits: ref(commandOutput, `openssl pkey -in ${quote(key)} -noout -text 2>/dev/null | head -n1`),
  };
}

export const opendkim = defineRole<OpendkimVars>({
  name: "opendkim",
  settings: opendkimDefaults,
  switch: {
    setting: "opendkim_enabled",
    off: () => [{ title: "Stop OpenDKIM (opendkim_enabled is false)", action: command({ run: "systemctl disable --now opendkim", onlyIf: "systemctl is-enabled -q opendkim" }) }],
  },
  state: (v) => (v.opendkim_enabled ? [{ path: OPENDKIM_KEYS, what: "the DKIM private keys (published in DNS: a new key means a new DNS record)", secret: true }] : []),
  facts: () => [resolvConf],
  validate(v) {
    // Measured in the lab: Debian 12's and 13's OpenDKIM (2.11.0~beta2) signs every key with its one
    // SignatureAlgorithm (rsa-sha256); with an Ed25519 key in the KeyTable every submission got
    // "451 4.7.0 resource unavailable" (EVP_PKEY_get1_RSA / d2i_PrivateKey_bio failed). Refuse
    // before anything changes rather than stop outgoing mail.
    if (!v.opendkim_enabled || !v.opendkim_ed25519) return [];
    return [{
      setting: "opendkim_ed25519",
      message: "Debian's OpenDKIM 2.11.0~beta2 signs every key with one algorithm (rsa-sha256): an Ed25519 key would make every signature fail (451)",
      fix: "set opendkim_ed25519: false; the RSA 2048 signature is what receivers check",
    }];
  },
  steps(ctx) {
    const v = ctx.vars;
    const tv = opendkimTemplateVars(v, ctx.fact(resolvConf));
    const domainDir = posix.join(OPENDKIM_KEYS, tv.mail_domain);
    return [
      { title: "Install OpenDKIM", action: apt.packages({ present: ["opendkim", "openssl"] }) },
      { title: `Create ${OPENDKIM_DIR}`, action: directory({ path: OPENDKIM_DIR, mode: "0755" }) },
      { title: `Create ${OPENDKIM_KEYS}`, action: directory({ path: OPENDKIM_KEYS, owner: "opendkim", group: "opendkim", mode: "0700" }) },
      { title: `Create ${domainDir}`, action: directory({ path: domainDir, owner: "opendkim", group: "opendkim", mode: "0700" }) },
      ...tv.keys.map((k) => ({
        title: `Generate the ${k.algorithm === "rsa" ? "RSA 2048" : "Ed25519"} DKIM key (selector ${k.selector}; once, never replaced)`,
        action: command({ run: genKey(k), creates: k.path }),
        notify: "restart opendkim",
      })),
      { title: "Write the DKIM key table", action: file({ path: `${OPENDKIM_DIR}/key.table`, content: ctx.template("key.table", tv) }), notify: "restart opendkim" },
      { title: "Write the DKIM signing table", action: file({ path: `${OPENDKIM_DIR}/signing.table`, content: ctx.template("signing.table", tv) }), notify: "restart opendkim" },
      {
        title: "Write OpenDKIM's resolver configuration",
        action: file({ path: `${OPENDKIM_DIR}/unbound.conf`, content: ctx.template("unbound.conf", tv) }),
        when: tv.unbound_conf !== "",
        notify: "restart opendkim",
      },
      { title: "Write the hosts whose mail is signed", action: file({ path: `${OPENDKIM_DIR}/trusted.hosts`, content: ctx.template("trusted.hosts", tv) }), notify: "restart opendkim" },
      {
        title: "Render /etc/opendkim.conf",
        action: file({ path: "/etc/opendkim.conf", content: ctx.template("opendkim.conf", { ...tv, opendkim_port: v.opendkim_port }), validate: "opendkim -n -x %s" }),
        notify: "restart opendkim",
      },
      { title: "Run OpenDKIM", action: systemd.service({ name: "opendkim", enabled: true, running: true }) },
    ];
  },
  handlers: () => [{ name: "restart opendkim", action: systemd.service({ name: "opendkim", restarted: true }) }],
  verifyFacts: (v) => Object.values(opendkimVerifyFacts(v)),
  verify(ctx) {
    const v = ctx.vars;
    const f = opendkimVerifyFacts(v);
    const active = ctx.fact(f.unit).active;
    const on = tcpListeners(ctx.fact(f.sockets), v.opendkim_port);
    const st = ctx.fact(f.key);
    const bits = ctx.fact(f.bits);
    const mode = st ? `${st.mode} ${st.owner}` : "missing";
    return [
      { name: "opendkim is running", ok: active === "active", detail: `opendkim is ${active}` },
      { name: `opendkim listens on localhost:${v.opendkim_port} only`, ok: on.length > 0 && on.every(isLoopback), detail: `listening: ${on.join(" ") || "nothing"}` },
      { name: "the DKIM key is RSA 2048", ok: /2048 bit/.test(bits), detail: bits },
      { name: "the DKIM key is 0600 opendkim", ok: mode === "0600 opendkim", detail: mode },
    ];
  },
});
