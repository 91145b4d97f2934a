/**
 * Values derived from a host's vars that several roles use, computed once per
 * host in this one place (the host's vars object is the key) and typed: the
 * FQDN, the mail domain, the mailbox model. A role reads `derived(vars).fqdn`
 * instead of joining base_hostname and base_domain itself.
 */
import { field } from "../lib/text.js";
import { buildModel, mailDomain, type MailboxVars, type MailModel } from "./mailbox/model.js";

export interface HostDerived {
  /** base_hostname.base_domain: the name the host's mail services answer as. */
  readonly fqdn: string;
  /** The domain of the addresses (mailbox_domain, or base_domain). */
  readonly mailDomain: string;
  /** Mailboxes, aliases and senders (built on first use: the roles that need it are few). */
  readonly model: MailModel;
}

/** A host's merged vars (every role's settings); the roles' own Vars types name only a part of them. */
type DerivedVars = { base_domain: string; base_hostname?: string; mailbox_domain?: string };

const cache = new WeakMap<object, HostDerived>();

export function derived(v: DerivedVars): HostDerived {
  const hit = cache.get(v);
  if (hit) return hit;
  let model: MailModel | undefined;
  let fqdn: string | undefined;
  const d: HostDerived = {
    get fqdn() {
      return (fqdn ??= `${field(String(v.base_hostname), "base_hostname", /\s/)}.${field(v.base_domain, "base_domain", /\s/)}`);
    },
    mailDomain: mailDomain({ mailbox_domain: v.mailbox_domain ?? "", base_domain: v.base_domain }),
    get model() {
      return (model ??= buildModel(v as unknown as MailboxVars));
    },
  };
  cache.set(v, d);
  return d;
}
