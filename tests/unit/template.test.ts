import { describe, expect, it } from "vitest";
import { render, renderString } from "../../lib/template.js";
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
