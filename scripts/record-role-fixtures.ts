/**
 * Record role fixtures from a lab VM (tests/unit/fixtures/roles/<role>/<release>-<case>.json):
 * for every site role, the host's inventory vars (those that differ from the
 * defaults), the OS, and every fact the role's planning reads, gathered from
 * the live VM. tests/unit/role-fixtures.test.ts plans each role against these
 * facts with the runner's own planner (lib/plan.ts) and compares the result
 * with the fixture's `expect` (written here, `--expect-only` rewrites only it).
 *
 *   npm run lab -- up                       # fresh VMs
 *   npx tsx scripts/record-role-fixtures.ts --host mx1 --case fresh
 *   npx tsx playbooks/site.ts -i tests/lab/.state/inventory.yml --limit mx1
 *   npx tsx scripts/record-role-fixtures.ts --host mx1 --case converged
 *   npx tsx scripts/record-role-fixtures.ts --expect-only   # after a deliberate change
 *
 * Secrets (the lab's backup password and key): a fixture holds a placeholder
 * (`placeholder-<name>`) instead, and a file that holds the real secret in sync
 * is recorded as holding what the placeholder would render, so neither a
 * secret nor its hash reaches git and a converged case still plans nothing.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { defaultValues } from "../lib/defaults.js";
import { osRelease, type OsRelease } from "../lib/facts/os.js";
import { fileStat } from "../lib/facts/files.js";
import { sha256 } from "../lib/operations/files.js";
import { ref, type FactReader, type FactRef } from "../lib/facts/types.js";
import { Host } from "../lib/host.js";
import { loadInventory, selectHosts } from "../lib/inventory/index.js";
import { isFlush } from "../lib/role.js";
import { planRole, roleContext, roleFacts, roleSteps } from "../lib/plan.js";
import { transportFor } from "../lib/transport/index.js";
import { allSettings, siteRoles } from "../roles/registry.js";
import { expectedOf, FIXTURE_DIR, siteInput, siteVars, type RoleFixture } from "../tests/unit/role-fixture.js";

const { values } = parseArgs({
  options: {
    inventory: { type: "string", short: "i", default: "tests/lab/.state/inventory.yml" },
    host: { type: "string", default: "mx1" },
    case: { type: "string", default: "fresh" },
    "expect-only": { type: "boolean", default: false },
  },
});

if (values["expect-only"]) {
  for (const role of siteRoles) {
    const dir = join(FIXTURE_DIR, role.name);
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".json"))) {
      const fx = JSON.parse(readFileSync(join(dir, f), "utf8")) as RoleFixture;
      fx.expect = expectedOf(planRole(role, siteInput(fx)));
      writeFileSync(join(dir, f), `${JSON.stringify(fx, null, 2)}\n`);
    }
  }
  process.exit(0);
}

const settings = allSettings();
const inv = loadInventory(resolve(values.inventory!), { settings, roles: siteRoles });
const [spec] = selectHosts(inv, values.host);
if (!spec) throw new Error(`no host ${values.host}`);
const defaults = defaultValues(settings);
const vars: Record<string, unknown> = {};
const realVars: Record<string, unknown> = {};
for (const [k, v] of Object.entries(spec.vars)) {
  if (JSON.stringify(v) === JSON.stringify(defaults[k])) continue;
  realVars[k] = v;
  vars[k] = settings[k]?.sensitive ? `placeholder-${k}` : v;
}
if (JSON.stringify(siteVars(realVars)) !== JSON.stringify(spec.vars)) throw new Error("the loader's vars are not the defaults plus the inventory's: siteVars() must follow it");

/** Facts as the placeholder plan would have found them: a secret file in sync holds the placeholder's content. */
function scrubbed(role: (typeof siteRoles)[number], facts: Record<string, unknown>, os: OsRelease): Record<string, unknown> {
  // Each secret step planned as if its file did not exist shows the content it would write.
  const noFiles: FactReader = { get: <T>(r: FactRef<T>) => (r.fact.name === fileStat.name ? null : facts[r.key]) as T };
  const contents = (v: Record<string, unknown>) => {
    const { steps } = roleSteps(role, roleContext(role, { ...siteInput({ host: spec!.name, os, vars: v, facts: {}, sshPort: spec!.ssh.port }), facts: noFiles }));
    const out = new Map<string, { path: string; after: string }>();
    for (const st of steps) {
      if (isFlush(st) || !st.sensitive || st.when === false) continue;
      const f = st.action.plan(noFiles).file;
      if (f?.after !== undefined) out.set(st.title, { path: f.path, after: f.after });
    }
    return out;
  };
  const fake = contents(vars);
  const out = { ...facts };
  for (const [title, real] of contents(realVars)) {
    const after = fake.get(title)?.after;
    if (after === undefined) continue;
    const key = ref(fileStat, real.path).key;
    const stat = out[key] as { sha256?: string; size?: number } | null | undefined;
    if (!stat) continue;
    if (stat.sha256 !== sha256(real.after)) throw new Error(`${real.path} does not hold the inventory's secret: converge before recording`);
    out[key] = { ...stat, sha256: sha256(after), size: Buffer.byteLength(after) };
  }
  return out;
}

const host = new Host(spec.name, spec.vars, transportFor(spec, false), spec.ssh.port);
try {
  const os = await host.fact(ref(osRelease, undefined));
  const release = `debian${os.versionId}`;
  for (const role of siteRoles) {
    await host.gather(roleFacts(role, spec.vars));
    const input = { ...siteInput({ host: spec.name, os, vars: realVars, facts: {}, sshPort: spec.ssh.port }), facts: host };
    const { steps, handlers } = roleSteps(role, roleContext(role, input));
    const wanted: FactRef[] = [];
    for (const s of steps) if (!isFlush(s) && s.when !== false) wanted.push(...s.action.facts);
    for (const h of handlers) wanted.push(...h.action.facts);
    await host.gather(wanted);
    const plan = planRole(role, input);
    const allKeys = new Set(plan.facts);
    const facts = scrubbed(role, Object.fromEntries([...allKeys].sort().map((k) => [k, host.get({ key: k } as FactRef)])), os);
    const fx: RoleFixture = {
      description: `${role.name} on ${spec.name} (${release}, ${values.case}), facts recorded from the lab VM`,
      host: spec.name,
      os,
      vars,
      facts,
      sshPort: spec.ssh.port,
      expect: expectedOf(planRole(role, siteInput({ host: spec.name, os, vars, facts, sshPort: spec.ssh.port }))),
    };
    const dir = join(FIXTURE_DIR, role.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${release}-${values.case}.json`), `${JSON.stringify(fx, null, 2)}\n`);
    console.log(`${role.name}: ${fx.expect.steps.filter((s) => s.status === "change").length} changing of ${plan.steps.length} steps, ${allKeys.size} facts`);
  }
} finally {
  await host.transport.close();
}
