/**
 * editConf on Debian's real config files (tests/unit/fixtures/conf/, see README.md there).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { editConf, type EditConfOptions } from "../../lib/keyvalue.js";

const conf = (name: string) => readFileSync(fileURLToPath(new URL(`./fixtures/conf/${name}`, import.meta.url)), "utf8");
const POSTFIX: EditConfOptions = { continuation: true };
const DOVECOT: EditConfOptions = { sections: true };
const SSHD: EditConfOptions = { delimiter: "space", caseInsensitive: true };

/** Lines of `after` equal `before` except at `changed` indexes (same line count). */
function onlyLinesChanged(before: string, after: string, changed: Record<number, string>): void {
  const b = before.split("\n");
  const a = after.split("\n");
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(a[i], `line ${i + 1}`).toBe(i in changed ? changed[i] : b[i]);
}

/** Editing twice gives the same text as editing once. */
function idempotent(text: string, settings: Record<string, string | null>, o: EditConfOptions): string {
  const once = editConf(text, settings, o);
  expect(editConf(once, settings, o)).toBe(once);
  return once;
}

describe("postfix main.cf (Debian's generated file)", () => {
  const main = conf("postfix-main.cf");
  const idx = (prefix: string) => main.split("\n").findIndex((l) => l.startsWith(prefix));

  it("the fixture is the real file", () => {
    expect(main).toMatch(/^# See \/usr\/share\/postfix\/main\.cf\.dist/);
    expect(main).toContain("smtpd_tls_security_level=may\n");
  });

  it("an existing key is replaced in place; every other byte is identical", () => {
    const out = idempotent(main, { smtpd_tls_security_level: "encrypt" }, POSTFIX);
    onlyLinesChanged(main, out, { [idx("smtpd_tls_security_level=")]: "smtpd_tls_security_level = encrypt" });
  });

  it("a key present only in a comment is appended, the comment kept", () => {
    const out = idempotent(main, { myorigin: "/etc/mailname" }, POSTFIX);
    // the file already ends with blank lines, so no extra blank line is added
    expect(out).toBe(`${main}myorigin = /etc/mailname\n`);
    expect(out).toContain("\n#myorigin = /etc/mailname\n");
  });

  it("null comments the setting out; a null for an absent key changes nothing", () => {
    const out = idempotent(main, { readme_directory: null, relayhost: null }, POSTFIX);
    onlyLinesChanged(main, out, { [idx("readme_directory")]: "#readme_directory = no" });
  });

  it("later active duplicates are commented out", () => {
    const text = `${main}biff = yes\n`;
    const out = idempotent(text, { biff: "no" }, POSTFIX);
    onlyLinesChanged(text, out, { [idx("biff")]: "biff = no", [text.split("\n").length - 2]: "#biff = yes" });
  });

  const restrictions =
    "smtpd_recipient_restrictions =\n    permit_mynetworks,\n    permit_sasl_authenticated,\n    reject_unauth_destination\nmyhostname = mx1.example.test\n";

  it("continuation lines go with the replaced setting", () => {
    const out = idempotent(main + restrictions, { smtpd_recipient_restrictions: "permit_mynetworks, reject_unauth_destination" }, POSTFIX);
    expect(out).toBe(`${main}smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\nmyhostname = mx1.example.test\n`);
  });

  it("continuation lines are commented with a setting set to null", () => {
    const out = idempotent(main + restrictions, { smtpd_recipient_restrictions: null }, POSTFIX);
    expect(out).toBe(
      `${main}#smtpd_recipient_restrictions =\n#    permit_mynetworks,\n#    permit_sasl_authenticated,\n#    reject_unauth_destination\nmyhostname = mx1.example.test\n`,
    );
  });

  it("a continued duplicate is commented with its continuation lines", () => {
    const text = `mynetworks = 127.0.0.0/8\nmynetworks = 127.0.0.0/8\n    [::1]/128\nbiff = no\n`;
    expect(idempotent(text, { mynetworks: "127.0.0.0/8 [::1]/128" }, POSTFIX)).toBe(
      "mynetworks = 127.0.0.0/8 [::1]/128\n#mynetworks = 127.0.0.0/8\n#    [::1]/128\nbiff = no\n",
    );
  });

  // postconf(5): "Empty lines and whitespace-only lines are ignored, as are lines whose first
  // non-whitespace character is a '#'. A line that starts with whitespace continues a logical line."
  // Regression test, fixed (was lib/keyvalue.ts:67-77): continuation skipping stops at a `#` line or a blank line, so
  // an indented line after it is left active and Postfix appends it to the new value. Checked with
  // Debian's own postconf 3.7.11 (`postconf -c DIR -n`) on the editor's output:
  //   smtpd_recipient_restrictions = permit_mynetworks reject_unauth_destination
  for (const [what, middle] of [
    ["a comment line", "#    permit_sasl_authenticated,\n"],
    ["a blank line", "\n"],
  ] as const) {
    it(`continuation lines after ${what} inside the setting go with it`, () => {
      const text = `smtpd_recipient_restrictions =\n    permit_mynetworks,\n${middle}    reject_unauth_destination\nbiff = no\n`;
      const out = editConf(text, { smtpd_recipient_restrictions: "permit_mynetworks" }, POSTFIX);
      // no active indented line may remain after the replaced setting
      expect(out.split("\n").filter((l) => /^\s+\S/.test(l))).toEqual([]);
    });
  }

  it("main.cf.dist: only commented examples, so a setting is appended and nothing else moves", () => {
    const dist = conf("postfix-main.cf.dist");
    const out = idempotent(dist, { mydestination: "$myhostname, localhost" }, POSTFIX);
    expect(out.startsWith(dist)).toBe(true);
    expect(out.slice(dist.length)).toBe(dist.endsWith("\n\n") ? "mydestination = $myhostname, localhost\n" : "\nmydestination = $myhostname, localhost\n");
  });
});

describe("dovecot (sections)", () => {
  const mail = conf("dovecot-10-mail.conf");
  const lines = mail.split("\n");

  it("a top-level key is edited in place; a same-named key inside { } is untouched", () => {
    const out = idempotent(mail, { mail_location: "maildir:~/Maildir", inbox: "no" }, DOVECOT);
    const i = lines.indexOf("mail_location = mbox:~/mail:INBOX=/var/mail/%u");
    expect(i).toBeGreaterThan(0);
    const outLines = out.split("\n");
    expect(outLines[i]).toBe("mail_location = maildir:~/Maildir");
    // `inbox = yes` inside `namespace inbox { }` is kept; the top-level key is appended
    expect(outLines).toContain("  inbox = yes");
    expect(out.endsWith("\n\ninbox = no\n")).toBe(true);
    expect(outLines.slice(0, lines.length - 1).filter((l, k) => l !== lines[k])).toEqual(["mail_location = maildir:~/Maildir"]);
  });

  it("without sections the key inside the block would be edited (why the option exists)", () => {
    const out = editConf(mail, { inbox: "no" }, {});
    expect(out.split("\n")).toContain("inbox = no");
    expect(out.split("\n")).not.toContain("  inbox = yes");
  });

  it("dovecot.conf: commented key appended, include lines and dict { } kept", () => {
    const main = conf("dovecot.conf");
    const out = idempotent(main, { protocols: "imap lmtp", listen: "*, ::" }, DOVECOT);
    expect(out).toBe(`${main}${main.endsWith("\n\n") ? "" : "\n"}protocols = imap lmtp\nlisten = *, ::\n`);
  });

  it("a key set to null inside a section is left alone", () => {
    const text = "mail_privileged_group = mail\nprotocol lmtp {\n  mail_privileged_group = vmail\n}\n";
    expect(idempotent(text, { mail_privileged_group: null }, DOVECOT)).toBe(
      "#mail_privileged_group = mail\nprotocol lmtp {\n  mail_privileged_group = vmail\n}\n",
    );
  });
});

describe("dovecot %{variable} values (sections)", () => {
  // Dovecot values use %{...} variables (the only syntax in Dovecot 2.4, Debian 13's version).
  // Regression test, fixed (was lib/keyvalue.ts:80-86): any line whose code contains "{" is taken for a block opener
  // and never edited, so a top-level `mail_home = /srv/mail/%{user}` is kept and the wanted value
  // appended; since the appended line also contains "{", each run appends it again (never converges).
  const text = "mail_home = /srv/mail/%{user}\nprotocols = imap\n";
  const settings = { mail_home: "/var/mail/vhosts/%{user | domain}/%{user | username}" };

  it("a top-level key whose value holds %{...} is replaced in place", () => {
    expect(editConf(text, settings, DOVECOT)).toBe("mail_home = /var/mail/vhosts/%{user | domain}/%{user | username}\nprotocols = imap\n");
  });

  it("setting a %{...} value is idempotent", () => {
    const once = editConf(text, settings, DOVECOT);
    expect(editConf(once, settings, DOVECOT)).toBe(once);
  });

  it("balanced %{...} braces do not change the section depth of later lines", () => {
    const t = "mail_home = /srv/mail/%{user}\nprotocols = imap\n";
    expect(editConf(t, { protocols: "imap lmtp" }, DOVECOT)).toBe("mail_home = /srv/mail/%{user}\nprotocols = imap lmtp\n");
  });
});

describe("sshd_config (space delimiter, case-insensitive)", () => {
  const sshd = conf("sshd_config");
  const lines = sshd.split("\n");

  it("replaces regardless of case, keeps the rest byte for byte", () => {
    const out = idempotent(sshd, { x11forwarding: "no", SUBSYSTEM: "sftp internal-sftp" }, SSHD);
    onlyLinesChanged(sshd, out, {
      [lines.indexOf("X11Forwarding yes")]: "x11forwarding no",
      [lines.indexOf("Subsystem\tsftp\t/usr/lib/openssh/sftp-server")]: "SUBSYSTEM sftp internal-sftp",
    });
    // the commented Match example keeps its indented commented X11Forwarding
    expect(out).toContain("#Match User anoncvs\n#\tX11Forwarding no\n");
  });

  it("commented defaults are appended as active settings", () => {
    const out = idempotent(sshd, { PasswordAuthentication: "no", PermitRootLogin: "prohibit-password" }, SSHD);
    expect(out).toBe(`${sshd}${sshd.endsWith("\n\n") ? "" : "\n"}PasswordAuthentication no\nPermitRootLogin prohibit-password\n`);
  });

  it("case-insensitive duplicates are commented after the first", () => {
    const text = "PermitRootLogin yes\npermitrootlogin without-password\n";
    expect(idempotent(text, { PermitRootLogin: "no" }, SSHD)).toBe("PermitRootLogin no\n#permitrootlogin without-password\n");
  });

  it("without caseInsensitive, a differently cased key is another key", () => {
    expect(editConf("permitrootlogin yes\n", { PermitRootLogin: "no" }, { delimiter: "space" })).toBe(
      "permitrootlogin yes\n\nPermitRootLogin no\n",
    );
  });
});

describe("edge cases", () => {
  it("empty file", () => {
    expect(editConf("", { a: "1" })).toBe("a = 1\n");
    expect(editConf("", { a: null })).toBe("");
    expect(editConf("", {})).toBe("");
  });

  it("a file without a trailing newline gets one", () => {
    expect(editConf("a = 1", { b: "2" })).toBe("a = 1\n\nb = 2\n");
    expect(editConf("a = 1", { a: "2" })).toBe("a = 2\n");
  });

  it("values with = and spaces; key = value spacing normalized only on edited lines", () => {
    const text = "x=1\nsmtpd_milters=inet:localhost:8891\n";
    expect(idempotent(text, { smtpd_milters: "inet:localhost:8891, inet:localhost:11332" }, POSTFIX)).toBe(
      "x=1\nsmtpd_milters = inet:localhost:8891, inet:localhost:11332\n",
    );
  });

  it("no settings: the text is returned unchanged", () => {
    for (const name of ["postfix-main.cf", "dovecot.conf", "sshd_config"]) expect(editConf(conf(name), {})).toBe(conf(name));
  });
});
