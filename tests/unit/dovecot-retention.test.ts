/** Retention (issue 16): Junk and Trash expunged after dovecot_autoexpunge's age, on both Dovecot series. */
import { describe, expect, it } from "vitest";
import { render } from "../../lib/template.js";
import { dovecotTemplateVars, mailboxBlocks, SPECIAL_FOLDERS } from "../../roles/dovecot/index.js";
import { dovecotDefaults } from "../../roles/dovecot/defaults.js";
import { siteVars } from "./role-fixture.js";

describe("autoexpunge", () => {
  it("defaults: Junk and Trash after 30 days, nothing else", () => {
    expect(dovecotDefaults.dovecot_autoexpunge.default).toEqual({ Junk: "30d", Trash: "30d" });
    const b = mailboxBlocks(dovecotDefaults.dovecot_autoexpunge.default as Record<string, string>);
    expect(b.map((x) => x.name)).toEqual([...SPECIAL_FOLDERS]);
    expect(b.filter((x) => x.autoexpunge).map((x) => `${x.name}=${x.autoexpunge}`)).toEqual(["Junk=30d", "Trash=30d"]);
  });
  it("another folder gets its own block; {} keeps everything", () => {
    expect(mailboxBlocks({ Lists: "90d" }).at(-1)).toEqual({ name: "Lists", autoexpunge: "90d" });
    expect(mailboxBlocks({}).some((x) => x.autoexpunge)).toBe(false);
  });
  it.each(["2.3", "2.4"])("Dovecot %s: the setting inside each folder's block", (series) => {
    const v = siteVars({ base_hostname: "mx1", base_domain: "example.org", dovecot_autoexpunge: { Trash: "7d", Lists: "90d" } }) as never;
    const conf = render("dovecot", series === "2.3" ? "dovecot23.conf" : "dovecot24.conf", { ...(v as object), ...dovecotTemplateVars(v, series) });
    expect(conf).toMatch(/mailbox Trash \{\n\s+special_use = \\Trash\n\s+auto = subscribe\n\s+autoexpunge = 7d\n\s+\}/);
    expect(conf).toMatch(/mailbox Junk \{\n\s+special_use = \\Junk\n\s+auto = subscribe\n\s+\}/);
    expect(conf).toMatch(/mailbox Lists \{\n\s+autoexpunge = 90d\n\s+\}/);
  });
});
