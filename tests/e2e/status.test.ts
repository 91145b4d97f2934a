/**
 * status.ts against the lab (issue 16, first slice), Debian 12 (mx1) and 13 (mx2): the host checks
 * pass on converged hosts; a stopped Dovecot fails, named, with its fix, and passes again once
 * started; an admin address banned by hand is a warning with the unban command; --html writes a
 * self-contained page. (The watchdog that would restart Dovecot is not built yet.)
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLab, LAB_NET, labHost, sshRun, type LabState } from "../lab/index.js";
import { playbook, site, stepsWith } from "./helpers.js";

let lab: LabState;
const HOST_CHECKS = ["service", "port", "queue", "disk", "memory", "fail2ban", "updates", "backup"];
interface Result { host: string; check: string; record: string; status: string; detail: string; fix?: string }
const root = (host: string, cmd: string) => sshRun(labHost(lab, host), `sudo -n sh -c '${cmd.replace(/'/g, `'\\''`)}'`, { timeoutMs: 120_000, nothrow: true });

async function status(limit: string, extra: string[] = []): Promise<{ code: number | null; results: Result[]; stdout: string }> {
  const r = await playbook("playbooks/status.ts", ["-i", lab.inventory, "--limit", limit, "--resolver", LAB_NET.address, "--no-certificates", "--json", ...extra]);
  let results: Result[] = [];
  try {
    results = (JSON.parse(r.stdout) as { results: Result[] }).results;
  } catch {
    throw new Error(`status.ts printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, results, stdout: r.stdout };
}
const hostOnly = (rs: Result[]) => rs.filter((r) => HOST_CHECKS.includes(r.check));

beforeAll(async () => {
  lab = await ensureLab();
  const r = await site(["-i", lab.inventory, "--limit", "mail"]);
  expect(stepsWith(r, "failed"), r.stdout.slice(-3000)).toEqual([]);
}, 900_000);

afterAll(async () => {
  if (!lab) return;
  await root("mx1", "systemctl start dovecot.service; fail2ban-client set dovecot unbanip 198.51.100.1 >/dev/null 2>&1; true");
});

describe("status.ts", () => {
  it("converged hosts: every service runs and listens, the queue is empty, disk and bans are fine (both releases)", async () => {
    const { results } = await status("mx1,mx2");
    for (const host of ["mx1", "mx2"]) {
      const mine = hostOnly(results.filter((r) => r.host === host));
      expect(mine.filter((r) => r.check === "service").map((r) => r.record)).toEqual(expect.arrayContaining([host === "mx1" ? "postfix@-.service" : "postfix.service", "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service", "lighttpd.service", "mailstead-webmail.socket"]));
      // the backup's freshness depends on whether a backup ran since the lab came up: not judged here
      const bad = mine.filter((r) => r.status !== "pass" && r.check !== "backup");
      expect(bad, JSON.stringify(bad, null, 1)).toEqual([]);
      expect(mine.find((r) => r.check === "backup")).toBeDefined();
    }
  });

  it("a stopped Dovecot fails, named with its ports and the fix; started again, it passes", async () => {
    await root("mx1", "systemctl stop dovecot.service");
    const down = await status("mx1");
    expect(down.code).toBe(1);
    const fails = hostOnly(down.results).filter((r) => r.status === "fail" && r.check !== "backup");
    expect(fails.map((r) => r.record)).toEqual(["dovecot.service", "993/tcp (dovecot.service)", "4190/tcp (dovecot.service)"]);
    expect(fails[0]!.fix).toMatch(/systemctl start dovecot\.service/);
    await root("mx1", "systemctl start dovecot.service");
    const up = await status("mx1");
    expect(hostOnly(up.results).filter((r) => r.status === "fail" && r.check !== "backup")).toEqual([]);
  });

  it("an admin address banned by hand is a warning with the unban command", async () => {
    // the dovecot jail bans 993/4190 only: the lab host's SSH (the status run itself) is not cut
    await root("mx1", "fail2ban-client set dovecot banip 198.51.100.1");
    try {
      const r = await status("mx1");
      const b = r.results.find((x) => x.check === "fail2ban")!;
      expect(b.status).toBe("warn");
      expect(b.fix).toContain("fail2ban-client set dovecot unbanip 198.51.100.1");
    } finally {
      await root("mx1", "fail2ban-client set dovecot unbanip 198.51.100.1");
    }
  });

  it("--html writes one self-contained page", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "mailstead-status-")), "status.html");
    await status("mx1,mx2", ["--html", file]);
    const html = readFileSync(file, "utf8");
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("<h2>mx1 ");
    expect(html).toContain("<h2>mx2 ");
    expect(html).not.toMatch(/<script|src=|href=/i);
  });
});
