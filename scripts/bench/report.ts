/**
 * `npm run bench`'s results as data: percentiles, the issue's goals, the comparison with the
 * committed baseline (flag, never fail: the machine is shared and noisy) and the printed table.
 * Pure: no host, no clock; unit-tested on fixtures (tests/unit/bench.test.ts).
 */

export interface Dist {
  n: number;
  p50: number;
  p95: number;
  max: number;
  /** every try (ms), for the chart */
  samples: number[];
}

export interface UnitFigure {
  unit: string;
  slice: string;
  pssMiB: number;
  processes: number;
}

export interface HostResult {
  host: string;
  release: string; // "12", "13"
  idle: {
    /** the mail stack's units: everything in the slice plus the named extras outside it */
    services: UnitFigure[];
    totalMiB: number;
    /** units outside the mail stack reported for the budget issue's decisions (unattended-upgrades) */
    others: UnitFigure[];
    sliceCurrentMiB: number;
    sliceAnonMiB: number;
    sliceCacheMiB: number;
    swapMiB: number | null;
  };
  burst?: {
    /** messages the burst set out to send */
    count: number;
    /** accepted by the server (each tried up to RETRIES times, scripts/bench/traffic.ts) */
    sent: number;
    /** refused at every try: never accepted */
    unsent: number;
    delivered: number;
    mbytes: number;
    clientAddresses: number;
    imapIdlers: number;
    webmailReads: number;
    /** reads of the webmail session that failed during the burst (an HTTP 500 is a finding, not a crash) */
    webmailErrors: string[];
    sendSeconds: number;
    drainSeconds: number;
    peakAnonMiB: number;
    peakCacheMiB: number;
    kernelPeakMiB: number | null;
    peakSwapMiB: number | null;
    peakPssMiB: Record<string, number>;
    oomKills: number;
    /** services whose main process changed during the burst (killed at the cap and restarted by systemd) */
    restarted: string[];
    limitHits: number | null;
    /** every refused or broken submission (retried), the server's answer */
    errors: string[];
  };
  /** lost: accepted and never seen in the recipient's INBOX; unsent: refused at every try; errors: every refusal */
  delivery?: { remote?: Dist & Delivery & { to: string }; local: Dist & Delivery };
  imap?: { messages: number; selectFetch: Dist; search: Dist };
  converge: {
    freshSeconds: number | null;
    noopSeconds: number;
    noopSteps: number;
    noopMsPerStep: number;
    /** in-process, one connection, as scripts/bench-noop.ts measures */
    inProcessSeconds: number;
    inProcessSteps: number;
    inProcessMsPerStep: number;
  };
  soak?: { minutes: number; perMinute: { minute: number; totalMiB: number; services: Record<string, number> }[]; verdict: string };
}

export interface Delivery {
  lost: number;
  unsent: number;
  errors: string[];
}

export interface BenchResult {
  version: 1;
  mode: "full" | "quick";
  when: string;
  machine: string;
  hosts: HostResult[];
}

export function dist(values: number[]): Dist {
  if (!values.length) return { n: 0, p50: NaN, p95: NaN, max: NaN, samples: [] };
  const s = [...values].sort((a, b) => a - b);
  // nearest rank: the smallest value with at least p of the values at or below it
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, p50: round(rank(0.5)), p95: round(rank(0.95)), max: round(s[s.length - 1]!), samples: values.map((v) => round(v)) };
}

export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
export const mib = (bytesOrKiB: number, unit: "B" | "KiB" = "B") => round(bytesOrKiB / (unit === "B" ? 1024 * 1024 : 1024));

/** The mail stack's idle goals per release (the budget issue). */
export const IDLE_GOAL_MIB: Record<string, number> = { "12": 45, "13": 48 };

export interface Goal {
  host: string;
  what: string;
  goal: string;
  measured: string;
  met: boolean;
}

