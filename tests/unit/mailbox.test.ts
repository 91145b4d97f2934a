import { describe, expect, it } from "vitest";
import { defaultValues } from "../../lib/defaults.js";
import { render } from "../../lib/template.js";
import { mailboxDefaults } from "../../roles/mailbox/defaults.js";
import { buildModel, type MailboxVars } from "../../roles/mailbox/model.js";
import { blfCrypt, blfVerify } from "../../roles/mailbox/passwd.js";
import { dovecotDefaults } from "../../roles/dovecot/defaults.js";
import { dovecotSeries, dovecotTemplateVars, usersFile } from "../../roles/dovecot/index.js";
import { postfixDefaults } from "../../roles/postfix/defaults.js";
import { postfixMaps, postfixTemplateVars } from "../../roles/postfix/index.js";
import { compareVersions, debianUpstream, hasSmugglingFix } from "../../roles/postfix/version.js";
import { relayDefaults } from "../../roles/relay/defaults.js";
import { tlsDefaults } from "../../roles/tls/defaults.js";

const H = "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuIuMsBLHHi7JEo0/ra8WCIWGN6qK1SC.";

function vars(over: Partial<MailboxVars> = {}): any {
  return {
    ...defaultValues(mailboxDefaults),
    ...defaultValues(tlsDefaults),
    ...defaultValues(dovecotDefaults),
    ...defaultValues(postfixDefaults),
    ...defaultValues(relayDefaults),
    base_hostname: "mx1",
    base_domain: "example.test",
    mailbox_users: [
      { name: "alice", password_hash: H, aliases: ["info"] },
      { name: "bob", password_hash: H, quota: "2G" },
    ],
    mailbox_aliases: { team: ["alice", "bob"], ext: ["someone@example.org"] },
    host: "mx1",
    os: { prettyName: "Debian GNU/Linux 12 (bookworm)" },
    ...over,
  };
}

describe("mailbox model", () => {
  it("adds postmaster@ and abuse@ (RFC 2142) for the first user and maps aliases", () => {
    const m = buildModel(vars());
    expect(m.domain).toBe("example.test");
    expect(Object.fromEntries(m.aliases)).toEqual({
      "abuse@example.test": ["alice@example.test"],
      "ext@example.test": ["someone@example.org"],
      "info@example.test": ["alice@example.test"],
      "postmaster@example.test": ["alice@example.test"],
      "team@example.test": ["alice@example.test", "bob@example.test"],
    });
    expect(m.mailboxes.map((b) => [b.address, b.quota, b.home])).toEqual([
      ["alice@example.test", "1G", "/var/mail/vhosts/example.test/alice"],
      ["bob@example.test", "2G", "/var/mail/vhosts/example.test/bob"],
    ]);
  });

  it("lets users send as themselves and the aliases that reach them, nothing else", () => {
    const s = Object.fromEntries(buildModel(vars()).senderLogins);
    expect(s["alice@example.test"]).toEqual(["alice@example.test"]);
    expect(s["info@example.test"]).toEqual(["alice@example.test"]);
    expect(s["team@example.test"]).toEqual(["alice@example.test", "bob@example.test"]);
    expect(s["ext@example.test"]).toBeUndefined();
  });

  it("adds mailbox_send_as senders (addresses and @domain) to the sender login map", () => {
    const m = buildModel(vars({ mailbox_send_as: { bob: ["@example.org", "alice@example.test"] } }));
    const s = Object.fromEntries(m.senderLogins);
    expect(s["@example.org"]).toEqual(["bob@example.test"]);
    expect(s["alice@example.test"]).toEqual(["alice@example.test", "bob@example.test"]);
    expect(postfixMaps(vars({ mailbox_send_as: { bob: ["@example.org"] } }))["/etc/postfix/sender_login"]).toMatch(/^@example\.org bob@example\.test$/m);
    expect(() => buildModel(vars({ mailbox_send_as: { nobody: ["@example.org"] } }))).toThrow(/"nobody" is not in mailbox_users/);
  });

  it("refuses inconsistent data before anything changes", () => {
    expect(() => buildModel(vars({ mailbox_aliases: { x: ["nobody"] } }))).toThrow(/neither a user nor an alias/);
    expect(() => buildModel(vars({ mailbox_catchall: "nobody" }))).toThrow(expect.objectContaining({ setting: "mailbox_catchall" }));
    expect(() => buildModel(vars({ mailbox_aliases: { alice: ["bob"] } }))).toThrow(/also a user/);
    expect(() => buildModel(vars({ mailbox_aliases: { x: ["y"], y: ["x"] } }))).toThrow(/loop: x@example.test -> y@example.test -> x@example.test/);
  });

  it("renders postfix tables, with identity entries when a catch-all is set", () => {
    const maps = postfixMaps(vars({ mailbox_catchall: "bob" }));
    expect(maps["/etc/postfix/vmailbox"]).toContain("alice@example.test OK\n");
    expect(maps["/etc/postfix/virtual"]).toContain("alice@example.test alice@example.test\n");
    expect(maps["/etc/postfix/virtual"]).toMatch(/^@example\.test bob@example\.test$/m);
  });

  it("writes the passwd-file in each Dovecot series' quota syntax", () => {
    expect(usersFile(vars(), "2.3")).toContain(`alice@example.test:${H}::::::userdb_quota_rule=*:storage=1G\n`);
    expect(usersFile(vars(), "2.4")).toContain(`bob@example.test:${H}::::::userdb_quota_storage_size=2G\n`);
  });
});

