/**
 * Vars types come from the settings' schemas (VarsOf in lib/defaults.ts), not a second
 * hand-written list. These checks run in `tsc --noEmit` (npm test's first step): a schema
 * that no longer gives its type (a shared fragment without `as const` widens to unknown)
 * or a derived type that drifts fails the type check.
 */
import { webDefaults } from "../../roles/web/defaults.js";
import { webmailDefaults } from "../../roles/webmail/defaults.js";
import { statusDefaults } from "../../roles/status/defaults.js";
import { describe, expectTypeOf, it } from "vitest";
import type { Settings, VarsOf } from "../../lib/defaults.js";
import type { FromSchema } from "../../lib/jsonschema.js";
import { siteRoles } from "../../roles/registry.js";
import type { CertbotVars } from "../../roles/certbot/index.js";
import type { MailUser, MailboxVars } from "../../roles/mailbox/model.js";
import type { PostfixVars } from "../../roles/postfix/index.js";
import type { DnsVars } from "../../roles/dns/index.js";
import type { FirewallVars } from "../../roles/firewall/index.js";
import { baseDefaults } from "../../roles/base/defaults.js";
import { budgetDefaults } from "../../roles/budget/defaults.js";
import { certbotDefaults } from "../../roles/certbot/defaults.js";
import { dnsDefaults } from "../../roles/dns/defaults.js";
import { dovecotDefaults } from "../../roles/dovecot/defaults.js";
import { fail2banDefaults } from "../../roles/fail2ban/defaults.js";
import { firewallDefaults } from "../../roles/firewall/defaults.js";
import { mailboxDefaults } from "../../roles/mailbox/defaults.js";
import { motdDefaults } from "../../roles/motd/defaults.js";
import { opendkimDefaults } from "../../roles/opendkim/defaults.js";
import { opendmarcDefaults } from "../../roles/opendmarc/defaults.js";
import { postfixDefaults } from "../../roles/postfix/defaults.js";
import { relayDefaults } from "../../roles/relay/defaults.js";
import { tlsDefaults } from "../../roles/tls/defaults.js";
import { backupDefaults } from "../../roles/backup/defaults.js";
import { expect } from "vitest";

/** The keys whose derived type is (or holds) `unknown`: the schema did not say what it takes. */
type Untyped<V> = {
  [K in keyof V]: unknown extends V[K] ? K : V[K] extends (infer I)[] ? (unknown extends I ? K : never) : V[K] extends Record<string, infer I> ? (unknown extends I ? K : never) : never;
}[keyof V];
type NoneUntyped<S extends Settings> = Untyped<VarsOf<S>>;

describe("vars types derived from the schemas", () => {
  it("every role's settings give a type (none is unknown)", () => {
    expectTypeOf<NoneUntyped<typeof baseDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof budgetDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof certbotDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof dnsDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof dovecotDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof fail2banDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof firewallDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof mailboxDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof motdDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof opendkimDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof opendmarcDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof postfixDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof relayDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof tlsDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof backupDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof webDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof webmailDefaults>>().toBeNever();
    expectTypeOf<NoneUntyped<typeof statusDefaults>>().toBeNever();
    // Every role of the site has its defaults listed above (a new role adds its line).
    expect(siteRoles.map((r) => r.name).sort()).toEqual(["backup", "base", "budget", "certbot", "dns", "dovecot", "fail2ban", "firewall", "mailbox", "motd", "opendkim", "opendmarc", "postfix", "relay", "status", "tls", "web", "webmail"]);
  });

  it("enums, nullables, lists, maps and objects keep their shapes", () => {
    expectTypeOf<CertbotVars["certbot_mode"]>().toEqualTypeOf<"standalone" | "webroot" | "dns" | "files" | "none">();
    expectTypeOf<CertbotVars["certbot_key_type"]>().toEqualTypeOf<"ecdsa" | "rsa">();
    expectTypeOf<CertbotVars["certbot_dns_propagation_seconds"]>().toEqualTypeOf<number | null>();
    expectTypeOf<DnsVars["dns_dmarc_policy"]>().toEqualTypeOf<"none" | "quarantine" | "reject">();
    expectTypeOf<FirewallVars["firewall_extra_tcp_ports"]>().toEqualTypeOf<number[]>();
    expectTypeOf<MailboxVars["mailbox_aliases"]>().toEqualTypeOf<Record<string, string[]>>();
    expectTypeOf<PostfixVars["postfix_extra_main_cf"]>().toEqualTypeOf<Record<string, string | number | boolean>>();
    expectTypeOf<MailUser>().toMatchTypeOf<{ name: string; password_hash: string; quota?: string; aliases?: string[] }>();
    expectTypeOf<{ name: string; password_hash: string }>().toMatchTypeOf<MailUser>();
    // Settings another role owns come from that role's defaults too.
    expectTypeOf<PostfixVars["relay_port"]>().toEqualTypeOf<587 | 465 | 25 | 2525>();
    expectTypeOf<PostfixVars["opendkim_port"]>().toEqualTypeOf<number | undefined>();
  });

  it("FromSchema maps the shapes the settings use", () => {
    expectTypeOf<FromSchema<{ readonly type: "string" }>>().toEqualTypeOf<string>();
    expectTypeOf<FromSchema<{ readonly type: readonly ["integer", "null"] }>>().toEqualTypeOf<number | null>();
    expectTypeOf<FromSchema<{ readonly type: "array"; readonly items: { readonly type: "boolean" } }>>().toEqualTypeOf<boolean[]>();
    // A widened (non-const) fragment says nothing: unknown, which the first test refuses.
    expectTypeOf<FromSchema<{ type: string }>>().toEqualTypeOf<unknown>();
  });
});