export function goals(r: BenchResult): Goal[] {
  const out: Goal[] = [];
  for (const h of r.hosts) {
    const g = (what: string, goal: string, measured: string, met: boolean) => out.push({ host: `${h.host} (Debian ${h.release})`, what, goal, measured, met });
    const idleGoal = IDLE_GOAL_MIB[h.release];
    if (idleGoal !== undefined) g("idle mail services (PSS)", `≤ ${idleGoal} MiB`, `${h.idle.totalMiB} MiB`, h.idle.totalMiB <= idleGoal);
    if (h.burst) {
      g("burst: peak anonymous memory of the slice", "≤ 75 MiB", `${h.burst.peakAnonMiB} MiB`, h.burst.peakAnonMiB <= 75);
      g("burst: OOM kills", "0", String(h.burst.oomKills), h.burst.oomKills === 0);
      g("burst: delivered", `${h.burst.count} of ${h.burst.count}`, `${h.burst.delivered} of ${h.burst.count}`, h.burst.delivered === h.burst.count);
      g("burst: submissions refused (then retried)", "0", `${h.burst.errors.length}${h.burst.errors[0] ? ` (${h.burst.errors[0]})` : ""}`, h.burst.errors.length === 0);
      g("burst: the webmail session kept reading", "no failed read", `${h.burst.webmailErrors.length} failed of ${h.burst.webmailReads + h.burst.webmailErrors.length}${h.burst.webmailErrors[0] ? ` (${h.burst.webmailErrors[0]})` : ""}`, h.burst.webmailErrors.length === 0);
    }
    // Met only when every message was sent and seen: a p95 over the ones that arrived hides the rest.
    const missing = (d: { lost: number; unsent: number }) => (d.lost || d.unsent ? `, ${d.lost} not seen in time, ${d.unsent} never accepted` : "");
    if (h.delivery?.remote) g(`delivery to ${h.delivery.remote.to}: p95, every message`, "< 1000 ms", `${h.delivery.remote.p95} ms${missing(h.delivery.remote)}`, h.delivery.remote.p95 < 1000 && h.delivery.remote.lost === 0 && h.delivery.remote.unsent === 0);
    if (h.delivery) g("local delivery: p95, every message", "< 1000 ms", `${h.delivery.local.p95} ms${missing(h.delivery.local)}`, h.delivery.local.p95 < 1000 && h.delivery.local.lost === 0 && h.delivery.local.unsent === 0);
    if (h.imap) {
      g(`IMAP SELECT + FETCH 50 (${h.imap.messages} messages): p95`, "< 50 ms", `${h.imap.selectFetch.p95} ms`, h.imap.selectFetch.p95 < 50);
      g(`IMAP SEARCH by subject (${h.imap.messages} messages): p95`, "< 50 ms", `${h.imap.search.p95} ms`, h.imap.search.p95 < 50);
    }
    if (h.converge.freshSeconds !== null) g("fresh converge", "≤ 180 s", `${h.converge.freshSeconds} s`, h.converge.freshSeconds <= 180);
  }
  return out;
}

/** The figures compared with the baseline: lower is better for all of them. */
export function figures(h: HostResult): Record<string, number> {
  const f: Record<string, number> = { "idle.totalMiB": h.idle.totalMiB, "idle.sliceAnonMiB": h.idle.sliceAnonMiB };
  for (const s of h.idle.services) f[`idle.${s.unit}`] = s.pssMiB;
  if (h.burst) {
    f["burst.peakAnonMiB"] = h.burst.peakAnonMiB;
    f["burst.drainSeconds"] = h.burst.drainSeconds;
  }
  if (h.delivery?.remote) f["delivery.remote.p95"] = h.delivery.remote.p95;
  if (h.delivery) f["delivery.local.p95"] = h.delivery.local.p95;
  if (h.imap) {
    f["imap.selectFetch.p95"] = h.imap.selectFetch.p95;
    f["imap.search.p95"] = h.imap.search.p95;
  }
  if (h.converge.freshSeconds !== null) f["converge.freshSeconds"] = h.converge.freshSeconds;
  f["converge.noopSeconds"] = h.converge.noopSeconds;
  f["converge.inProcessMsPerStep"] = h.converge.inProcessMsPerStep;
  return f;
}

export interface Flag {
  host: string;
  figure: string;
  baseline: number;
  now: number;
  worse: string; // "+23%"
}

/**
 * Figures more than `threshold` worse than the baseline's, per host; small absolute moves are
 * noise, not regressions (under 0.5 MiB or 5 ms). Only a baseline of the same mode is compared.
 */
export function compare(now: BenchResult, base: BenchResult | undefined, threshold = 0.1): { flags: Flag[]; note?: string } {
  if (!base) return { flags: [], note: "no baseline to compare with" };
  if (base.mode !== now.mode) return { flags: [], note: `the baseline is a ${base.mode} run, this one is ${now.mode}: not compared` };
  const flags: Flag[] = [];
  for (const h of now.hosts) {
    const b = base.hosts.find((x) => x.host === h.host && x.release === h.release);
    if (!b) continue;
    const fb = figures(b);
    for (const [k, v] of Object.entries(figures(h))) {
      const old = fb[k];
      if (old === undefined || !Number.isFinite(old) || !Number.isFinite(v) || old <= 0) continue;
      const floor = /MiB/.test(k) ? 0.5 : /Seconds/.test(k) ? 1 : 5;
      if (v > old * (1 + threshold) && v - old >= floor) flags.push({ host: h.host, figure: k, baseline: old, now: v, worse: `+${Math.round((v / old - 1) * 100)}%` });
    }
  }
  return { flags };
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : " ".repeat(n - s.length) + s);
const fmt = (x: number | null | undefined, unit = "") => (x === null || x === undefined || !Number.isFinite(x) ? "-" : `${x}${unit}`);

