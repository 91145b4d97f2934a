/**
 * Certificate checks, reusable by any verify (the certbot role's, a verify
 * playbook's): the certificate served on 25 (STARTTLS), 465, 587 (STARTTLS)
 * and 993 is the one on disk, chains to a trusted root, names the mail host,
 * and is not about to expire (>14 days pass, 3..14 warn, <3 fail).
 *
 * One fact reads everything on the host (openssl s_client against 127.0.0.1:
 * the served certificate does not depend on the client's address), batched
 * with the other facts; its pure parser turns the output into pass/warn/fail
 * items with a fix.
 */
import { ref, type Fact, type FactRef } from "../../lib/facts/types.js";
import type { VerifyCheck } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";

export type CheckLevel = "pass" | "warn" | "fail";

export interface CertCheckItem {
  name: string;
  level: CheckLevel;
  detail: string;
  /** What to do when it is not a pass. */
  fix?: string;
}

export interface TlsPort {
  port: number;
  /** STARTTLS protocol for openssl s_client; none = implicit TLS. */
  starttls?: "smtp" | "imap";
  service: string;
}

/** The mail ports that serve the certificate, and who serves them. */
export const MAIL_TLS_PORTS: TlsPort[] = [
  { port: 25, starttls: "smtp", service: "postfix" },
  { port: 465, service: "postfix" },
  { port: 587, starttls: "smtp", service: "postfix" },
  { port: 993, service: "dovecot" },
];

export interface CertCheckOptions {
  /** The name clients connect to (the certificate must name it). */
  hostname: string;
  /** The certificate the services are configured with (fullchain, leaf first). */
  certPath: string;
  /** Extra trusted roots (a private CA such as Pebble), besides the system store. */
  caFile?: string;
  ports?: TlsPort[];
  /** The self-signed stand-in: while it is served, "not trusted" is a warning (no real certificate yet). */
  selfSignedPath?: string;
  /** Skip the chain check (the self-signed certificate is served by choice). */
  skipChain?: boolean;
  /** Days thresholds: fail below `failDays`, warn below `warnDays`. */
  warnDays?: number;
  failDays?: number;
}

/** The shell script that prints what the checks need (read-only). */
export function certCheckScript(o: CertCheckOptions): string {
  const ca = o.caFile ? `-CAfile ${quote(o.caFile)}` : "";
  const cert = quote(o.certPath);
  const lines = [
    `fp() { openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2; }`,
    `echo "@@disk fp=$(fp < ${cert})"`,
    `end=$(openssl x509 -in ${cert} -noout -enddate 2>/dev/null | cut -d= -f2)`,
    `echo "@@disk end=$end"`,
    `[ -n "$end" ] && echo "@@disk days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))"`,
    `echo "@@disk host=$(openssl x509 -in ${cert} -noout -checkhost ${quote(o.hostname)} 2>/dev/null | grep -c 'does match')"`,
    `echo "@@disk verify=$(openssl verify ${ca} -untrusted ${cert} ${cert} 2>&1 | tr '\\n' ' ')"`,
  ];
  if (o.selfSignedPath) lines.push(`echo "@@disk selfsigned=$(fp < ${quote(o.selfSignedPath)})"`);
  for (const p of o.ports ?? MAIL_TLS_PORTS) {
    const st = p.starttls ? `-starttls ${p.starttls} ` : "";
    lines.push(
      `out=$(timeout 15 openssl s_client -connect 127.0.0.1:${p.port} ${st}-servername ${quote(o.hostname)} ${ca} </dev/null 2>&1)`,
      `echo "@@port ${p.port} fp=$(printf '%s\\n' "$out" | fp)"`,
      `echo "@@port ${p.port} verify=$(printf '%s\\n' "$out" | grep -m1 'Verify return code' | sed 's/^ *//')"`,
    );
  }
  return lines.join("\n");
}

