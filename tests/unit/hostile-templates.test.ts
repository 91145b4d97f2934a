/**
 * Defence in depth behind the loader: every role is planned (with the
 * runner's own planner, against the facts recorded in its fixtures, Debian 12
 * and 13) with a hostile value in each string setting in turn, as if the
 * inventory checks had let it through.
 * - A line break never adds a line to a file a role writes: the template
 *   engine refuses `{{value}}` with a line break (or the role's own model
 *   refuses the value), so the rendered files keep their lines.
 * - Shell syntax never becomes shell code: in every planned command and every
 *   rendered script, the value only ever sits where the shell takes it as
 *   data (single quotes, a quoted heredoc, a comment).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TemplateError } from "../../lib/errors.js";
import { planRole, type RolePlan } from "../../lib/plan.js";
import type { Role } from "../../lib/role.js";
import { allSettings, siteRoles } from "../../roles/registry.js";
import { FIXTURE_DIR, lenientFacts, siteInput, type RoleFixture } from "./role-fixture.js";
import { liveOccurrences } from "./shell-scan.js";

/** Several lines by design; each is rendered `{{{raw}}}` into a file of its own kind, or is a whole file (a PEM or OpenSSH key; see hostile-inventory.test.ts). */
const MULTILINE = new Set(["dovecot_extra_conf", "motd_message", "certbot_dns_credentials", "certbot_ca_bundle", "backup_ca_bundle", "backup_sftp_key"]);

const LINE = "x\ninjected_directive = 1";
// No whitespace: a value that splits a line is refused before it could reach a shell.
const SHELL = "x'\";$(reboot)";
const MARK = "$(reboot)";

/** A hostile value in one place: the vars to lay over a fixture's. */
type Hostile = { label: string; apply(fx: RoleFixture): Record<string, unknown> };

/** Every way a string setting can carry a hostile value: itself, an item of a list, a field of a list's records. */
function hostileVariants(value: string): Hostile[] {
  const out: Hostile[] = [];
  for (const [name, s] of Object.entries(allSettings())) {
    const sc = s.schema as {
      type?: unknown; enum?: unknown;
      items?: { type?: unknown; enum?: unknown; properties?: Record<string, { type?: unknown; enum?: unknown }> };
      additionalProperties?: { type?: unknown; items?: { type?: unknown } };
    };
    if (sc.type === "string" && !sc.enum) out.push({ label: name, apply: () => ({ [name]: value }) });
    else if (sc.type === "array" && sc.items?.type === "string" && !sc.items.enum) out.push({ label: `${name}[0]`, apply: () => ({ [name]: [value] }) });
    else if (sc.type === "object" && sc.additionalProperties) {
      // A mapping: a hostile key, and a hostile value (or list item) under a plain key.
      const many = sc.additionalProperties.type === "array";
      const plain = many ? ["alice"] : "x";
      out.push({ label: `${name}{key}`, apply: () => ({ [name]: { [value]: plain } }) });
      out.push({ label: `${name}.value`, apply: () => ({ [name]: { sales: many ? [value] : value } }) });
    } else if (sc.type === "array" && sc.items?.type === "object" && sc.items.properties) {
      for (const [field, p] of Object.entries(sc.items.properties)) {
        if (p.type !== "string" || p.enum) continue;
        out.push({
          label: `${name}[0].${field}`,
          apply(fx) {
            const list = (siteInput(fx).vars[name] as Record<string, unknown>[] | undefined) ?? [];
            return { [name]: [{ ...(list[0] ?? {}), [field]: value }, ...list.slice(1)] };
          },
        });
      }
    }
  }
  return out;
}

function planWith(role: Role, fx: RoleFixture, vars: Record<string, unknown>): RolePlan | Error {
  const input = siteInput({ ...fx, vars: { ...fx.vars, ...vars } });
  try {
    return planRole(role, { ...input, facts: lenientFacts(fx.facts) });
  } catch (e) {
    return e as Error;
  }
}

const outputs = (p: RolePlan) => [...p.steps, ...p.handlers].flatMap((s) => s.commands.map((c) => ({ title: s.title, run: c.run, stdin: c.stdin === undefined ? undefined : String(c.stdin) })));

const fixtures = siteRoles.flatMap((role) =>
  readdirSync(join(FIXTURE_DIR, role.name))
    .filter((f) => f.endsWith("-fresh.json"))
    .map((f) => ({ role, f, fx: JSON.parse(readFileSync(join(FIXTURE_DIR, role.name, f), "utf8")) as RoleFixture })),
);

describe("a line break in any value never adds a line to a file", () => {
  const variants = hostileVariants(LINE).filter((h) => !MULTILINE.has(h.label.replace(/\[.*$/, "")));
  it("covers the string settings and the users' fields", () => {
    expect(variants.length).toBeGreaterThan(50);
    expect(variants.map((v) => v.label)).toEqual(expect.arrayContaining(["mailbox_users[0].name", "mailbox_aliases{key}", "mailbox_aliases.value", "postfix_extra_main_cf.value"]));
  });
  for (const { role, f, fx } of fixtures) {
    it(`${role.name} (${f}): refused or kept on its own line`, () => {
      const leaks: string[] = [];
      let refusedByTemplate = 0;
      for (const h of variants) {
        const r = planWith(role, fx, h.apply(fx));
        if (r instanceof Error) {
          // Refused: by the template engine, or by the role's own model of the value.
          // Any refusal is safe (nothing is planned); a plain crash is a bug, but not a leak.
          if (r instanceof TemplateError) refusedByTemplate++;
          continue;
        }
        for (const o of outputs(r)) {
          for (const text of [o.stdin ?? ""]) {
            if (text.split("\n").some((l) => l.trimStart().startsWith("injected_directive"))) leaks.push(`${h.label} → ${o.title}: a line of its own in the file`);
          }
          if (o.run.split("\n").some((l) => l.trimStart().startsWith("injected_directive")) && liveOccurrences(o.run, "injected_directive").length > 0) {
            leaks.push(`${h.label} → ${o.title}: a line of its own in a command`);
          }
        }
      }
      expect(leaks.join("\n")).toBe("");
      // Something in this role really renders values (else the test proves nothing for it).
      // A role that renders a template here refuses at least one value (else the test proves nothing for it).
      const baseline = planWith(role, fx, {});
      if (baseline instanceof Error) throw baseline;
      const renders = [...baseline.steps, ...baseline.handlers].some((s) => s.file && s.kind === "step" && s.title.startsWith("Render"));
      if (renders) expect(refusedByTemplate).toBeGreaterThan(0);
    });
  }
});

describe("shell syntax in any value never becomes shell code", () => {
  const variants = hostileVariants(SHELL);
  for (const { role, f, fx } of fixtures) {
    it(`${role.name} (${f}): the value is only ever data to the shell`, () => {
      const live: string[] = [];
      for (const h of variants) {
        const r = planWith(role, fx, h.apply(fx));
        if (r instanceof Error) continue; // refused before any command exists
        for (const o of outputs(r)) {
          for (const hit of liveOccurrences(o.run, MARK)) live.push(`${h.label} → ${o.title} (command) ${hit}`);
          if (o.stdin !== undefined && /^#!\/bin\/(ba|da)?sh/.test(o.stdin)) for (const hit of liveOccurrences(o.stdin, MARK)) live.push(`${h.label} → ${o.title} (script) ${hit}`);
        }
      }
      expect(live.join("\n")).toBe("");
    });
  }
});
