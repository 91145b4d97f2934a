/**
 * `npm run bench -- --quick` (the budget issue's smoke mode) runs in CI so it cannot rot: on both
 * releases, a few messages through the burst, delivery and IMAP measurements, the idle PSS of
 * every mail service, the no-op converge; the JSON, the chart and the Markdown table are written.
 * The figures themselves are not judged here (the machine is shared and noisy; `npm run bench`
 * flags them against bench/baseline.json): what is held is that every measurement ran and that
 * nothing was lost.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { BenchResult } from "../../scripts/bench/report.js";
import { playbook } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "mailstead-bench-"));
let run: Awaited<ReturnType<typeof playbook>>;
let out: BenchResult;

beforeAll(async () => {
  run = await playbook("scripts/bench.ts", ["--quick", "--json", join(dir, "bench.json"), "--svg", join(dir, "bench.svg"), "--md", join(dir, "bench.md")]);
  console.log(`bench --quick: exit ${run.code} in ${run.seconds.toFixed(0)} s\n${run.stdout}`);
  expect(run.code, run.stderr.slice(-3000)).toBe(0);
  out = JSON.parse(readFileSync(join(dir, "bench.json"), "utf8")) as BenchResult;
}, 900_000);

describe("npm run bench -- --quick", () => {
  it("measures both releases, and every mail service runs in mail.slice", () => {
    expect(out.mode).toBe("quick");
    expect(out.hosts.map((h) => `${h.host} ${h.release}`)).toEqual(["mx1 12", "mx2 13"]);
    for (const h of out.hosts) {
      const units = h.idle.services.map((s) => s.unit);
      expect(units, h.host).toEqual(expect.arrayContaining([h.release === "12" ? "postfix@-.service" : "postfix.service", "dovecot.service", "opendkim.service", "opendmarc.service", "fail2ban.service"]));
      for (const s of h.idle.services) {
        expect(s.pssMiB, `${h.host} ${s.unit}`).toBeGreaterThan(0);
        if (!["monit.service"].includes(s.unit)) expect(s.slice, `${h.host} ${s.unit}`).toBe("mail.slice");
      }
      expect(h.idle.totalMiB).toBeCloseTo(h.idle.services.reduce((a, s) => a + s.pssMiB, 0), 0);
      expect(h.idle.sliceCurrentMiB, h.host).toBeGreaterThan(h.idle.sliceAnonMiB);
    }
  });

  // OOM kills, restarts and refusals are measured and judged in the goals, not held here: with the
  // webmail's PHP awake even the 20-message burst has pressed the slice to its 100 MiB cap in the
  // lab (the kernel killed fail2ban on Debian 13; OpenDKIM ended on Debian 12 and Postfix refused
  // with 4xx until it was back: docs/memory.md). What must hold at the cap: no mail lost, and a
  // client that retries as an MTA does gets every message in.
  it("the burst delivers every message; refusals, restarts, peaks and OOM kills are measured", () => {
    for (const h of out.hosts) {
      const b = h.burst!;
      expect([b.count, b.sent, b.unsent, b.delivered], h.host).toEqual([20, 20, 0, 20]);
      for (const e of b.errors) expect(e, h.host).toMatch(/^attempt [1-4]: /); // a later try got it in
      expect(b.oomKills, h.host).toBeGreaterThanOrEqual(0);
      expect(run.stdout).toMatch(new RegExp(`^  (met    |MISSED ) ${h.host} \\(Debian ${h.release}\\): burst: OOM kills 0, measured ${b.oomKills}$`, "m"));
      expect(b.peakAnonMiB, h.host).toBeGreaterThan(0);
      expect(b.peakPssMiB["dovecot.service"], h.host).toBeGreaterThan(0);
      expect(b.webmailReads, h.host).toBeGreaterThan(0);
    }
  });

  it("delivery (to the other host and locally) and IMAP are timed, nothing lost", () => {
    for (const h of out.hosts) {
      expect([h.delivery!.local.n, h.delivery!.local.lost, h.delivery!.remote!.n, h.delivery!.remote!.lost], h.host).toEqual([5, 0, 5, 0]);
      expect(h.delivery!.remote!.to).toBe(h.host === "mx1" ? "mx2" : "mx1");
      expect(h.imap!.messages, h.host).toBe(1000);
      expect([h.imap!.selectFetch.n, h.imap!.search.n]).toEqual([5, 5]);
      expect(h.converge.noopSteps, h.host).toBeGreaterThan(100);
      expect(h.converge.inProcessMsPerStep, h.host).toBeGreaterThan(0);
    }
  });

  it("prints the table and the goals, and writes the chart and the Markdown table", () => {
    expect(run.stdout).toMatch(/idle PSS mail services, total/);
    expect(run.stdout).toMatch(/^goals:$/m);
    // never compared with a full baseline (bench/baseline.json, when committed, is a full run)
    expect(run.stdout).toMatch(/^baseline: (no baseline to compare with|the baseline is a full run, this one is quick: not compared)$/m);
    expect(readFileSync(join(dir, "bench.svg"), "utf8")).toMatch(/^<svg /);
    expect(readFileSync(join(dir, "bench.md"), "utf8")).toMatch(/^\| +\| mx1 \(Debian 12\) \| mx2 \(Debian 13\) \|/);
  });
});
