/**
 * The hostile corpus (tests/unit/fixtures/hostile/): every inventory there is
 * refused when it loads, before any connection, with a problem that names
 * the file, the line and the field to fix. The control (00-valid-base.yml)
 * loads, so a case cannot pass because the base itself is broken.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { formatProblem, InventoryError } from "../../lib/errors.js";
import { loadInventory } from "../../lib/inventory/index.js";
import { allSettings, siteRoles } from "../../roles/registry.js";

const DIR = resolve(import.meta.dirname, "fixtures/hostile");
const cases = readdirSync(DIR).filter((f) => f.endsWith(".yml") && !f.endsWith(".secrets.yml")).sort();

function load(name: string) {
  const tmp = mkdtempSync(join(tmpdir(), "mailstead-hostile-"));
  copyFileSync(join(DIR, name), join(tmp, name));
  const secrets = name.replace(/\.yml$/, ".secrets.yml");
  if (existsSync(join(DIR, secrets))) {
    copyFileSync(join(DIR, secrets), join(tmp, secrets));
    chmodSync(join(tmp, secrets), 0o600);
  }
  const file = join(tmp, name);
  return { file, run: () => loadInventory(file, { settings: allSettings(), roles: siteRoles, env: { HOME: tmp } }) };
}

const header = (name: string, key: string) => new RegExp(`^# ${key}: ?(.*)$`, "m").exec(readFileSync(join(DIR, name), "utf8"))?.[1]?.trim();

describe("hostile inventories", () => {
  it("the corpus holds at least 40 cases and the control", () => {
    expect(cases.length).toBeGreaterThanOrEqual(41);
    expect(cases[0]).toBe("00-valid-base.yml");
  });

  it("the control loads (punycode TLD, outside alias target and all)", () => {
    const inv = load("00-valid-base.yml").run();
    expect(inv.hosts[0]!.vars.mailbox_domain).toBe("example.xn--p1ai");
  });

  for (const name of cases.slice(1)) {
    it(`${name}: refused at load, naming ${header(name, "expect-path") || "the document"}`, () => {
      const { file, run } = load(name);
      let err: unknown;
      try {
        run();
      } catch (e) {
        err = e;
      }
      expect(err, "must not load").toBeInstanceOf(InventoryError);
      const problems = (err as InventoryError).problems;
      const path = header(name, "expect-path") ?? "";
      const message = header(name, "expect-message") ?? "";
      const hit = problems.find((p) => p.path.includes(path) && `${p.message} — ${p.fix}`.includes(message));
      expect(hit, `no problem on "${path}" saying "${message}":\n${problems.map(formatProblem).join("\n")}`).toBeDefined();
      if (path) expect(hit!.line, formatProblem(hit!)).toBeGreaterThan(0);
      expect(hit!.fix, formatProblem(hit!)).toBeTruthy();
      expect([file, file.replace(/\.yml$/, ".secrets.yml")]).toContain(hit!.file);
      // a secret's value is never shown in its message
      expect(formatProblem(hit!)).not.toContain("[evil.example]:25");
    });
  }
});

/**
 * Settings whose value is several lines by design; each lands in a file of its
 * own kind (or is checked by the service's own parser before use).
 */
const MULTILINE: Record<string, string> = {
  dovecot_extra_conf: "an escape hatch of whole Dovecot config lines, checked with doveconf on a copy before it replaces the config",
  motd_message: "text shown at login, in /etc/motd only",
  certbot_dns_credentials: "the DNS plugin's own credentials file (INI), written as a whole, mode 600",
  certbot_ca_bundle: "PEM certificates, written as a whole to a CA file",
};

describe("no string setting can add a line to a config file", () => {
  const settings = allSettings();
  const base = readFileSync(join(DIR, "00-valid-base.yml"), "utf8");
  const stringish = Object.entries(settings).filter(([, s]) => {
    const sc = s.schema as { type?: unknown; enum?: unknown; items?: { type?: unknown; enum?: unknown } };
    return (sc.type === "string" && !sc.enum) || (sc.type === "array" && sc.items?.type === "string" && !sc.items.enum);
  });
  it("covers the string settings (a guard against an empty list)", () => {
    expect(stringish.length).toBeGreaterThan(40);
  });
  for (const [name, s] of stringish) {
    if (MULTILINE[name]) continue;
    it(`${name}: a value with a line break is refused at load`, () => {
      const tmp = mkdtempSync(join(tmpdir(), "mailstead-newline-"));
      const hostile = "x\ninjected = 1";
      const value = (s.schema as { type: string }).type === "array" ? [hostile] : hostile;
      const file = join(tmp, "hosts.yml");
      if (s.sensitive) {
        writeFileSync(file, base);
        writeFileSync(join(tmp, "hosts.secrets.yml"), `vars:\n  ${name}: ${JSON.stringify(value)}\n`, { mode: 0o600 });
      } else {
        const without = base.split("\n").filter((l) => !l.startsWith(`      ${name}:`)).join("\n");
        writeFileSync(file, `${without}      ${name}: ${JSON.stringify(value)}\n`);
      }
      let err: unknown;
      try {
        loadInventory(file, { settings, roles: siteRoles, env: { HOME: tmp } });
      } catch (e) {
        err = e;
      }
      expect(err, `${name} accepted a line break`).toBeInstanceOf(InventoryError);
      const problems = (err as InventoryError).problems;
      expect(problems.some((p) => p.path.includes(name)), problems.map(formatProblem).join("\n")).toBe(true);
    });
  }
});