describe("versions", () => {
  it("reads Debian versions and the smuggling fix", () => {
    expect(debianUpstream("3.7.11-0+deb12u1")).toBe("3.7.11");
    expect(debianUpstream("1:2.4.1+dfsg1-6+deb13u7")).toBe("2.4.1");
    expect(dovecotSeries("1:2.3.19.1+dfsg1-2.1+deb12u7")).toBe("2.3");
    expect(compareVersions("3.7.10", "3.7.9")).toBeGreaterThan(0);
    expect(hasSmugglingFix("3.7.11")).toBe(true);
    expect(hasSmugglingFix("3.7.9")).toBe(false);
    expect(hasSmugglingFix("3.8.4")).toBe(false);
    expect(hasSmugglingFix("3.10.13")).toBe(true);
    expect(hasSmugglingFix("3.6.20")).toBe(false);
  });
});

describe("passwd helper", () => {
  it("makes {BLF-CRYPT}$2y$ hashes that verify", () => {
    const h = blfCrypt("correct horse battery", 4);
    expect(h).toMatch(/^\{BLF-CRYPT\}\$2y\$04\$[./A-Za-z0-9]{53}$/);
    expect(blfVerify("correct horse battery", h)).toBe(true);
    expect(blfVerify("wrong", h)).toBe(false);
  });
});