/** Parse the script's output and judge it. Pure. */
export function evaluateCertChecks(output: string, o: CertCheckOptions): CertCheckItem[] {
  const get = (k: string) => new RegExp(`^@@${k}=(.*)$`, "m").exec(output)?.[1]?.trim() ?? "";
  const warnDays = o.warnDays ?? 14;
  const failDays = o.failDays ?? 3;
  const items: CertCheckItem[] = [];
  const diskFp = get("disk fp");
  const selfSigned = Boolean(o.selfSignedPath) && diskFp !== "" && diskFp === get("disk selfsigned");
  if (!diskFp) {
    return [{ name: `certificate on disk (${o.certPath})`, level: "fail", detail: `${o.certPath} holds no readable certificate`, fix: "converge the tls and certbot roles again" }];
  }
  const untrusted = (what: string, detail: string): CertCheckItem => {
    if (selfSigned) {
      return { name: what, level: "warn", detail: `still the self-signed stand-in (${detail})`, fix: "no real certificate yet: see the certbot role's warning above (which DNS record or port to fix), then converge again" };
    }
    return { name: what, level: "fail", detail, fix: "the certificate must come from a CA the clients trust (certbot_server; certbot_ca_bundle for a private CA); converge again to replace it" };
  };
  for (const p of o.ports ?? MAIL_TLS_PORTS) {
    const fp = get(`port ${p.port} fp`);
    const how = p.starttls ? ` (STARTTLS)` : "";
    const name = `port ${p.port}${how} serves the certificate on disk`;
    if (!fp) items.push({ name, level: "fail", detail: `no certificate received on port ${p.port}`, fix: `is ${p.service} running and listening on ${p.port}? (systemctl status ${p.service})` });
    else if (fp !== diskFp) items.push({ name, level: "fail", detail: `port ${p.port} serves ${fp}, the disk has ${diskFp}`, fix: `systemctl reload ${p.service} (the deploy hook does this after a renewal: journalctl -t mailstead-cert)` });
    else items.push({ name, level: "pass", detail: diskFp });
    if (!o.skipChain) {
      const verify = get(`port ${p.port} verify`);
      const chainName = `port ${p.port} chain verifies to a trusted root`;
      if (/Verify return code: 0 \(ok\)/.test(verify)) items.push({ name: chainName, level: "pass", detail: verify });
      else items.push(untrusted(chainName, verify || "no TLS handshake"));
    }
  }
  const host = get("disk host");
  items.push(
    host === "1"
      ? { name: `certificate names ${o.hostname}`, level: "pass", detail: o.hostname }
      : selfSigned
        ? { name: `certificate names ${o.hostname}`, level: "warn", detail: `the self-signed stand-in names only the host, not ${o.hostname}`, fix: "get a real certificate (certbot role): it names every name the host serves" }
        : { name: `certificate names ${o.hostname}`, level: "fail", detail: `${o.certPath} does not name ${o.hostname}`, fix: "the certificate must be issued for every name the host serves (the host name, and the web names with web_enabled); converge the certbot role again" },
  );
  const daysRaw = get("disk days");
  const days = daysRaw === "" ? Number.NaN : Number(daysRaw);
  const dname = `certificate has more than ${warnDays} days left`;
  const renewFix = selfSigned
    ? "converge again to make a new self-signed one, or get a real certificate (certbot role)"
    : "renewal is not working: `systemctl status certbot.timer`, `journalctl -u certbot -t mailstead-cert`, then `certbot renew`";
  if (!Number.isFinite(days)) items.push({ name: dname, level: "fail", detail: `no end date in ${o.certPath}`, fix: renewFix });
  else if (days < failDays) items.push({ name: dname, level: "fail", detail: `${days} days left (ends ${get("disk end")})`, fix: renewFix });
  else if (days <= warnDays) items.push({ name: dname, level: "warn", detail: `${days} days left (ends ${get("disk end")})`, fix: renewFix });
  else items.push({ name: dname, level: "pass", detail: `${days} days left` });
  return items;
}

/** The served and on-disk certificates, judged: a fact like any other (read in the verify batch). */
export const certCheckFact: Fact<CertCheckItem[], CertCheckOptions> = {
  name: "tls.cert_checks",
  command: certCheckScript,
  parse: evaluateCertChecks,
};

export const certCheckRef = (o: CertCheckOptions): FactRef<CertCheckItem[]> => ref(certCheckFact, o);

/** The same fact read over a bare transport (the verify playbook, which runs no roles). */
export async function certChecks(run: (cmd: string) => Promise<{ stdout: string }>, o: CertCheckOptions): Promise<CertCheckItem[]> {
  return certCheckFact.parse((await run(certCheckFact.command(o))).stdout, o);
}

/** As verify checks: a warn item is a warning, a fail item a failure; the fix goes in the detail. */
/** The checks of the web side's 443 (webServedChecks): its days left are the mail ports' (one certificate), each named with the web name. */
export function forWebName<T extends { name: string }>(items: T[], hostname: string): T[] {
  return items.filter((i) => !/days left/.test(i.name)).map((i) => ({ ...i, name: `${i.name} (${hostname})` }));
}

export function toVerifyChecks(items: CertCheckItem[]): VerifyCheck[] {
  return items.map((i) => ({
    name: i.name,
    ok: i.level === "pass",
    ...(i.level === "warn" ? { warn: true } : {}),
    detail: i.fix ? `${i.detail} — fix: ${i.fix}` : i.detail,
  }));
}
