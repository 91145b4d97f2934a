/** `npm run bench`'s pure parts: percentiles, goals, the baseline comparison, the table, the chart. */
import { describe, expect, it } from "vitest";
import { chartSvg } from "../../scripts/bench/chart.js";
import { compare, dist, goals, markdown, soakVerdict, table, type BenchResult, type HostResult } from "../../scripts/bench/report.js";

const host = (name: string, release: string, over: Partial<HostResult> = {}): HostResult => ({
  host: name,
  release,
  idle: {
    services: [
      { unit: "postfix@-.service", slice: "mail.slice", pssMiB: 8.6, processes: 4 },
      { unit: "dovecot.service", slice: "mail.slice", pssMiB: 6.5, processes: 5 },
      { unit: "fail2ban.service", slice: "mail.slice", pssMiB: 19, processes: 1 },
    ],
    totalMiB: 34.1,
    others: [{ unit: "unattended-upgrades.service", slice: "system.slice", pssMiB: 15.7, processes: 1 }],
    sliceCurrentMiB: 60,
    sliceAnonMiB: 30,
    sliceCacheMiB: 30,
    swapMiB: null,
  },
  burst: {
    count: 1000,
    sent: 1000,
    unsent: 0,
    delivered: 1000,
    mbytes: 77,
    clientAddresses: 20,
    imapIdlers: 5,
    webmailReads: 20,
    webmailErrors: [],
    sendSeconds: 60,
    drainSeconds: 70,
    peakAnonMiB: 60,
    peakCacheMiB: 38,
    kernelPeakMiB: 99,
    peakSwapMiB: null,
    peakPssMiB: { "dovecot.service": 14, "postfix@-.service": 20 },
    oomKills: 0,
    restarted: [],
    limitHits: 0,
    errors: [],
  },
  delivery: { local: { ...dist([100, 120, 140]), lost: 0, unsent: 0, errors: [] }, remote: { ...dist([300, 320, 900]), lost: 0, unsent: 0, errors: [], to: "mx2" } },
  imap: { messages: 20000, selectFetch: dist([10, 12, 30]), search: dist([5, 6, 7]) },
  converge: { freshSeconds: 150, noopSeconds: 3.6, noopSteps: 220, noopMsPerStep: 16.4, inProcessSeconds: 1.37, inProcessSteps: 219, inProcessMsPerStep: 6.3 },
  ...over,
});
const result = (hosts: HostResult[], mode: "full" | "quick" = "full"): BenchResult => ({ version: 1, mode, when: "2026-12-02T20:00:00.000Z", machine: "2 × test", hosts });

describe("dist", () => {
  it("takes nearest-rank percentiles", () => {
    const d = dist(Array.from({ length: 100 }, (_, i) => i + 1));
    expect([d.n, d.p50, d.p95, d.max]).toEqual([100, 50, 95, 100]);
    expect(dist([7]).p95).toBe(7);
    expect(dist([]).n).toBe(0);
  });
});

