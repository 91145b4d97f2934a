/** The budget role: sizes that make sense, the slice and drop-ins it renders (from its recorded fixture). */
import { describe, expect, it } from "vitest";
import { defaultValues } from "../../lib/defaults.js";
import { planRole } from "../../lib/plan.js";
import { budget, bytes } from "../../roles/budget/index.js";
import { budgetDefaults } from "../../roles/budget/defaults.js";
import { loadRoleFixture, siteInput } from "./role-fixture.js";

const vars = (over: Record<string, unknown> = {}) => ({ ...defaultValues(budgetDefaults), ...over }) as never;
const ctx = { host: "h", loginUser: "debian" };

describe("budget role", () => {
  it("reads systemd sizes", () => {
    expect(bytes("100M")).toBe(100 * 1024 ** 2);
    expect(bytes("1G")).toBe(1024 ** 3);
    expect(bytes("512K")).toBe(512 * 1024);
    expect(bytes("4096")).toBe(4096);
    expect(bytes("1T")).toBeNaN();
  });

  it("refuses sizes that do not make sense when the inventory loads", () => {
    expect(budget.validate!(vars(), ctx)).toEqual([]);
    expect(budget.validate!(vars({ budget_memory_high: "120M" }), ctx).map((p) => p.setting)).toEqual(["budget_memory_high"]);
    expect(budget.validate!(vars({ budget_memory_low: "95M" }), ctx).map((p) => p.setting)).toEqual(["budget_memory_low"]);
    expect(budget.validate!(vars({ budget_memory_max: "32M", budget_memory_high: "30M", budget_memory_low: "20M", budget_service_memory_max: {} }), ctx).map((p) => p.setting)).toEqual(["budget_memory_max"]);
    // A service's own limit: for a service in the slice, and below the slice's cap.
    const own = (m: Record<string, string>) => budget.validate!(vars({ budget_service_memory_max: m }), ctx).map((p) => p.message);
    expect(own({ "nginx.service": "20M" })).toEqual([expect.stringMatching(/^nginx\.service has a limit but is not one of budget_services/)]);
    expect(own({ "fail2ban.service": "200M" })).toEqual([expect.stringMatching(/^fail2ban\.service's limit 200M is above the slice's MemoryMax 100M/)]);
    expect(budget.validate!(vars({ budget_service_oom_score_adjust: { "nginx.service": 100 } }), ctx).map((p) => p.message)).toEqual([expect.stringMatching(/^nginx\.service has an OOM score adjustment but is not one of budget_services/)]);
    expect(budget.validate!(vars({ budget_enabled: false, budget_memory_high: "120M" }), ctx)).toEqual([]);
  });

  it("renders the slice with the limits and one drop-in per service, all notifying daemon-reload", () => {
    const fx = loadRoleFixture("budget", "debian12-fresh");
    const plan = planRole(budget, siteInput(fx));
    const slice = plan.steps[0]!;
    expect(slice.file?.path).toBe("/etc/systemd/system/mail.slice");
    for (const l of ["MemoryMax=100M", "MemoryHigh=90M", "MemoryLow=40M", "MemorySwapMax=0"]) expect(slice.file?.after).toMatch(new RegExp(`^${l}$`, "m"));
    const dropins = plan.steps.filter((s) => s.title.startsWith("Run ")).map((s) => [s.file?.path, /^Slice=mail\.slice$/m.test(s.file?.after ?? "")]);
    expect(dropins).toEqual([
      ["/etc/systemd/system/postfix@.service.d/50-mailstead-budget.conf", true],
      ["/etc/systemd/system/postfix.service.d/50-mailstead-budget.conf", true],
      ["/etc/systemd/system/dovecot.service.d/50-mailstead-budget.conf", true],
      ["/etc/systemd/system/opendkim.service.d/50-mailstead-budget.conf", true],
      ["/etc/systemd/system/opendmarc.service.d/50-mailstead-budget.conf", true],
      ["/etc/systemd/system/fail2ban.service.d/50-mailstead-budget.conf", true],
      ["/etc/systemd/system/lighttpd.service.d/50-mailstead-budget.conf", true],
      ["/etc/systemd/system/mailstead-webmail.service.d/50-mailstead-budget.conf", true],
      ["/etc/systemd/system/mailstead-webmail-php.service.d/50-mailstead-budget.conf", true],
      ["/etc/systemd/system/monit.service.d/50-mailstead-budget.conf", true],
    ]);
    expect(plan.handlers.map((h) => h.title)).toEqual(["daemon-reload", "apply the limits", "move the services into the slice"]);
    // Every drop-in brings its service back after a kill and keeps one killed child from stopping it;
    // the helpers get their own share of the cap, Postfix and Dovecot none.
    const dropin = (unit: string) => plan.steps.find((s) => s.title === `Run ${unit} in mail.slice`)!.file!.after!;
    for (const u of ["postfix@.service", "postfix.service", "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service"]) {
      expect(dropin(u)).toMatch(/^Restart=on-failure$/m);
      expect(dropin(u)).toMatch(/^RestartSec=5s$/m);
      expect(dropin(u)).toMatch(/^OOMPolicy=continue$/m);
      expect(dropin(u)).toMatch(/^TimeoutStopSec=20s$/m);
    }
    expect(["fail2ban.service", "opendkim.service", "opendmarc.service", "dovecot.service", "postfix.service"].map((u) => /^MemoryMax=(.*)$/m.exec(dropin(u))?.[1] ?? null)).toEqual(["48M", "32M", "32M", null, null]);
    // At the cap the webmail's PHP goes first, then fail2ban; the others keep the kernel's own choice.
    const adj = (u: string) => /^OOMScoreAdjust=(.*)$/m.exec(dropin(u))?.[1] ?? null;
    expect(["mailstead-webmail-php.service", "fail2ban.service", "opendkim.service", "dovecot.service", "postfix@.service"].map(adj)).toEqual(["200", "100", null, null, null]);
    expect(plan.handlers[2]!.commands[0]!.run).toContain("systemctl list-units --type=service --state=active --no-legend --plain 'postfix@*.service' postfix.service dovecot.service");
  });
});
