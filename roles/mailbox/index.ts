/**
 * The mailbox role: the vmail system user that owns all mail and the single
 * Maildir root (<mailbox_root>/<domain>/<user>/Maildir). Users, aliases and
 * quotas are data (roles/mailbox/model.ts) rendered by the dovecot and
 * postfix roles. Mail of removed users is never deleted.
 */
import { ref } from "../../lib/facts/types.js";
import { fileStat } from "../../lib/facts/files.js";
import { directory, group, user } from "../../lib/operations/index.js";
import { defineRole } from "../../lib/role.js";
import { mailboxDefaults } from "./defaults.js";
import { buildModel, mailDomain, MailboxInputError, type MailboxVars } from "./model.js";
import { posix } from "node:path";

const ROOT_MODE = "2750";

export const mailbox = defineRole<MailboxVars>({
  name: "mailbox",
  settings: mailboxDefaults,
  state: (v) => [{ path: v.mailbox_root, what: "every mailbox (Maildir) and each user's Sieve scripts" }],
  validate(v, ctx) {
    const out = [];
    try {
      buildModel(v);
    } catch (e) {
      if (!(e instanceof MailboxInputError)) throw e;
      out.push({ setting: e.setting, ...(e.at !== undefined ? { at: e.at } : {}), message: e.message, fix: e.fix });
    }
    if (v.mailbox_vmail_user === ctx.loginUser) {
      out.push({ setting: "mailbox_vmail_user", message: `is the account mailstead logs in as ("${ctx.loginUser}")`, fix: "keep the default vmail: the mail owner must be an account of its own" });
    }
    return out;
  },
  steps(ctx) {
    const v = ctx.vars;
    const vm = v.mailbox_vmail_user;
    return [
      { title: `Create group ${vm}`, action: group({ name: vm, gid: v.mailbox_vmail_uid, system: true }) },
      {
        title: `Create user ${vm}`,
        action: user({ name: vm, uid: v.mailbox_vmail_uid, group: vm, system: true, home: v.mailbox_root, shell: "/usr/sbin/nologin", comment: "mailstead virtual mail", refuseLoginAccount: true }),
      },
      // 0750: only vmail (and root) can read mail; Dovecot switches to vmail for every mailbox access.
      // The setgid bit is Debian's, inherited from /var/mail (2775 root:mail), and GNU chmod keeps it
      // on directories; stating it keeps the step idempotent. The group is vmail, so it grants nothing.
      { title: `Create ${v.mailbox_root}`, action: directory({ path: v.mailbox_root, owner: vm, group: vm, mode: ROOT_MODE }) },
      { title: `Create ${posix.join(v.mailbox_root, mailDomain(v))}`, action: directory({ path: posix.join(v.mailbox_root, mailDomain(v)), owner: vm, group: vm, mode: ROOT_MODE }) },
    ];
  },
  verifyFacts: (v) => [ref(fileStat, v.mailbox_root)],
  verify(ctx) {
    const v = ctx.vars;
    const st = ctx.fact(ref(fileStat, v.mailbox_root));
    const got = st ? `${st.type} ${st.owner} ${st.mode}` : "missing";
    return [{ name: "Maildir root owned by vmail, not world-readable", ok: got === `directory ${v.mailbox_vmail_user} ${ROOT_MODE}`, detail: got }];
  },
});
