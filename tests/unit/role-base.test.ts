/** The base role's plan from recorded facts (no host): swap only on small VMs, etc. */
import { describe, expect, it } from "vitest";
import { defaultValues } from "../../lib/defaults.js";
import type { OsRelease } from "../../lib/facts/os.js";
import type { FactRef } from "../../lib/facts/types.js";
import { isFlush, type Step } from "../../lib/role.js";
import { render } from "../../lib/template.js";
import { base, type BaseVars } from "../../roles/base/index.js";
import { baseDefaults } from "../../roles/base/defaults.js";

const os: OsRelease = { id: "debian", versionId: "12", codename: "bookworm", prettyName: "Debian GNU/Linux 12 (bookworm)", idLike: [], arch: "amd64", kernel: "6.1.0" };
const vars = { ...defaultValues(baseDefaults), base_hostname: "mx1", base_domain: "example.org" } as unknown as BaseVars;

function plan(facts: Record<string, unknown>, v: BaseVars = vars): Step[] {
  const ctx = {
    host: "mx1",
    vars: v,
    os,
    fact: <T,>(r: FactRef<T>) => {
      if (!(r.fact.name in facts)) throw new Error(`test gave no ${r.fact.name}`);
      return facts[r.fact.name] as T;
    },
    template: (name: string, extra?: object) => render("base", name, { ...v, os, ...extra }),
    ports: [],
  };
  // every fact the role declares must be answerable
  for (const r of base.facts!(v, os)) ctx.fact(r);
  return base.steps(ctx).filter((s): s is Step => !isFlush(s));
}
const active = (steps: Step[]) => steps.filter((s) => s.when !== false).map((s) => s.title);

const oracleMicro = { memory: { memTotalKb: 1_000_000, swapTotalKb: 0 }, "virt.container": "", "command.status": 0, "file.stat": null };

describe("base role plan", () => {
  it("creates and enables a swap file on a 1 GB VM without swap", () => {
    const titles = active(plan(oracleMicro));
    expect(titles).toContain("Create /swapfile");
    expect(titles).toContain("Enable /swapfile at boot");
    expect(titles).toContain("Turn on /swapfile");
    expect(titles).toContain("Run time synchronisation");
  });

  it("leaves swap alone when there is enough RAM, swap exists, or in a container", () => {
    for (const f of [
      { ...oracleMicro, memory: { memTotalKb: 4_000_000, swapTotalKb: 0 } },
      { ...oracleMicro, memory: { memTotalKb: 1_000_000, swapTotalKb: 500_000 } },
      { ...oracleMicro, "virt.container": "systemd-nspawn" },
    ]) {
      expect(active(plan(f)).filter((t) => t.includes("swapfile"))).toEqual([]);
    }
    expect(active(plan({ ...oracleMicro, "virt.container": "systemd-nspawn" }))).not.toContain("Run time synchronisation");
  });

  it("adds the security archive only when the sources lack it, and cloud-init's drop-in only with cloud-init", () => {
    expect(active(plan(oracleMicro))).not.toContain("Add the Debian security archive");
    expect(active(plan({ ...oracleMicro, "command.status": 1 }))).toContain("Add the Debian security archive");
    expect(active(plan(oracleMicro))).not.toContain("Keep cloud-init from resetting the host name");
    const withCloudInit = { ...oracleMicro, "file.stat": { type: "file", mode: "0644", owner: "root", group: "root", size: 1 } };
    expect(active(plan(withCloudInit))).toContain("Keep cloud-init from resetting the host name");
  });

  it("renders the FQDN into /etc/hosts and /etc/mailname", () => {
    const steps = plan(oracleMicro);
    const hosts = steps.find((s) => s.title === "Map the FQDN in /etc/hosts")!;
    const p = hosts.action.plan({ get: <T,>(r: FactRef<T>) => (r.fact.name === "file.content" ? "127.0.0.1\tlocalhost\n127.0.1.1\told\n" : { type: "file", mode: "0644", owner: "root", group: "root", size: 1, sha256: "x" }) as T });
    expect(p.file?.after).toBe("127.0.0.1\tlocalhost\n127.0.1.1\tmx1.example.org mx1\n");
  });
});