describe("goals", () => {
  it("judges each goal of the budget issue per host, and the idle goal by release", () => {
    const g = goals(result([host("mx1", "12"), host("mx2", "13", { idle: { ...host("mx2", "13").idle, totalMiB: 48.5 } })]));
    const find = (h: string, what: RegExp) => g.find((x) => x.host.startsWith(h) && what.test(x.what))!;
    expect(find("mx1", /idle/)).toMatchObject({ goal: "≤ 45 MiB", met: true });
    expect(find("mx2", /idle/)).toMatchObject({ goal: "≤ 48 MiB", measured: "48.5 MiB", met: false });
    expect(find("mx1", /peak anonymous/).met).toBe(true);
    expect(find("mx1", /delivery to mx2/).met).toBe(true);
    expect(find("mx1", /SELECT/).met).toBe(true);
    expect(find("mx1", /fresh converge/).met).toBe(true);
  });
  it("a lost message, an OOM kill, a slow p95 or a missing delivery is missed", () => {
    const h = host("mx1", "12");
    const bad = host("mx1", "12", {
      burst: { ...h.burst!, delivered: 999, oomKills: 1, peakAnonMiB: 80 },
      delivery: { local: { ...dist([100, 2000]), lost: 0, unsent: 0, errors: [] }, remote: { ...dist([100]), lost: 1, unsent: 0, errors: [], to: "mx2" } },
      imap: { messages: 20000, selectFetch: dist([10, 60]), search: dist([5]) },
      converge: { ...h.converge, freshSeconds: 200 },
    });
    const missed = goals(result([bad])).filter((x) => !x.met).map((x) => x.what);
    expect(missed).toEqual(expect.arrayContaining([expect.stringMatching(/peak anonymous/), "burst: OOM kills", "burst: delivered", expect.stringMatching(/delivery to mx2/), "local delivery: p95, every message", expect.stringMatching(/SELECT/), "fresh converge"]));
    expect(missed).not.toContain(expect.stringMatching(/SEARCH/));
  });
  it("a refused submission is a finding even when its retry got through; a message never accepted is missed", () => {
    const h = host("mx1", "12");
    const refused = host("mx1", "12", {
      burst: { ...h.burst!, errors: ["attempt 1: Message failed: 454 4.3.0 Try again later"] },
      delivery: { ...h.delivery!, local: { ...h.delivery!.local, unsent: 1 } },
    });
    const missed = goals(result([refused])).filter((x) => !x.met);
    expect(missed.map((x) => x.what)).toEqual(["burst: submissions refused (then retried)", "local delivery: p95, every message"]);
    expect(missed[0]!.measured).toMatch(/^1 \(attempt 1: .*454 4\.3\.0/);
  });
});

describe("compare with the baseline", () => {
  it("flags a figure more than 10% worse, not one within 10% or one that got better", () => {
    const base = result([host("mx1", "12")]);
    const now = result([host("mx1", "12", { idle: { ...host("mx1", "12").idle, totalMiB: 40 }, converge: { ...host("mx1", "12").converge, noopSeconds: 3.7, freshSeconds: 100 } })]);
    const { flags } = compare(now, base);
    expect(flags.map((f) => f.figure)).toEqual(["idle.totalMiB"]);
    expect(flags[0]).toMatchObject({ baseline: 34.1, now: 40, worse: "+17%" });
  });
  it("ignores tiny absolute moves (noise) and never compares a quick run with a full baseline", () => {
    const h = host("mx1", "12");
    const now = result([host("mx1", "12", { idle: { ...h.idle, services: [{ ...h.idle.services[0]!, pssMiB: 9.0 }, ...h.idle.services.slice(1)] } })]);
    expect(compare(now, result([h])).flags).toEqual([]); // 8.6 → 9.0: +5%
    const small = result([host("mx1", "12", { delivery: { ...h.delivery!, local: { ...dist([100, 122, 143]), lost: 0, unsent: 0, errors: [] } } })]);
    expect(compare(small, result([h])).flags).toEqual([]); // 140 → 143 ms: under 5 ms
    expect(compare(result([h], "quick"), result([h])).note).toMatch(/not compared/);
    expect(compare(result([h]), undefined).note).toMatch(/no baseline/);
  });
});

describe("table", () => {
  it("has one column per host and one row per figure, Markdown with as many cells as the header", () => {
    const r = result([host("mx1", "12"), host("mx2", "13")]);
    const t = table(r);
    expect(t.split("\n")[0]).toMatch(/mx1 \(Debian 12\)\s+mx2 \(Debian 13\)$/);
    expect(t).toMatch(/idle PSS fail2ban\.service\s+19 MiB\s+19 MiB/);
    expect(t).toMatch(/burst: messages delivered\s+1000 of 1000 \(77 MB\)/);
    expect(t).toMatch(/unattended-upgrades\.service \(outside\)\s+15\.7 MiB/);
    const md = markdown(r).split("\n");
    expect(md[1]).toBe("| --- | --- | --- |");
    for (const l of md) expect(l.split(" | ").length, l).toBe(3);
  });
});

describe("soak verdict", () => {
  it("names a service that grew more than 10% from minute 5, and passes a flat one", () => {
    const flat = Array.from({ length: 60 }, (_, i) => ({ minute: i + 1, services: { "dovecot.service": 6.5 + (i % 2) * 0.1 } }));
    expect(soakVerdict(flat)).toMatch(/^every service within 10% of minute 5 at minute 60/);
    const leak = flat.map((m) => ({ ...m, services: { ...m.services, "opendkim.service": 5 + m.minute * 0.05 } }));
    expect(soakVerdict(leak)).toMatch(/opendkim\.service 5\.25 → 8 MiB/);
    expect(soakVerdict(flat.slice(0, 1))).toMatch(/too short/);
  });
});

describe("chart", () => {
  it("renders one self-contained SVG with the three panels, each host and each service", async () => {
    const svg = await chartSvg(result([host("mx1", "12"), host("mx2", "13")]));
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const s of ["PSS per service", "mail.slice memory", "Latency", "Debian 12 (mx1)", "Debian 13 (mx2)", "fail2ban", "local delivery", "IMAP SEARCH subject"]) expect(svg).toContain(s);
    expect(svg).not.toMatch(/<script|href="http/);
  });
});
