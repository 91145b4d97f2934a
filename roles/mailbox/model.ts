/**
 * The mailbox data model, shared by the postfix and dovecot roles: full
 * addresses, the alias map (RFC 2142 postmaster@/abuse@ always present), who
 * may send as which address, and per-user quotas. Pure; unit-tested.
 */
import { field } from "../../lib/text.js";
import { posix } from "node:path";
import type { mailboxDefaults } from "./defaults.js";
import type { BaseVars } from "../base/index.js";
import type { VarsOf } from "../../lib/defaults.js";

export type MailUser = MailboxVars["mailbox_users"][number];

export type MailboxVars = VarsOf<typeof mailboxDefaults> & Pick<BaseVars, "base_domain">;

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
/** An inconsistent user/alias list: which setting, which item, what to do (Role.validate reports it at load). */
export class MailboxInputError extends Error {
  constructor(readonly setting: string, readonly at: number | string | undefined, message: string, readonly fix: string) {
    super(message);
  }
}

export function buildModel(v: MailboxVars): MailModel {
  const domain = mailDomain(v);
  const at = (local: string) => (local.includes("@") ? local : `${local}@${domain}`);
  const users = v.mailbox_users;
  const names = new Set<string>();
  users.forEach((u, i) => {
    if (names.has(u.name)) throw new MailboxInputError("mailbox_users", i, `user "${u.name}" is listed twice`, "remove one of the two entries");
    names.add(u.name);
  });
  const mailboxes: Mailbox[] = users.map((u) => ({
    address: at(u.name),
    user: u.name,
    passwordHash: u.password_hash,
    quota: u.quota ?? v.mailbox_quota,
    home: posix.join(v.mailbox_root, domain, u.name),
  }));
  const aliases = new Map<string, Set<string>>();
  const add = (alias: string, target: string, setting = "mailbox_aliases") => {
    const a = at(alias);
    if (names.has(alias)) throw new MailboxInputError(setting, setting === "mailbox_aliases" ? alias : undefined, `alias "${alias}" is also a user name`, "a name is either a mailbox or an alias: remove the alias (the user already receives that address)");
    (aliases.get(a) ?? aliases.set(a, new Set()).get(a)!).add(at(target));
  };
  for (const u of users) for (const a of u.aliases ?? []) add(a, u.name, "mailbox_users");
  for (const [a, targets] of Object.entries(v.mailbox_aliases)) for (const t of targets) add(a, t);
  const postmaster = v.mailbox_postmaster || users[0]?.name;
  const known = `users: ${[...names].join(", ") || "(none)"}`;
  if (v.mailbox_postmaster && !names.has(v.mailbox_postmaster)) throw new MailboxInputError("mailbox_postmaster", undefined, `"${v.mailbox_postmaster}" is not in mailbox_users`, `name one of the ${known}`);
  if (v.mailbox_catchall && !names.has(v.mailbox_catchall)) throw new MailboxInputError("mailbox_catchall", undefined, `"${v.mailbox_catchall}" is not in mailbox_users`, `name one of the ${known}, or "" for no catch-all`);
  if (postmaster) for (const r of REQUIRED_ROLE_ADDRESSES) if (!names.has(r) && !aliases.has(at(r))) add(r, postmaster);
  for (const [a, t] of aliases) {
    for (const target of t) {
      const local = target.endsWith(`@${domain}`) ? target.slice(0, -domain.length - 1) : undefined;
      if (local !== undefined && !names.has(local) && !aliases.has(target)) throw new MailboxInputError("mailbox_aliases", a.slice(0, -domain.length - 1), `alias ${a} points to ${target}, which is neither a user nor an alias`, `point it at one of the ${known}, or at an outside address`);
    }
  }
  // An alias that leads back to itself never reaches a mailbox (Postfix bounces it after its recursion limit).
  const state = new Map<string, "open" | "done">();
  const visit = (a: string, path: string[]): void => {
    if (state.get(a) === "done") return;
    if (state.get(a) === "open") throw new MailboxInputError("mailbox_aliases", path[0]!.split("@")[0], `aliases form a loop: ${[...path, a].join(" -> ")}`, "make one of them point at a user");
    state.set(a, "open");
    for (const t of aliases.get(a) ?? []) if (aliases.has(t)) visit(t, [...path, a]);
    state.set(a, "done");
  };
  for (const a of aliases.keys()) visit(a, []);
  const sorted = [...aliases].map(([a, t]) => [a, [...t].sort()] as [string, string[]]).sort((x, y) => x[0].localeCompare(y[0]));
  // Who may send as an address: its own user, and for aliases every local user it delivers to.
  const logins = new Map<string, Set<string>>();
  for (const m of mailboxes) logins.set(m.address, new Set([m.address]));
  const boxAddresses = new Set(mailboxes.map((m) => m.address));
  for (const [a, targets] of sorted) {
    const owners = targets.filter((t) => boxAddresses.has(t));
    if (owners.length) logins.set(a, new Set(owners));
  }
  // mailbox_send_as: extra senders per user (Postfix looks up user@domain, then @domain).
  for (const [user, senders] of Object.entries(v.mailbox_send_as ?? {})) {
    if (!names.has(user)) throw new MailboxInputError("mailbox_send_as", user, `"${user}" is not in mailbox_users`, `use one of the ${known}`);
    for (const s of senders) (logins.get(s) ?? logins.set(s, new Set()).get(s)!).add(at(user));
  }
  const senderLogins = [...logins].map(([a, s]) => [a, [...s].sort()] as [string, string[]]).sort((x, y) => x[0].localeCompare(y[0]));
  return { domain, mailboxes, aliases: sorted, senderLogins, catchall: v.mailbox_catchall ? at(v.mailbox_catchall) : "" };
}

/** Postfix lookup-table text ("key value" lines) with a header comment. */
export function postfixTable(header: string, rows: [string, string][]): string {
  return `# ${header}\n# Managed by mailstead (generated from the inventory); edits are overwritten.\n${rows.map(([k, val]) => `${field(k, `a key of ${header.split(":")[0]}`, /\s/)} ${field(val, `a value of ${header.split(":")[0]}`, /\s/)}`).join("\n")}${rows.length ? "\n" : ""}`;
}
