import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InventoryError } from "../../lib/errors.js";
import { buildInventorySchema, loadInventory, selectHosts, type Inventory } from "../../lib/inventory/index.js";
import { allSettings } from "../../roles/registry.js";
import { schemaText, SCHEMA_PATH } from "../../scripts/gen-schema.js";
import { fakeSettings as settings } from "./fixtures/inventory/settings.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/inventory/", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../inventory/", import.meta.url));

interface Case {
  name: string;
  yaml: string;
  /** Secrets file text (written as inventory.secrets.yml, mode 600 unless `mode`). */
  secrets?: string;
  mode?: number;
  env?: Record<string, string>;
  /** Extra files in the inventory's directory. */
  files?: Record<string, string>;
  /** Substrings of the error message; `$DIR` is the temp directory. */
  expect: string | string[];
}

/** Write the case into a fresh directory; return the directory and the inventory path. */
function setup(c: Omit<Case, "name" | "expect">): { dir: string; file: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), "mailstead-inv-"));
  const file = join(dir, "inventory.yml");
  writeFileSync(file, c.yaml);
  if (c.secrets !== undefined) {
    writeFileSync(join(dir, "inventory.secrets.yml"), c.secrets);
    chmodSync(join(dir, "inventory.secrets.yml"), c.mode ?? 0o600);
  }
  for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(dir, name), text);
  const env = { HOME: dir, SSH_AUTH_SOCK: "/run/agent.sock", MAILSTEAD_SECRET_RELAY_PASSWORD: "correct-horse", ...c.env };
  return { dir, file, env };
}

function load(c: Omit<Case, "name" | "expect">): Inventory {
  const { file, env } = setup(c);
  return loadInventory(file, { settings, env });
}