describe("mail templates", () => {
  it("render Dovecot 2.3 and 2.4 with their own syntax and the shared TLS policy", () => {
    const v = vars();
    const d23 = render("dovecot", "dovecot23.conf", { ...v, ...dovecotTemplateVars(v, "2.3") });
    const d24 = render("dovecot", "dovecot24.conf", { ...v, ...dovecotTemplateVars(v, "2.4") });
    expect(d23).toContain("ssl_cert = </etc/mailstead/tls/fullchain.pem");
    expect(d24).toContain("ssl_server_cert_file = /etc/mailstead/tls/fullchain.pem");
    expect(d24).toMatch(/^dovecot_config_version = 2\.4\.0$/m);
    for (const d of [d23, d24]) {
      expect(d).toContain("ssl = required");
      expect(d).toContain("ssl_min_protocol = TLSv1.2");
      expect(d).toContain("ssl_cipher_list = ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:");
      expect(d).toContain("ssl_curve_list = X25519:prime256v1:secp384r1");
      expect(d).toMatch(/inet_listener imap \{\n\s+port = 0/);
      expect(d).toContain('quota_status_overquota = "552 5.2.2 Mailbox is full"');
    }
  });

  it("set the quota grace explicitly in both series, and the warning ignores the limit it warns about", () => {
    const v = vars();
    const d23 = render("dovecot", "dovecot23.conf", { ...v, ...dovecotTemplateVars(v, "2.3") });
    const d24 = render("dovecot", "dovecot24.conf", { ...v, ...dovecotTemplateVars(v, "2.4") });
    expect(d23).toMatch(/^\s+quota_grace = 10M$/m);
    expect(d24).toMatch(/^quota_storage_grace = 10M$/m);
    // 2.3: the script's dovecot-lda (vmail) may write statistics.
    expect(d23).toMatch(/unix_listener stats-writer \{\n\s+user = vmail\n/);
    const w23 = render("dovecot", "quota-warning.sh", { ...v, ...dovecotTemplateVars(v, "2.3") });
    const w24 = render("dovecot", "quota-warning.sh", { ...v, ...dovecotTemplateVars(v, "2.4") });
    expect(w23).toContain(`dovecot-lda -d "$USER" -o 'plugin/quota=count:User quota:noenforcing' <<MSG`);
    expect(w24).toContain(`dovecot-lda -d "$USER" -o quota_enforce=no <<MSG`);
  });

  it("keep a submission Received: line without the client's name and address", () => {
    const rules = render("postfix", "submission_header_cleanup", vars());
    const replace = rules.split("\n").find((l) => l.includes("REPLACE"))!;
    const m = /^\/(.*)\/\s+REPLACE (.*)$/.exec(replace)!;
    const header = "Received: from [198.51.100.1] (unknown [198.51.100.1])\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n\t key-exchange X25519)\n\t(No client certificate requested)\n\tby mx1.example.test (Postfix) with ESMTPSA id 4ABC\n\tfor <dave@example.net>; Wed, 26 Nov 2025 13:48:42 +0000 (UTC)";
    // JS regex stands in for POSIX ERE here ([[:space:]] -> \s; "." must span lines as in Postfix).
    const re = new RegExp(m[1]!.replace(/\[\[:space:\]\]/g, "\\s"), "is");
    const out = header.replace(re, m[2]!.replace("${1}", "$1"));
    expect(out).not.toContain("198.51.100.1");
    expect(out).toMatch(/^Received: from authenticated-client \(using TLSv1\.3 .*by mx1\.example\.test \(Postfix\) with ESMTPSA id 4ABC/s);
  });

  it("render main.cf with the relay section only when enabled", () => {
    const v = vars();
    const plain = render("postfix", "main.cf", { ...v, ...postfixTemplateVars(v, "3.7.11") });
    expect(plain).toContain("smtp_tls_security_level = may");
    expect(plain).not.toContain("relayhost");
    expect(plain).toContain("smtpd_forbid_bare_newline = normalize");
    expect(plain).toContain("message_size_limit = 10485760");
    const rv = { ...v, relay_enabled: true, relay_host: "smtp.example.org", relay_port: 465, relay_username: "u", relay_password: "p", relay_tls_ca: "" };
    const relayed = render("postfix", "main.cf", { ...rv, ...postfixTemplateVars(rv, "3.7.11") });
    expect(relayed).toContain("relayhost = [smtp.example.org]:465");
    // the relay's certificate is verified (chain and name), against the system store by default
    expect(relayed).toMatch(/^smtp_tls_security_level = secure$/m);
    expect(relayed).toMatch(/^smtp_tls_secure_cert_match = nexthop$/m);
    expect(relayed).toMatch(/^smtp_tls_CAfile = \/etc\/ssl\/certs\/ca-certificates\.crt$/m);
    const own = { ...rv, relay_tls_ca: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n" };
    expect(render("postfix", "main.cf", { ...own, ...postfixTemplateVars(own, "3.7.11") })).toMatch(/^smtp_tls_CAfile = \/etc\/postfix\/relay-ca\.pem$/m);
    expect(relayed).toContain("smtp_tls_wrappermode = yes");
    expect(relayed).not.toContain("relay_password");
  });
});
