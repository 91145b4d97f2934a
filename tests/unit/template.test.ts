import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { render, renderString, TEMPLATES_DIR } from "../../lib/template.js";
import { TemplateError } from "../../lib/errors.js";
import { motdDefaults } from "../../roles/motd/defaults.js";
import { defaultValues } from "../../lib/defaults.js";

describe("templates", () => {
  it("fail on a missing variable instead of rendering an empty string", () => {
    expect(() => renderString("hostname = {{myhostname}}\n", {}, "main.cf")).toThrow(TemplateError);
    expect(() => renderString("hostname = {{myhostname}}\n", {}, "main.cf")).toThrow(/main\.cf.*myhostname/);
  });

  it("do not HTML-escape config values", () => {
    expect(renderString("x = {{v}}", { v: "a<b>&'\"" })).toBe("x = a<b>&'\"");
  });

  it("render the motd template deterministically", () => {
    const vars = { ...defaultValues(motdDefaults), host: "mx1", os: { prettyName: "Debian GNU/Linux 12 (bookworm)" } };
    const a = render("motd", "motd", vars);
    const b = render("motd", "motd", vars);
    expect(a).toBe(b);
    expect(a).toContain("managed by mailstead");
    expect(a).not.toContain("Contact before");
    expect(render("motd", "motd", { ...vars, motd_contact: "ops@example.test" })).toContain("Contact before changing anything: ops@example.test");
  });
});

describe("one value, one line", () => {
  it("refuses a {{value}} with a line break, naming it, never showing it", () => {
    const err = (() => {
      try {
        renderString("relayhost = {{relay_host}}\n", { relay_host: "[smtp.example]:587\nmynetworks = 0.0.0.0/0" }, "main.cf");
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(TemplateError);
    expect(err!.message).toMatch(/main\.cf.*\{\{relay_host\}\} holds a line break/);
    expect(err!.message).not.toContain("mynetworks");
    for (const bad of ["a\rb", "a\0b"]) expect(() => renderString("x = {{v}}", { v: bad })).toThrow(/holds a line break/);
  });

  it("checks helper results, list items and values inside blocks too", () => {
    expect(() => renderString("x = {{join list \", \"}}", { list: ["a", "b\nc"] })).toThrow(/\{\{join list ", "\}\}/);
    expect(() => renderString("{{#each list}}x = {{this}}\n{{/each}}", { list: ["ok", "b\nc"] })).toThrow(/\{\{this\}\}/);
    expect(() => renderString("{{#if on}}x = {{v}}{{/if}}", { on: true, v: "a\nb" })).toThrow(/\{\{v\}\}/);
    expect(renderString("{{#each list}}x = {{this}}\n{{/each}}", { list: ["a", "b"] })).toBe("x = a\nx = b\n");
  });

  it("lets a {{{raw}}} value be several lines (a setting that is several lines by design)", () => {
    expect(renderString("{{{extra}}}\n", { extra: "a = 1\nb = 2" })).toBe("a = 1\nb = 2\n");
  });

  it("quotes a value for a shell script with {{sh value}}", () => {
    expect(renderString("D={{sh d}}", { d: "x'$(reboot)" })).toBe("D='x'\\''$(reboot)'");
    expect(renderString("D={{sh d}}", { d: "example.org" })).toBe("D=example.org");
  });

  it("every {{{raw}}} in the templates is a value that is several lines by design", () => {
    const raw = new Set<string>();
    const dir = join(TEMPLATES_DIR);
    for (const role of readdirSync(dir)) for (const f of readdirSync(join(dir, role))) {
      for (const m of readFileSync(join(dir, role, f), "utf8").matchAll(/\{\{\{\s*([^}\s]+)/g)) raw.add(m[1]!);
    }
    // dovecot_lda_no_quota is a fixed string of the role (a quoted -o option), not a value from the inventory.
    expect([...raw].sort()).toEqual(["dovecot_extra_conf", "dovecot_lda_no_quota", "motd_message"]);
  });
});