/** The InventoryError message thrown by `fn`. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryError);
    return (e as Error).message;
  }
  throw new Error("expected an InventoryError");
}

const host = (extra = "") => `hosts:\n  mx1:\n    address: 203.0.113.7\n${extra}`;

const bad: Case[] = [
  {
    name: "wrong type (address is a number)",
    yaml: "hosts:\n  mx1:\n    address: 42\n",
    expect: 'inventory.yml:3: hosts.mx1.address: must be an IPv4 address, IPv6 address or DNS name (got 42)',
  },
  {
    name: "port out of range",
    yaml: host("    ssh:\n      port: 70000\n"),
    expect: "inventory.yml:5: hosts.mx1.ssh.port: must be an integer 1-65535 (got 70000)",
  },
  {
    name: "string port",
    yaml: host("    ssh:\n      port: twenty-two\n"),
    expect: 'inventory.yml:5: hosts.mx1.ssh.port: must be an integer 1-65535 (got "twenty-two")',
  },
  {
    name: "unknown top-level key with did-you-mean",
    yaml: "host:\n  mx1:\n    address: 203.0.113.7\n",
    expect: ['inventory.yml:1: host: unknown key — did you mean "hosts"?', 'missing required key "hosts"'],
  },
  {
    name: "unknown ssh key",
    yaml: host("    ssh:\n      prot: 22\n"),
    expect: 'inventory.yml:5: hosts.mx1.ssh.prot: unknown key — did you mean "port"? — allowed keys here: user, port, key',
  },
  {
    name: "unknown var with did-you-mean",
    yaml: `vars:\n  motd_mesage: hi\n${host()}`,
    expect: 'inventory.yml:2: vars.motd_mesage: unknown setting — did you mean "motd_message"?',
  },
  {
    name: "unknown var in host vars",
    yaml: host("    vars:\n      web_prot: 80\n"),
    expect: 'inventory.yml:5: hosts.mx1.vars.web_prot: unknown setting — did you mean "web_port"?',
  },
  {
    name: "var of wrong type",
    yaml: `vars:\n  motd_enabled: "yes"\n${host()}`,
    expect: 'inventory.yml:2: vars.motd_enabled: must be true or false (got "yes")',
  },
  {
    name: "var out of range",
    yaml: `${host()}groups:\n  mail:\n    hosts: [mx1]\n    vars:\n      web_port: 0\n`,
    expect: "inventory.yml:8: groups.mail.vars.web_port: must be an integer 1-65535 (got 0)",
  },
  {
    name: "var not in enum",
    yaml: `vars:\n  web_mode: ssl\n${host()}`,
    expect: 'inventory.yml:2: vars.web_mode: must be one of tls, plain, off (got "ssl")',
  },
  {
    name: "YAML syntax error",
    yaml: "hosts:\n  mx1:\n    address: user: 203.0.113.7\n",
    expect: "inventory.yml:3: YAML syntax error: Nested mappings are not allowed in compact mappings — check the indentation",
  },
  {
    name: "duplicate key",
    yaml: host("    ssh:\n      port: 22\n      port: 2222\n"),
    expect: 'inventory.yml:6: duplicate key "port"',
  },
  {
    name: "group with unknown host",
    yaml: `${host()}groups:\n  mail:\n    hosts: [mx1, mx2]\n`,
    expect: 'inventory.yml:6: groups.mail.hosts[1]: unknown host "mx2" — did you mean "mx1"?',
  },
  {
    name: "group lists a host twice",
    yaml: `${host()}groups:\n  mail:\n    hosts: [mx1, mx1]\n`,
    expect: 'inventory.yml:6: groups.mail.hosts: must not list "mx1" twice',
  },
  {
    name: "invalid IPv6 address",
    yaml: 'hosts:\n  mx1:\n    address: "2001:db8:::1"\n',
    expect: 'inventory.yml:3: hosts.mx1.address: is not a valid IPv6 address (got "2001:db8:::1")',
  },
  {
    name: "empty hosts mapping",
    yaml: "vars: {}\nhosts: {}\n",
    expect: "inventory.yml:2: hosts: must be a mapping of host names to hosts, with at least one host (got {}) — add a host",
  },
  {
    name: "hosts key without value",
    yaml: "hosts:\n",
    expect: "inventory.yml:1: hosts: must be a mapping of host names to hosts, with at least one host (got null)",
  },
  {
    name: "missing address",
    yaml: "hosts:\n  mx1:\n    ssh: { user: debian }\n",
    expect: 'inventory.yml:2: hosts.mx1: missing required key "address"',
  },
  {
    name: "bad host name",
    yaml: "hosts:\n  MX_1:\n    address: 203.0.113.7\n",
    expect: 'inventory.yml:2: hosts.MX_1: invalid name "MX_1": must be lowercase letters and digits',
  },
  {
    name: "invalid IPv4 address",
    yaml: "hosts:\n  mx1:\n    address: 203.0.113.700\n",
    expect: 'inventory.yml:3: hosts.mx1.address: is not a valid IPv4 address (got "203.0.113.700")',
  },
  {
    name: "secret in clear text in global vars",
    yaml: `vars:\n  relay_password: hunter2hunter2\n${host()}`,
    expect: "inventory.yml:2: vars.relay_password: is a secret: move it to $DIR/inventory.secrets.yml (under `vars:`) or set MAILSTEAD_SECRET_RELAY_PASSWORD",
  },
  {
    name: "secret in clear text in host vars",
    yaml: host("    vars:\n      relay_password: hunter2hunter2\n"),
    expect: "inventory.yml:5: hosts.mx1.vars.relay_password: is a secret: move it to $DIR/inventory.secrets.yml (under `hosts.mx1:`) or set MAILSTEAD_SECRET_MX1__RELAY_PASSWORD",
  },
  {
    name: "secrets file readable by others",
    yaml: host(),
    secrets: "vars:\n  relay_password: hunter2hunter2\n",
    mode: 0o644,
    expect: "$DIR/inventory.secrets.yml: secrets file is accessible by group or others (mode 0644) — run `chmod 600 $DIR/inventory.secrets.yml`",
  },
  {
    name: "unknown secret key",
    yaml: host(),
    secrets: "vars:\n  relay_pasword: hunter2hunter2\n",
    expect: 'inventory.secrets.yml:2: vars.relay_pasword: unknown secret — did you mean "relay_password"?',
  },
  {
    name: "non-secret setting in the secrets file",
    yaml: host(),
    secrets: "hosts:\n  mx1:\n    motd_message: hi\n",
    expect: "inventory.secrets.yml:3: hosts.mx1.motd_message: is not a secret: set it in the inventory's `vars:` instead",
  },
  {
    name: "unknown host in the secrets file",
    yaml: host(),
    secrets: "hosts:\n  mx2:\n    backup_passphrase: long-phrase\n",
    expect: 'inventory.secrets.yml:2: hosts.mx2: unknown host — did you mean "mx1"?',
  },
  {
    name: "secret of wrong type does not echo the value",
    yaml: host(),
    secrets: "vars:\n  relay_password: 12345678901\n",
    expect: "inventory.secrets.yml:2: vars.relay_password: must be a string of at least 8 characters (got a number)",
  },
  {
    name: "required secret missing",
    yaml: host(),
    env: { MAILSTEAD_SECRET_RELAY_PASSWORD: undefined as unknown as string },
    expect: [
      'inventory.secrets.yml: secret "relay_password" has no value for host mx1',
      "add `relay_password: ...` under `vars:` in $DIR/inventory.secrets.yml",
      "or set MAILSTEAD_SECRET_RELAY_PASSWORD (or MAILSTEAD_SECRET_MX1__RELAY_PASSWORD)",
    ],
  },
  {
    name: "env secret invalid",
    yaml: host(),
    env: { MAILSTEAD_SECRET_RELAY_PASSWORD: "short" },
    expect: "environment: MAILSTEAD_SECRET_RELAY_PASSWORD: must be a string of at least 8 characters (got a string of 5 characters)",
  },
  {
    name: "missing key file",
    yaml: host("    ssh:\n      key: keys/nope\n"),
    expect: ["inventory.yml:5: hosts.mx1.ssh.key: key file $DIR/keys/nope does not exist", "ssh-keygen -t ed25519 -f $DIR/keys/nope"],
  },
  {
    name: "duplicate host address",
    yaml: `${host()}  mx2:\n    address: 203.0.113.7\n    ssh: { port: 22 }\n`,
    expect: 'inventory.yml:5: hosts.mx2.address: same address and port as host "mx1" (203.0.113.7:22)',
  },
  {
    name: "group named like a host",
    yaml: `${host()}groups:\n  mx1:\n    hosts: [mx1]\n`,
    expect: "inventory.yml:5: groups.mx1: a host has the same name; --limit would be ambiguous",
  },
  {
    name: "empty file",
    yaml: "# nothing yet\n",
    expect: "inventory.yml:1: must be a mapping with at least a `hosts:` key (got null)",
  },
];

describe("loadInventory rejects bad inventories", () => {
  it.each(bad)("$name", (c) => {
    const { dir, file, env } = setup(c);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const message = errorOf(() => loadInventory(file, { settings, env }));
    for (const want of [c.expect].flat()) expect(message).toContain(want.replaceAll("$DIR", dir));
  });

  it("has at least 20 cases", () => expect(bad.length).toBeGreaterThanOrEqual(20));

  it("reports a missing file with the copy fix", () => {
    const message = errorOf(() => loadInventory("inventory/nope.yml", { settings, env: {} }));
    expect(message).toBe("inventory/nope.yml: file not found — copy inventory/example.yml to inventory/nope.yml and edit it (or pass the right path)");
  });

  it("reports every problem at once, sorted by line, in one error", () => {
    const yaml = [
      "vars:",
      "  motd_mesage: hi", // 2
      "hosts:",
      "  mx1:",
      "    address: 203.0.113.7",
      "    ssh:",
      "      port: 0", // 7
      "      prot: 22", // 8
      "groups:",
      "  mail:",
      "    hosts: [mx3]", // 11
      "bogus: 1", // 12
    ].join("\n");
    const { file, env } = setup({ yaml, secrets: "vars:\n  relay_pasword: x\n" });
    let err: InventoryError | undefined;
    try {
      loadInventory(file, { settings, env });
    } catch (e) {
      err = e as InventoryError;
    }
    expect(err).toBeInstanceOf(InventoryError);
    expect(err!.problems.map((p) => [p.file.endsWith("secrets.yml") ? "secrets" : "inv", p.line, p.path])).toEqual([
      ["inv", 2, "vars.motd_mesage"],
      ["inv", 7, "hosts.mx1.ssh.port"],
      ["inv", 8, "hosts.mx1.ssh.prot"],
      ["inv", 11, "groups.mail.hosts[0]"],
      ["inv", 12, "bogus"],
      ["secrets", 2, "vars.relay_pasword"],
    ]);
    expect(err!.message.split("\n")).toHaveLength(6);
  });
});

describe("loadInventory builds hosts", () => {
  const env = { HOME: "/home/tester", SSH_AUTH_SOCK: "/agent", MAILSTEAD_SECRET_RELAY_PASSWORD: "correct-horse" };

  it("applies vars precedence: defaults < global < groups in file order < host", () => {
    const inv = loadInventory(join(FIXTURES, "good.yml"), { settings, env });
    const [mx1, mx2] = inv.hosts;
    expect(mx1!.vars).toMatchObject({ motd_enabled: true, motd_message: "host", motd_contact: "group-mail", web_port: 3000, web_mode: "tls" });
    expect(mx2!.vars).toMatchObject({ motd_message: "global", motd_contact: "group-mail", web_port: 2000, relay_password: "correct-horse" });
    expect(mx1!.groups).toEqual(["mail", "late"]);
    expect(inv.groups).toEqual({ mail: ["mx1", "mx2"], late: ["mx1"] });
    expect(inv.warnings).toEqual([]);
  });

  it("resolves relative paths against the inventory's directory and applies ssh defaults", () => {
    const inv = loadInventory(join(FIXTURES, "good.yml"), { settings, env });
    expect(inv.hosts[0]!.ssh).toEqual({
      user: "debian",
      port: 22,
      key: join(FIXTURES, "keys/id_test"),
      knownHosts: join(FIXTURES, "known_hosts"),
      timeoutMs: 120_000,
      connectTimeoutMs: 20_000,
    });
    expect(inv.hosts[1]!.ssh).toEqual({ user: "root", port: 22, knownHosts: "/home/tester/.ssh/known_hosts", timeoutMs: 600_000, connectTimeoutMs: 20_000 });
  });

  it("expands ~ in key and known_hosts", () => {
    const { dir, file, env: e } = setup({ yaml: host("    ssh:\n      key: ~/id_home\n      known_hosts: ~/kh\n"), files: { id_home: "placeholder" } });
    const inv = loadInventory(file, { settings, env: e });
    expect(inv.hosts[0]!.ssh.key).toBe(join(dir, "id_home"));
    expect(inv.hosts[0]!.ssh.knownHosts).toBe(join(dir, "kh"));
  });

  it("accepts IPv6 addresses and DNS names", () => {
    const inv = load({ yaml: `${host()}  mx2:\n    address: "2001:db8::7"\n  mx3:\n    address: mx3.example.org.\n` });
    expect(inv.hosts.map((h) => h.address)).toEqual(["203.0.113.7", "2001:db8::7", "mx3.example.org."]);
  });

  it("connection: local needs no address", () => {
    const inv = load({ yaml: "hosts:\n  self:\n    connection: local\n" });
    expect(inv.hosts[0]).toMatchObject({ name: "self", connection: "local", address: "localhost" });
  });

  it("does not require a role's settings when the role is switched off", () => {
    const { file, env: e } = setup({ yaml: `vars:\n  relay_enabled: false\n${host()}` });
    delete (e as Record<string, string | undefined>).MAILSTEAD_SECRET_RELAY_PASSWORD;
    expect(loadInventory(file, { settings, env: e }).hosts[0]!.vars.relay_password).toBeUndefined();
  });

  it("warns when there is neither a key nor an ssh-agent", () => {
    const { file, env: e } = setup({ yaml: host() });
    delete (e as Record<string, string | undefined>).SSH_AUTH_SOCK;
    expect(loadInventory(file, { settings, env: e }).warnings).toEqual([
      "host mx1: no ssh.key and SSH_AUTH_SOCK is not set — start ssh-agent or set hosts.mx1.ssh.key",
    ]);
  });
});

describe("selectHosts", () => {
  const inv = loadInventory(join(FIXTURES, "good.yml"), { settings, env: { SSH_AUTH_SOCK: "/a", MAILSTEAD_SECRET_RELAY_PASSWORD: "correct-horse" } });
  const names = (limit?: string) => selectHosts(inv, limit).map((h) => h.name);

  it("selects by host, group, list, or all", () => {
    expect(names()).toEqual(["mx1", "mx2"]);
    expect(names("all")).toEqual(["mx1", "mx2"]);
    expect(names("mx2")).toEqual(["mx2"]);
    expect(names("late")).toEqual(["mx1"]);
    expect(names("mx2, mx1")).toEqual(["mx1", "mx2"]);
  });

  it("rejects an unknown name with did-you-mean, naming the inventory file", () => {
    const message = errorOf(() => selectHosts(inv, "mx1,mx3"));
    expect(message).toBe(`${inv.file}: --limit "mx3" matches no host or group — did you mean "mx1"? — known hosts: mx1, mx2; groups: mail, late`);
  });
});

describe("shipped files", () => {
  it("inventory/schema.json is up to date (run `npx tsx scripts/gen-schema.ts`)", () => {
    expect(readFileSync(SCHEMA_PATH, "utf8")).toBe(schemaText());
    expect(JSON.parse(schemaText())).toEqual(buildInventorySchema(allSettings()));
  });

  it("inventory/example.yml and example.secrets.yml load cleanly", () => {
    const dir = mkdtempSync(join(tmpdir(), "mailstead-example-"));
    copyFileSync(join(EXAMPLES, "example.yml"), join(dir, "example.yml"));
    copyFileSync(join(EXAMPLES, "example.secrets.yml"), join(dir, "example.secrets.yml"));
    chmodSync(join(dir, "example.secrets.yml"), 0o600); // git does not keep modes
    mkdirSync(join(dir, ".ssh"));
    writeFileSync(join(dir, ".ssh", "id_ed25519"), "placeholder");
    const inv = loadInventory(join(dir, "example.yml"), { settings: allSettings(), env: { HOME: dir } });
    expect(inv.hosts.map((h) => [h.name, h.connection, h.address, h.ssh.user])).toEqual([["mx1", "ssh", "203.0.113.7", "debian"]]);
    expect(inv.hosts[0]!.vars.motd_contact).toBe("admin@example.org");
    expect(inv.warnings).toEqual([]);
  });
});

describe("renamed settings (Setting.formerly)", () => {
  const renamedSettings = { ...settings, web_port: { ...settings.web_port!, formerly: ["http_port"] } };
  const hosts = "hosts:\n  mx1:\n    address: 198.51.100.10\n";
  const loadWith = (yaml: string) => {
    const { file, env } = setup({ yaml });
    return { file, run: () => loadInventory(file, { settings: renamedSettings, env }) };
  };

  it("an old name still loads, under the new name, with a warning at its line (global, group and host vars)", () => {
    const { file, run } = loadWith(`vars:\n  http_port: 8443\n${hosts}    vars:\n      http_port: 9443\n`);
    const inv = run();
    expect(inv.hosts[0]!.vars.web_port).toBe(9443);
    expect(inv.hosts[0]!.vars).not.toHaveProperty("http_port");
    expect(inv.warnings).toEqual(expect.arrayContaining([
      `${file}:2: vars.http_port is now called web_port: rename it (the old name still loads, for now)`,
      `${file}:7: hosts.mx1.vars.http_port is now called web_port: rename it (the old name still loads, for now)`,
    ]));
  });

  it("a bad value under the old name is reported at the old name's line", () => {
    const { file, run } = loadWith(`vars:\n  http_port: 99999\n${hosts}`);
    expect(run).toThrow(InventoryError);
    try {
      run();
    } catch (e) {
      expect((e as InventoryError).problems[0]).toMatchObject({ file, line: 2 });
    }
  });

  it("both names at once is refused", () => {
    const { run } = loadWith(`vars:\n  http_port: 8443\n  web_port: 443\n${hosts}`);
    expect(run).toThrow(/http_port is the old name of web_port, and both are set — keep only web_port/);
  });
});
