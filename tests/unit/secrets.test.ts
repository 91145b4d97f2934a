import { chmodSync, chownSync, mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Settings } from "../../lib/defaults.js";
import { InventoryError } from "../../lib/errors.js";
import { loadInventory } from "../../lib/inventory/index.js";
import { Redactor, secretEnvName } from "../../lib/secrets.js";
import { fakeSettings } from "./fixtures/inventory/settings.js";

const settings: Settings = {
  ...fakeSettings,
  backup_keep: { default: 7, why: "days of backups", schema: { type: "integer", minimum: 1 }, sensitive: true },
};

const INVENTORY = [
  "hosts:",
  "  mx1:",
  "    address: 203.0.113.7",
  "  mx-2:",
  "    address: 203.0.113.8",
].join("\n");

/** A temp dir with inventory.yml (+ secrets file, mode 600, when given). */
function setup(secrets?: string, inventory = INVENTORY, secretsName = "inventory.secrets.yml"): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "mailstead-sec-"));
  writeFileSync(join(dir, "inventory.yml"), inventory);
  if (secrets !== undefined) {
    writeFileSync(join(dir, secretsName), secrets);
    chmodSync(join(dir, secretsName), 0o600);
  }
  return { dir, file: join(dir, "inventory.yml") };
}

const vars = (inv: ReturnType<typeof loadInventory>, host: string) => inv.hosts.find((h) => h.name === host)!.vars;

describe("Redactor", () => {
  it("masks every occurrence of every secret, longest first", () => {
    const r = new Redactor();
    r.add("s3cret-pass");
    r.add("s3cret-pass-longer");
    r.add(12345678);
    expect(r.redact("a s3cret-pass b s3cret-pass-longer c s3cret-pass 12345678")).toBe("a *** b *** c *** ***");
    expect(r.size).toBe(3);
  });

  it("masks each line of a multi-line secret on its own, and each value after key =", () => {
    const r = new Redactor();
    r.add("dns_rfc2136_server = 192.0.2.53\ndns_rfc2136_secret = c2VjcmV0LXRzaWcta2V5\n");
    expect(r.redact("stderr: line 2: dns_rfc2136_secret = c2VjcmV0LXRzaWcta2V5")).toBe("stderr: line 2: ***");
    expect(r.redact("+ dns_rfc2136_secret   =   c2VjcmV0LXRzaWcta2V5")).toBe("+ dns_rfc2136_secret   =   ***");
  });

  it("ignores values shorter than 4 characters and non-scalars", () => {
    const r = new Redactor();
    r.add("abc");
    r.add("");
    r.add(undefined);
    r.add({ a: "long-enough" });
    expect(r.redact("abc long-enough")).toBe("abc long-enough");
    expect(r.size).toBe(0);
  });

  it("is filled with the secrets an inventory loads", () => {
    const { file } = setup("vars:\n  relay_password: file-password\n");
    const inv = loadInventory(file, { settings, env: { SSH_AUTH_SOCK: "/a", MAILSTEAD_SECRET_MX_2__BACKUP_PASSPHRASE: "env-passphrase" } });
    expect(inv.redactor.redact("file-password env-passphrase 203.0.113.7")).toBe("*** *** 203.0.113.7");
  });
});

