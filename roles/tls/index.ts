/**
 * The tls role: one certificate for every mail service, at stable paths.
 *
 *   <tls_dir>/fullchain.pem -> selfsigned/fullchain.pem
 *   <tls_dir>/privkey.pem   -> selfsigned/privkey.pem
 *
 * Until a real certificate exists, a self-signed ECDSA P-256 one is made on
 * the host (once; never regenerated). A later certificate role re-points the
 * two symlinks (e.g. to /etc/letsencrypt/live/<name>/...) and reloads the
 * services: Postfix and Dovecot only ever name the stable paths. This role
 * creates the links only when they are missing, so it never undoes that.
 */
import { derived } from "../derived.js";
import { posix } from "node:path";
import { fileStat } from "../../lib/facts/files.js";
import { commandOutput, commandStatus } from "../../lib/facts/system.js";
import { ref } from "../../lib/facts/types.js";
import { command, directory, symlink } from "../../lib/operations/index.js";
import { defineRole } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import { tlsDefaults } from "./defaults.js";
import type { BaseVars } from "../base/index.js";
import type { VarsOf } from "../../lib/defaults.js";

export type TlsVars = VarsOf<typeof tlsDefaults> & Pick<BaseVars, "base_hostname" | "base_domain">;

export const tlsPaths = (dir: string) => ({
  fullchain: posix.join(dir, "fullchain.pem"),
  privkey: posix.join(dir, "privkey.pem"),
  selfsignedDir: posix.join(dir, "selfsigned"),
});

/** What the tls role's verify reads: validity, and the public key of the certificate and of the key (their sha256). */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function tlsVerifyFacts(v: TlsVars) {
  const p = tlsPaths(v.tls_dir);
  return {
    valid: ref(commandStatus, `openssl x509 -noout -checkend 0 -in ${quote(p.fullchain)}`),
    key: ref(commandOutput, `openssl pkey -in ${quote(p.privkey)} -pubout 2>/dev/null | sha256sum`),
    certKey: ref(commandOutput, `openssl x509 -in ${quote(p.fullchain)} -pubkey -noout 2>/dev/null | sha256sum`),
  };
}

export const tls = defineRole<TlsVars>({
  name: "tls",
  settings: tlsDefaults,
  state: (v) => [{ path: v.tls_dir, what: "the certificate and its private key (the links and the self-signed fallback)", secret: true }],
  facts: (v) => [ref(fileStat, tlsPaths(v.tls_dir).fullchain), ref(fileStat, tlsPaths(v.tls_dir).privkey)],
  steps(ctx) {
    const v = ctx.vars;
    const p = tlsPaths(v.tls_dir);
    const fqdn = derived(v).fqdn;
    const ss = p.selfsignedDir;
    const key = posix.join(ss, "privkey.pem");
    const crt = posix.join(ss, "fullchain.pem");
    // The key is written under umask 077 and renamed into place only when complete.
    const gen = [
      `umask 077`,
      `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days ${v.tls_selfsigned_days} ` +
        `-subj ${quote(`/CN=${fqdn}`)} -addext ${quote(`subjectAltName=DNS:${fqdn}`)} ` +
        `-keyout ${quote(`${key}.tmp`)} -out ${quote(`${crt}.tmp`)} 2>&1`,
      `chmod 0644 ${quote(`${crt}.tmp`)}`,
      `mv -f ${quote(`${crt}.tmp`)} ${quote(crt)}`,
      `mv -f ${quote(`${key}.tmp`)} ${quote(key)}`,
    ].join(" && ");
    const missing = (path: string) => ctx.fact(ref(fileStat, path)) === null;
    return [
      { title: `Create ${v.tls_dir}`, action: directory({ path: v.tls_dir, mode: "0755" }) },
      { title: `Create ${ss}`, action: directory({ path: ss, mode: "0700" }) },
      { title: "Generate the self-signed ECDSA P-256 certificate", action: command({ run: gen, creates: key }), sensitive: false },
      { title: `Link ${p.fullchain}`, action: symlink({ path: p.fullchain, target: "selfsigned/fullchain.pem" }), when: missing(p.fullchain) },
      { title: `Link ${p.privkey}`, action: symlink({ path: p.privkey, target: "selfsigned/privkey.pem" }), when: missing(p.privkey) },
    ];
  },
  verifyFacts: (v) => Object.values(tlsVerifyFacts(v)),
  verify(ctx) {
    const f = tlsVerifyFacts(ctx.vars);
    const certKey = ctx.fact(f.certKey);
    const key = ctx.fact(f.key);
    return [
      { name: "certificate present and not expired", ok: ctx.fact(f.valid) === 0, detail: `${tlsPaths(ctx.vars.tls_dir).fullchain} is missing or expired` },
      // sha256 of nothing (e3b0c442...): openssl printed no key at all.
      { name: "private key matches the certificate", ok: !certKey.startsWith(EMPTY_SHA256) && certKey === key, detail: "public keys differ (or are missing)" },
    ];
  },
});
