/**
 * The relay role: credentials for the smarthost that Postfix sends all
 * outbound mail through when relay_enabled (main.cf's relayhost section is in
 * the postfix role's template). Mandatory TLS and SASL; the password file is
 * root-only and never shown.
 */
import { ref, type Fact, type FactRef } from "../../lib/facts/types.js";
import { fileStat } from "../../lib/facts/files.js";
import { apt, command, directory, file } from "../../lib/operations/index.js";
import { defineRole, type VerifyCheck } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import { relayDefaults, type RelayVars } from "./defaults.js";

export const SASL_PASSWD = "/etc/postfix/sasl_passwd";
/** The CA file Postfix verifies the relay's certificate with (relay_tls_ca, or Debian's system store). */
export const RELAY_CA = "/etc/postfix/relay-ca.pem";
export const SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt";
export const relayCaFile = (v: { relay_tls_ca: string }) => (v.relay_tls_ca ? RELAY_CA : SYSTEM_CA);

/** What the relay check needs: the relay and the CA file Postfix trusts for it. */
export interface RelayTlsArgs {
  host: string;
  port: number;
  ca: string;
}

/**
 * The relay's certificate, checked as Postfix checks it (same CA file, level
 * secure, the name relay_host): a fact the postfix role's verify reads, once
 * main.cf names the relay. A failure says what to set.
 */
export const relayTlsFact: Fact<VerifyCheck, RelayTlsArgs> = {
  name: "relay.tls",
  command: (a) => `timeout 30 posttls-finger -c -l secure -F ${quote(a.ca)} ${a.port === 465 ? "-w " : ""}${quote(`[${a.host}]:${a.port}`)} nexthop 2>&1 | head -n 40`,
  parse(out, a) {
    const verified = /Verified TLS connection established/.test(out);
    const said = out.split("\n").filter((l) => /certificate|verif|TLS|error|refused|timed out/i.test(l)).slice(0, 4).join(" | ");
    return {
      name: "the relay's certificate verifies (name and chain)",
      ok: verified,
      detail: verified
        ? `${a.host}:${a.port}: verified with ${a.ca}`
        : `${a.host}:${a.port} did not present a certificate that verifies with ${a.ca} for the name ${a.host}: mail is deferred until it does (a man in the middle would get the relay password otherwise). If the relay is yours with a private CA, put its CA in relay_tls_ca. posttls-finger said: ${said}`,
    };
  },
};

export const relayTlsRef = (v: RelayVars): FactRef<VerifyCheck> => ref(relayTlsFact, { host: v.relay_host, port: v.relay_port, ca: relayCaFile(v) });

export const relay = defineRole<RelayVars>({
  name: "relay",
  settings: relayDefaults,
  // Off: mail goes out directly (the postfix role drops relayhost) and the password file is emptied.
  switch: {
    setting: "relay_enabled",
    off: () => [
      { title: "Create /etc/postfix", action: directory({ path: "/etc/postfix", mode: "0755" }) },
      {
        title: `Empty ${SASL_PASSWD} (relay_enabled is false)`,
        action: file({ path: SASL_PASSWD, content: "# Managed by mailstead (relay role): relay_enabled is false.\n", owner: "root", group: "root", mode: "0600", sensitive: true }),
        sensitive: true,
      },
    ],
  },
  validate(v) {
    if (!v.relay_enabled) return [];
    const missing = (["relay_host", "relay_username", "relay_password"] as const).filter((k) => !v[k]);
    return missing.map((k) => ({
      setting: k,
      message: `relay_enabled is true but ${k}${k === "relay_password" ? " (a secret)" : ""} is empty`,
      fix: k === "relay_password" ? "put relay_password in the secrets file (or MAILSTEAD_SECRET_RELAY_PASSWORD), or set relay_enabled: false" : `set ${k}, or relay_enabled: false`,
    }));
  },
  steps(ctx) {
    const v = ctx.vars;
    const content = `# Managed by mailstead (relay role).\n[${v.relay_host}]:${v.relay_port} ${v.relay_username}:${v.relay_password}\n`;
    return [
      // The relay role runs before the postfix role (so main.cf never names a missing file); the package fills this directory later.
      { title: "Create /etc/postfix", action: directory({ path: "/etc/postfix", mode: "0755" }) },
      // Cyrus SASL client mechanisms (PLAIN, LOGIN) for Postfix's smtp client.
      { title: "Install SASL client mechanisms", action: apt.packages({ present: ["libsasl2-modules"] }) },
      {
        title: `Write ${RELAY_CA} (the CAs the relay's certificate must chain to)`,
        action: file({ path: RELAY_CA, content: v.relay_tls_ca.endsWith("\n") ? v.relay_tls_ca : `${v.relay_tls_ca}\n`, mode: "0644" }),
        when: v.relay_tls_ca !== "",
        notify: "reload postfix",
      },
      {
        title: `Write ${SASL_PASSWD}`,
        action: file({ path: SASL_PASSWD, content, owner: "root", group: "root", mode: "0600", sensitive: true }),
        sensitive: true,
        notify: "reload postfix",
      },
    ];
  },
  handlers: () => [{ name: "reload postfix", action: command({ run: "systemctl reload postfix", onlyIf: "systemctl is-active -q postfix" }) }],
  // relayhost and the TLS/SASL policy are in main.cf, which the postfix role renders after
  // this role: the postfix role's verify checks them. This one checks what it owns.
  verifyFacts: () => [ref(fileStat, SASL_PASSWD)],
  verify(ctx) {
    const st = ctx.fact(ref(fileStat, SASL_PASSWD));
    const got = st ? `${st.mode} ${st.owner}` : "missing";
    return [{ name: "relay password file is 0600 root", ok: got === "0600 root", detail: got }];
  },
});