describe("secret sources", () => {
  it("names the environment variables", () => {
    expect(secretEnvName("relay_password")).toBe("MAILSTEAD_SECRET_RELAY_PASSWORD");
    expect(secretEnvName("relay_password", "mx-2")).toBe("MAILSTEAD_SECRET_MX_2__RELAY_PASSWORD");
  });

  it("applies precedence: file vars < file host < env < env host", () => {
    const { file } = setup([
      "vars:",
      "  relay_password: file-global",
      "  backup_passphrase: file-global-bp",
      "hosts:",
      "  mx1:",
      "    relay_password: file-mx1",
      "    backup_passphrase: file-mx1-bp",
    ].join("\n"));
    const env = {
      SSH_AUTH_SOCK: "/a",
      MAILSTEAD_SECRET_BACKUP_PASSPHRASE: "env-global-bp",
      MAILSTEAD_SECRET_MX_2__RELAY_PASSWORD: "env-mx-2-pw",
    };
    const inv = loadInventory(file, { settings, env });
    expect(vars(inv, "mx1")).toMatchObject({ relay_password: "file-mx1", backup_passphrase: "env-global-bp" });
    expect(vars(inv, "mx-2")).toMatchObject({ relay_password: "env-mx-2-pw", backup_passphrase: "env-global-bp" });
  });

  it("env wins over the file for the same host", () => {
    const { file } = setup("hosts:\n  mx1:\n    relay_password: from-the-file\n");
    const env = { SSH_AUTH_SOCK: "/a", MAILSTEAD_SECRET_RELAY_PASSWORD: "from-the-env", MAILSTEAD_SECRET_MX1__BACKUP_PASSPHRASE: "mx1-only" };
    const inv = loadInventory(file, { settings, env });
    expect(vars(inv, "mx1")).toMatchObject({ relay_password: "from-the-env", backup_passphrase: "mx1-only" });
    expect(vars(inv, "mx-2")).toMatchObject({ relay_password: "from-the-env", backup_passphrase: "" });
  });

  it("parses env values of non-string secrets as JSON", () => {
    const { file } = setup();
    const inv = loadInventory(file, { settings, env: { SSH_AUTH_SOCK: "/a", MAILSTEAD_SECRET_RELAY_PASSWORD: "long-enough", MAILSTEAD_SECRET_BACKUP_KEEP: "30" } });
    expect(vars(inv, "mx1").backup_keep).toBe(30);
  });

  it("a missing secrets file is fine when every required secret has a value", () => {
    const { file } = setup();
    const inv = loadInventory(file, { settings, env: { SSH_AUTH_SOCK: "/a", MAILSTEAD_SECRET_RELAY_PASSWORD: "long-enough" } });
    expect(vars(inv, "mx1")).toMatchObject({ relay_password: "long-enough", backup_passphrase: "", backup_keep: 7 });
  });

  it("warns about MAILSTEAD_SECRET_ variables that match nothing, with did-you-mean", () => {
    const { file } = setup();
    const env = { SSH_AUTH_SOCK: "/a", MAILSTEAD_SECRET_RELAY_PASSWORD: "long-enough", MAILSTEAD_SECRET_RELAY_PASWORD: "typo-value", MAILSTEAD_SECRET_MX9__RELAY_PASSWORD: "x-x-x-x" };
    const inv = loadInventory(file, { settings, env });
    expect(inv.warnings).toEqual([
      'environment variable MAILSTEAD_SECRET_RELAY_PASWORD is ignored: it names no secret setting — did you mean "MAILSTEAD_SECRET_RELAY_PASSWORD"?',
      'environment variable MAILSTEAD_SECRET_MX9__RELAY_PASSWORD is ignored: it names no secret setting or no host — did you mean "MAILSTEAD_SECRET_MX1__RELAY_PASSWORD"?',
    ]);
    expect(inv.redactor.redact("typo-value")).toBe("***");
  });

  it("secrets_file is resolved relative to the inventory, or from ~", () => {
    const { dir, file } = setup("vars:\n  relay_password: relative-pw\n", `secrets_file: private/s.yml\n${INVENTORY}`, "s.yml");
    mkdirSync(join(dir, "private"));
    writeFileSync(join(dir, "private", "s.yml"), "vars:\n  relay_password: relative-pw\n", { mode: 0o600 });
    expect(vars(loadInventory(file, { settings, env: { SSH_AUTH_SOCK: "/a" } }), "mx1").relay_password).toBe("relative-pw");

    writeFileSync(file, `secrets_file: ~/s.yml\n${INVENTORY}`);
    expect(vars(loadInventory(file, { settings, env: { SSH_AUTH_SOCK: "/a", HOME: dir } }), "mx1").relay_password).toBe("relative-pw");
  });

  it("refuses a group-readable secrets file even when the values are fine", () => {
    const { dir, file } = setup("vars:\n  relay_password: long-enough\n");
    chmodSync(join(dir, "inventory.secrets.yml"), 0o640);
    expect(() => loadInventory(file, { settings, env: {} })).toThrow(InventoryError);
    expect(() => loadInventory(file, { settings, env: {} })).toThrow(`(mode 0640) — run \`chmod 600 ${join(dir, "inventory.secrets.yml")}\``);
  });

  it.skipIf(process.getuid?.() !== 0)("refuses a secrets file, or a symlink's target, owned by another user (mode 600 or not)", () => {
    const { dir, file } = setup("vars:\n  relay_password: long-enough\n");
    const real = join(dir, "elsewhere.yml");
    renameSync(join(dir, "inventory.secrets.yml"), real);
    symlinkSync(real, join(dir, "inventory.secrets.yml"));
    expect(vars(loadInventory(file, { settings, env: { SSH_AUTH_SOCK: "/a" } }), "mx1").relay_password).toBe("long-enough");
    chownSync(real, 65534, 65534);
    expect(() => loadInventory(file, { settings, env: {} })).toThrow(/secrets file \(through its symlink\) is owned by uid 65534, not by you \(uid 0\) or root/);
  });

  it("never echoes a secret value in errors", () => {
    const { file } = setup("vars:\n  relay_password: [not-a-string-secret]\n  backup_keep: 0\n");
    let message = "";
    try {
      loadInventory(file, { settings, env: {} });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("vars.relay_password: must be a string of at least 8 characters (got a list)");
    expect(message).toContain("vars.backup_keep: must be an integer >= 1 (got a number)");
    expect(message).not.toContain("not-a-string-secret");
  });
});