/** The table's rows: a header, then one row per figure, one column per host. */
function rowsOf(r: BenchResult): string[][] {
  const hs = r.hosts;
  const rows: [string, ...string[]][] = [];
  const row = (label: string, f: (h: HostResult) => string) => rows.push([label, ...hs.map(f)]);
  const units = [...new Set(hs.flatMap((h) => h.idle.services.map((s) => s.unit)))];
  for (const u of units) row(`idle PSS ${u}`, (h) => fmt(h.idle.services.find((s) => s.unit === u)?.pssMiB, " MiB"));
  row("idle PSS mail services, total", (h) => fmt(h.idle.totalMiB, " MiB"));
  for (const u of [...new Set(hs.flatMap((h) => h.idle.others.map((s) => s.unit)))]) row(`idle PSS ${u} (outside)`, (h) => fmt(h.idle.others.find((s) => s.unit === u)?.pssMiB, " MiB"));
  row("idle slice memory (anon + cache)", (h) => `${h.idle.sliceCurrentMiB} (${h.idle.sliceAnonMiB} + ${h.idle.sliceCacheMiB}) MiB`);
  row("swap used by the slice", (h) => fmt(h.idle.swapMiB, " MiB"));
  if (hs.some((h) => h.burst)) {
    row("burst: messages delivered", (h) => (h.burst ? `${h.burst.delivered} of ${h.burst.count} (${h.burst.mbytes} MB)` : "-"));
    row("burst: peak anon / page cache", (h) => (h.burst ? `${h.burst.peakAnonMiB} / ${h.burst.peakCacheMiB} MiB` : "-"));
    row("burst: OOM kills", (h) => fmt(h.burst?.oomKills));
    row("burst: services restarted", (h) => (h.burst ? h.burst.restarted.join(", ") || "none" : "-"));
    row("burst: refused submissions (retried)", (h) => fmt(h.burst?.errors.length));
    row("burst: send / drain", (h) => (h.burst ? `${h.burst.sendSeconds} / ${h.burst.drainSeconds} s` : "-"));
    row("burst: webmail reads ok / failed", (h) => (h.burst ? `${h.burst.webmailReads} / ${h.burst.webmailErrors.length}` : "-"));
  }
  if (hs.some((h) => h.delivery)) {
    row("delivery to the other host p50/p95/max", (h) => (h.delivery?.remote ? `${h.delivery.remote.p50}/${h.delivery.remote.p95}/${h.delivery.remote.max} ms` : "-"));
    row("local delivery p50/p95/max", (h) => (h.delivery ? `${h.delivery.local.p50}/${h.delivery.local.p95}/${h.delivery.local.max} ms` : "-"));
  }
  if (hs.some((h) => h.imap)) {
    row("IMAP SELECT+FETCH 50 p50/p95", (h) => (h.imap ? `${h.imap.selectFetch.p50}/${h.imap.selectFetch.p95} ms (${h.imap.messages} msgs)` : "-"));
    row("IMAP SEARCH subject p50/p95", (h) => (h.imap ? `${h.imap.search.p50}/${h.imap.search.p95} ms` : "-"));
  }
  row("fresh converge", (h) => fmt(h.converge.freshSeconds, " s"));
  row("no-op converge (site.ts)", (h) => `${h.converge.noopSeconds} s, ${h.converge.noopSteps} steps`);
  row("no-op converge (in-process)", (h) => `${h.converge.inProcessSeconds} s, ${h.converge.inProcessMsPerStep} ms/step`);
  return [["", ...hs.map((h) => `${h.host} (Debian ${h.release})`)], ...rows];
}

/** The table `npm run bench` prints: one column per host. */
export function table(r: BenchResult): string {
  const all = rowsOf(r);
  const w = all[0]!.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  return all.map((row) => row.map((c, i) => (i === 0 ? pad(c, w[0]!) : lpad(c, w[i]!))).join("  ")).join("\n");
}

/** The same table as Markdown (the README's). */
export function markdown(r: BenchResult): string {
  const [head, ...rest] = rowsOf(r);
  const line = (c: string[]) => `| ${c.map((x) => x.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(head!), `|${" --- |".repeat(head!.length)}`, ...rest.map(line)].join("\n");
}

/** A memory slope over a soak: the last minute against minute 5 (or the first), per service. */
export function soakVerdict(perMinute: { minute: number; services: Record<string, number> }[], tolerance = 0.1): string {
  if (perMinute.length < 2) return "too short to judge";
  const ref = perMinute.find((m) => m.minute >= 5) ?? perMinute[0]!;
  const last = perMinute[perMinute.length - 1]!;
  const grew = Object.entries(last.services)
    .filter(([u, v]) => (ref.services[u] ?? 0) > 0 && v > ref.services[u]! * (1 + tolerance) && v - ref.services[u]! >= 0.5)
    .map(([u, v]) => `${u} ${ref.services[u]} → ${v} MiB`);
  return grew.length ? `grew more than ${tolerance * 100}% from minute ${ref.minute} to ${last.minute}: ${grew.join(", ")}` : `every service within ${tolerance * 100}% of minute ${ref.minute} at minute ${last.minute}`;
}
