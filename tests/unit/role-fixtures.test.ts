/**
 * Roles tested as data: each fixture under tests/unit/fixtures/roles/<role>/
 * holds a host's vars and the facts recorded from a lab VM (Debian 12 and 13,
 * fresh and converged; scripts/record-role-fixtures.ts). The runner's own
 * planner must make exactly the recorded steps and commands of them, and a
 * converged host must plan no command at all.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planRole } from "../../lib/plan.js";
import { derived } from "../../roles/derived.js";
import { allSettings, siteRoles } from "../../roles/registry.js";
import { expectedOf, FIXTURE_DIR, loadRoleFixture, siteInput, type RoleFixture } from "./role-fixture.js";

const load = (role: string, f: string) => JSON.parse(readFileSync(join(FIXTURE_DIR, role, f), "utf8")) as RoleFixture;
const cases = (role: string) => readdirSync(join(FIXTURE_DIR, role)).filter((f) => f.endsWith(".json")).sort();

describe("role fixtures", () => {
  for (const role of siteRoles) {
    it(`${role.name}: fresh and converged cases on Debian 12 and 13`, () => {
      expect(cases(role.name)).toEqual(expect.arrayContaining(["debian12-fresh.json", "debian12-converged.json", "debian13-fresh.json", "debian13-converged.json"]));
    });
    for (const f of cases(role.name)) {
      const fx = load(role.name, f);
      it(`${role.name}/${f}: ${fx.description}`, () => {
        expect(`debian${fx.os.versionId}`).toBe(f.split("-")[0]);
        const plan = planRole(role, siteInput(fx));
        expect(expectedOf(plan)).toEqual(fx.expect);
        // No secret reaches git: a secret setting is recorded as its placeholder (the recorder also
        // records a secret file in sync as holding the placeholder's content, never the real hash).
        for (const [k, val] of Object.entries(fx.vars)) if (allSettings()[k]?.sensitive) expect(val, k).toBe(`placeholder-${k}`);
        // Every recorded fact is read: a fixture cannot carry stale facts that hide a change.
        expect(Object.keys(fx.facts).sort()).toEqual(plan.facts);
        if (f.includes("-converged")) {
          const changing = plan.steps.filter((s) => s.status !== "ok" && s.status !== "skip").map((s) => `${s.title}: ${s.commands.join("; ") || s.error}`);
          expect(changing, "a converged host plans no command").toEqual([]);
          expect(plan.handlers).toEqual([]);
        } else if (role.name !== "dns") {
          expect(plan.steps.some((s) => s.status === "change"), "a fresh host has something to do").toBe(true);
        }
      });
    }
  }
});

describe("switches", () => {
  it("a setting named <role>_enabled is that role's switch, and every switch is one", () => {
    for (const role of siteRoles) {
      const own = Object.keys(role.settings).filter((k) => k === `${role.name}_enabled`);
      expect(role.switch?.setting ? [role.switch.setting] : [], role.name).toEqual(own);
      if (role.switch) expect((role.settings[role.switch.setting]!.schema as { type: string }).type).toBe("boolean");
    }
    // The two switches that are security decisions say what switching them off leaves open.
    expect(siteRoles.filter((r) => r.switch?.security).map((r) => r.name).sort()).toEqual(["fail2ban", "firewall"]);
  });
});

describe("one room per setting", () => {
  it("a role's templates read another role's setting only when it says so, and why", () => {
    const all = new Map(siteRoles.flatMap((r) => Object.keys(r.settings).map((k) => [k, r.name] as const)));
    for (const role of siteRoles) {
      for (const [k, why] of Object.entries(role.reads ?? {})) {
        expect(all.get(k), `${role.name} reads ${k}, which no role declares`).toBeDefined();
        expect(all.get(k), `${role.name} reads its own ${k}`).not.toBe(role.name);
        expect(why.length, `${role.name} reads ${k} without a why`).toBeGreaterThan(20);
      }
    }
  });
});

describe("state (what a rebuild must restore; the backup role reads it)", () => {
  it("every role that keeps state on the host declares it: mail, queue, keys, certificates, users", () => {
    const fx = loadRoleFixture("mailbox", "debian12-converged");
    const vars = siteInput(fx).vars;
    const paths = siteRoles.flatMap((r) => (r.state?.(vars) ?? []).map((s) => `${r.name} ${s.path}${s.secret ? " (secret)" : ""}`));
    expect(paths.sort()).toEqual([
      "certbot /etc/letsencrypt (secret)",
      "dovecot /etc/dovecot/users (secret)",
      "dovecot /etc/dovecot/sieve",
      "mailbox /var/mail/vhosts",
      "opendkim /etc/opendkim/keys (secret)",
      "postfix /var/spool/postfix",
      "tls /etc/mailstead/tls (secret)",
      // the lab's mx1 has the webmail on: Roundcube's database and its des_key
      "webmail /var/lib/dbconfig-common/sqlite3/roundcube",
      "webmail /etc/mailstead/webmail (secret)",
    ].sort());
    for (const r of siteRoles) for (const s of r.state?.(vars) ?? []) expect(s.what.length, `${r.name} ${s.path}`).toBeGreaterThan(15);
  });
});

describe("derived values", () => {
  it("are computed once per host (its vars object), in roles/derived.ts", () => {
    const vars = siteInput(loadRoleFixture("postfix", "debian12-fresh")).vars;
    const d = derived(vars as never);
    expect(derived(vars as never)).toBe(d);
    expect(d.fqdn).toBe("mx1.example.test");
    expect(d.mailDomain).toBe("example.test");
    expect(d.model).toBe(d.model);
    expect(d.model.mailboxes.map((m) => m.address)).toEqual(["alice@example.test"]);
    // Another host's vars, another value.
    expect(derived({ ...vars, base_hostname: "mx9" } as never).fqdn).toBe("mx9.example.test");
  });
});
