/**
 * The mailbox data model, shared by the postfix and dovecot roles: full
 * addresses, the alias map (RFC 2142 postmaster@/abuse@ always present), who
 * may send as which address, and per-user quotas. Pure; unit-tested.
 */
import { posix } from "node:path";

export interface MailUser {
  name: string;
  password_hash: string;
  quota?: string;
  aliases?: string[];
}

export interface MailboxVars {
  base_domain: string;
  mailbox_domain: string;
  mailbox_users: MailUser[];
  mailbox_aliases: Record<string, string[]>;
  mailbox_catchall: string;
  mailbox_send_as: Record<string, string[]>;
  mailbox_postmaster: string;
  mailbox_quota: string;
  mailbox_quota_grace: string;
  mailbox_quota_warning_percent: number;
  mailbox_root: string;
  mailbox_vmail_user: string;
  mailbox_vmail_uid: number;
}

export interface Mailbox {
  address: string;
  user: string;
  passwordHash: string;
  quota: string;
  home: string;
}

export interface MailModel {
  domain: string;
  mailboxes: Mailbox[];
  /** alias address -> target addresses (sorted, deterministic). */
  aliases: [string, string[]][];
  /** address (or @domain) -> login names allowed to use it as sender. */
  senderLogins: [string, string[]][];
  /** Catch-all target address, or "". */
  catchall: string;
}

/** Reserved local parts that must always reach someone (RFC 2142 §4, RFC 5321 §4.5.1). */
export const REQUIRED_ROLE_ADDRESSES = ["postmaster", "abuse"];

export function mailDomain(v: Pick<MailboxVars, "mailbox_domain" | "base_domain">): string {
  return v.mailbox_domain || v.base_domain;
}

/** Dovecot quota sizes: 1G, 500M, 1024 (bytes). */
export function quotaBytes(q: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(q);
  if (!m) throw new Error(`bad quota ${q}`);
  const mult = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2] as "" | "K" | "M" | "G" | "T"];
  return Number(m[1]) * mult;
}

export function buildModel(v: MailboxVars): MailModel {
  const domain = mailDomain(v);
  const at = (local: string) => (local.includes("@") ? local : `${local}@${domain}`);
  const users = v.mailbox_users;
  const names = new Set<string>();
  for (const u of users) {
    if (names.has(u.name)) throw new Error(`mailbox_users: user "${u.name}" is listed twice`);
    names.add(u.name);
  }
  const mailboxes: Mailbox[] = users.map((u) => ({
    address: at(u.name),
    user: u.name,
    passwordHash: u.password_hash,
    quota: u.quota ?? v.mailbox_quota,
    home: posix.join(v.mailbox_root, domain, u.name),
  }));
  const aliases = new Map<string, Set<string>>();
  const add = (alias: string, target: string) => {
    const a = at(alias);
    if (names.has(alias)) throw new Error(`alias "${alias}" is also a user name`);
    (aliases.get(a) ?? aliases.set(a, new Set()).get(a)!).add(at(target));
  };
  for (const u of users) for (const a of u.aliases ?? []) add(a, u.name);
  for (const [a, targets] of Object.entries(v.mailbox_aliases)) for (const t of targets) add(a, t);
  const postmaster = v.mailbox_postmaster || users[0]?.name;
  if (v.mailbox_postmaster && !names.has(v.mailbox_postmaster)) throw new Error(`mailbox_postmaster "${v.mailbox_postmaster}" is not in mailbox_users`);
  if (v.mailbox_catchall && !names.has(v.mailbox_catchall)) throw new Error(`mailbox_catchall "${v.mailbox_catchall}" is not in mailbox_users`);
  if (postmaster) for (const r of REQUIRED_ROLE_ADDRESSES) if (!names.has(r) && !aliases.has(at(r))) add(r, postmaster);
  for (const [a, t] of aliases) {
    for (const target of t) {
      const local = target.endsWith(`@${domain}`) ? target.slice(0, -domain.length - 1) : undefined;
      if (local !== undefined && !names.has(local) && !aliases.has(target)) throw new Error(`alias ${a} points to ${target}, which is neither a user nor an alias`);
    }
  }
  const sorted = [...aliases].map(([a, t]) => [a, [...t].sort()] as [string, string[]]).sort((x, y) => x[0].localeCompare(y[0]));
  // Who may send as an address: its own user, and for aliases every local user it delivers to.
  const logins = new Map<string, Set<string>>();
  for (const m of mailboxes) logins.set(m.address, new Set([m.address]));
  for (const [a, targets] of sorted) {
    const owners = targets.filter((t) => mailboxes.some((m) => m.address === t));
    if (owners.length) logins.set(a, new Set(owners));
  }
  // mailbox_send_as: extra senders per user (Postfix looks up user@domain, then @domain).
  for (const [user, senders] of Object.entries(v.mailbox_send_as ?? {})) {
    if (!names.has(user)) throw new Error(`mailbox_send_as: "${user}" is not in mailbox_users`);
    for (const s of senders) (logins.get(s) ?? logins.set(s, new Set()).get(s)!).add(at(user));
  }
  const senderLogins = [...logins].map(([a, s]) => [a, [...s].sort()] as [string, string[]]).sort((x, y) => x[0].localeCompare(y[0]));
  return { domain, mailboxes, aliases: sorted, senderLogins, catchall: v.mailbox_catchall ? at(v.mailbox_catchall) : "" };
}

/** Postfix lookup-table text ("key value" lines) with a header comment. */
export function postfixTable(header: string, rows: [string, string][]): string {
  return `# ${header}\n# Managed by mailstead (generated from the inventory); edits are overwritten.\n${rows.map(([k, val]) => `${k} ${val}`).join("\n")}${rows.length ? "\n" : ""}`;
}
