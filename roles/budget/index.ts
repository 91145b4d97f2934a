/**
 * The memory budget: one systemd slice (budget_slice, mail.slice) with the
 * mail stack's limits, and a drop-in per long-running mail service putting it
 * there. Runs before the services' roles: a drop-in for a unit not installed
 * yet is picked up when the package installs it, so a fresh host's services
 * start inside the slice. Short jobs (apt, certbot) stay outside it.
 */
import { posix } from "node:path";
import { command, directory, file, systemd } from "../../lib/operations/index.js";
import { defineRole, type Step } from "../../lib/role.js";
import { quote } from "../../lib/shell.js";
import { budgetDefaults } from "./defaults.js";
import type { VarsOf } from "../../lib/defaults.js";

export type BudgetVars = VarsOf<typeof budgetDefaults>;

const UNITS = "/etc/systemd/system";
const DROPIN = "50-mailstead-budget.conf";

/** A systemd size (100M, 1G, 512K, bytes) in bytes. */
export function bytes(size: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(size);
  if (!m) return NaN;
  return Number(m[1]) * ({ "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!]!;
}

export const dropinPath = (service: string) => posix.join(UNITS, `${service}.d`, DROPIN);

/**
 * Restart the listed services that run now (a unit's slice changes only on restart); a unit not
 * installed yet is skipped (it starts in the slice when its package installs it). A template
 * (postfix@.service) stands for its running instances.
 */
const restartRunning = (services: string[]) => {
  const patterns = services.map((s) => quote(s.replace(/@\.service$/, "@*.service"))).join(" ");
  return `active=$(systemctl list-units --type=service --state=active --no-legend --plain ${patterns} | awk '{print $1}'); if [ -n "$active" ]; then systemctl restart $active; fi`;
};

export const budget = defineRole<BudgetVars>({
  name: "budget",
  settings: budgetDefaults,
  switch: {
    setting: "budget_enabled",
    // Off: the services leave the slice (their drop-ins removed, restarted once); the slice file stays, empty of services.
    off: (ctx) => {
      const files = ctx.vars.budget_services.map((s) => quote(dropinPath(s)));
      return [{
        title: `Take the mail services out of ${ctx.vars.budget_slice} (budget_enabled is false)`,
        action: command({ run: `rm -f ${files.join(" ")} && systemctl daemon-reload && { ${restartRunning(ctx.vars.budget_services)}; }`, onlyIf: `for f in ${files.join(" ")}; do test -e "$f" && exit 0; done; exit 1` }),
      }];
    },
  },
  validate(v) {
    if (!v.budget_enabled) return [];
    const low = bytes(v.budget_memory_low);
    const high = bytes(v.budget_memory_high);
    const max = bytes(v.budget_memory_max);
    const out = [];
    if (high > max) out.push({ setting: "budget_memory_high", message: `MemoryHigh ${v.budget_memory_high} is above MemoryMax ${v.budget_memory_max}: the throttle would never act before the cap`, fix: "set budget_memory_high below budget_memory_max (e.g. 90M for 100M)" });
    if (low > high) out.push({ setting: "budget_memory_low", message: `MemoryLow ${v.budget_memory_low} is above MemoryHigh ${v.budget_memory_high}`, fix: "set budget_memory_low to what the idle services need (about 40M)" });
    for (const [s, m] of Object.entries(v.budget_service_memory_max)) {
      if (!v.budget_services.includes(s)) out.push({ setting: "budget_service_memory_max", message: `${s} has a limit but is not one of budget_services, so nothing runs it in ${v.budget_slice}`, fix: `add ${s} to budget_services, or remove its limit` });
      else if (bytes(m) > max) out.push({ setting: "budget_service_memory_max", message: `${s}'s limit ${m} is above the slice's MemoryMax ${v.budget_memory_max}: it would never act`, fix: `set it below ${v.budget_memory_max}, or remove it` });
    }
    for (const s of Object.keys(v.budget_service_oom_score_adjust)) {
      if (!v.budget_services.includes(s)) out.push({ setting: "budget_service_oom_score_adjust", message: `${s} has an OOM score adjustment but is not one of budget_services, so no drop-in sets it`, fix: `add ${s} to budget_services, or remove its adjustment` });
    }
    if (max < 48 * 1024 ** 2) out.push({ setting: "budget_memory_max", message: `MemoryMax ${v.budget_memory_max} is below what the idle mail services use (42-56 MiB PSS, docs/memory.md): they would be killed at rest`, fix: "keep budget_memory_max at 100M or more" });
    return out;
  },
  steps(ctx) {
    const v = ctx.vars;
    const steps: Step[] = [
      { title: `Write ${v.budget_slice} (MemoryMax ${v.budget_memory_max})`, action: file({ path: posix.join(UNITS, v.budget_slice), content: ctx.template("slice") }), notify: ["daemon-reload", "apply the limits"] },
    ];
    for (const s of v.budget_services) {
      steps.push(
        { title: `Create ${posix.dirname(dropinPath(s))}`, action: directory({ path: posix.dirname(dropinPath(s)), mode: "0755" }) },
        { title: `Run ${s} in ${v.budget_slice}`, action: file({ path: dropinPath(s), content: ctx.template("dropin", { service: s, memory_max: v.budget_service_memory_max[s] ?? "", oom_score_adjust: v.budget_service_oom_score_adjust[s] ?? 0 }) }), notify: ["daemon-reload", "move the services into the slice"] },
      );
    }
    return steps;
  },
  handlers: (ctx) => [
    { name: "daemon-reload", action: systemd.daemonReload() },
    // Never a restart of the slice: that would stop every service in it. After daemon-reload,
    // systemd applies the slice's new limits to its live cgroup; start creates it the first time.
    { name: "apply the limits", action: command({ run: `systemctl start ${quote(ctx.vars.budget_slice)}` }) },
    { name: "move the services into the slice", action: command({ run: restartRunning(ctx.vars.budget_services) }) },
  ],
});
