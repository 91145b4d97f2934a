/**
 * The base role's decisions, from the facts recorded on a fresh Debian 12 lab
 * VM (tests/unit/fixtures/roles/base/debian12-fresh.json) with single facts
 * changed by key: swap only on small VMs, the security archive only when
 * missing, cloud-init's drop-in only with cloud-init.
 */
import { describe, expect, it } from "vitest";
import { planRole } from "../../lib/plan.js";
import { base } from "../../roles/base/index.js";
import { loadRoleFixture, siteInput } from "./role-fixture.js";

const fx = loadRoleFixture("base", "debian12-fresh");
const SECURITY_SOURCE = Object.keys(fx.facts).find((k) => k.startsWith("command.status:") && k.includes("security\\\\.debian"))!;
const CLOUD_CFG = 'file.stat:"/etc/cloud/cloud.cfg"';
// The lab VMs are containers with plenty of RAM: a 1 GB VM (the Oracle micro) also reads these.
const small = {
  memory: { memTotalKb: 1_000_000, swapTotalKb: 0 },
  "virt.container": "",
  'systemd.unit:"systemd-timesyncd"': { load: "loaded", active: "inactive", sub: "dead", unitFile: "enabled", needDaemonReload: false },
  'file.stat:"/swapfile"': null,
  'command.status:"swapon --show=NAME --noheadings | grep -qx /swapfile"': 1,
  'file.content:"/etc/fstab"': "# /etc/fstab\n",
  'file.stat:"/etc/fstab"': { type: "file", mode: "0644", owner: "root", group: "root", size: 13, sha256: "x" },
};
const ABSENT_SECURITY_SOURCES = { 'file.stat:"/etc/apt/sources.list.d/mailstead-security.sources"': null };

/** The plan with some facts changed (by key) or added; planRole fails on any fact neither holds. */
function plan(facts: Record<string, unknown> = {}) {
  return planRole(base, siteInput({ ...fx, facts: { ...fx.facts, ...facts } }));
}
const active = (facts: Record<string, unknown> = {}) => plan(facts).steps.filter((s) => s.status !== "skip").map((s) => s.title);

describe("base role plan", () => {
  it("the security-source and cloud-init facts are the ones the fixture recorded", () => {
    expect(SECURITY_SOURCE).toBeDefined();
    expect(fx.facts).toHaveProperty([CLOUD_CFG]);
  });

  it("creates and enables a swap file on a 1 GB VM without swap", () => {
    const titles = active(small);
    expect(titles).toContain("Create /swapfile");
    expect(titles).toContain("Enable /swapfile at boot");
    expect(titles).toContain("Turn on /swapfile");
    expect(titles).toContain("Run time synchronisation");
  });

  it("leaves swap alone when there is enough RAM, swap exists, or in a container", () => {
    for (const f of [
      { ...small, memory: { memTotalKb: 4_000_000, swapTotalKb: 0 } },
      { ...small, memory: { memTotalKb: 1_000_000, swapTotalKb: 500_000 } },
      { ...small, "virt.container": "systemd-nspawn" },
    ]) {
      expect(active(f).filter((t) => t.includes("swapfile"))).toEqual([]);
    }
    expect(active({ ...small, "virt.container": "systemd-nspawn" })).not.toContain("Run time synchronisation");
  });

  it("adds the security archive only when the sources lack it, and cloud-init's drop-in only with cloud-init", () => {
    expect(active({ [SECURITY_SOURCE]: 0 })).not.toContain("Add the Debian security archive");
    expect(active({ [SECURITY_SOURCE]: 1, ...ABSENT_SECURITY_SOURCES })).toContain("Add the Debian security archive");
    expect(active({ [CLOUD_CFG]: null })).not.toContain("Keep cloud-init from resetting the host name");
    expect(active({ 'file.stat:"/etc/cloud/cloud.cfg.d/99-mailstead.cfg"': null, [CLOUD_CFG]: { type: "file", mode: "0644", owner: "root", group: "root", size: 1, sha256: "x" } })).toContain("Keep cloud-init from resetting the host name");
  });

  it("maps the FQDN in /etc/hosts, keeping the rest of the file", () => {
    const hosts = plan({ 'file.content:"/etc/hosts"': "127.0.0.1\tlocalhost\n127.0.1.1\told\n" }).steps.find((s) => s.title === "Map the FQDN in /etc/hosts")!;
    expect(hosts.file?.after).toBe("127.0.0.1\tlocalhost\n127.0.1.1\tmx1.example.test mx1\n");
  });
});
