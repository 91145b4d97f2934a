/**
 * status.ts --html: one self-contained page (no script, no external asset: inline CSS and SVG),
 * one section per host, every check with its fix; the memory check drawn as a bar against the
 * budget, and a chart of each service's PSS against it. Every value is HTML-escaped: details quote what hosts and DNS answered.
 */
import type { CheckResult } from "../dns/checks.js";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const MiB = 1024 * 1024;
const colourOf = (share: number) => (share >= 0.9 ? "#c0392b" : share >= 0.75 ? "#d68910" : "#1e8449");

/** A bar of used/limit for a memory detail such as "41.2 MiB of 100M". */
function memoryBar(detail: string): string {
  const m = /^([\d.]+) MiB of (\d+)([MG])/.exec(detail);
  if (!m) return "";
  const used = Number(m[1]);
  const limit = Number(m[2]) * (m[3] === "G" ? 1024 : 1);
  const w = Math.min(100, (used / limit) * 100);
  return `<svg width="240" height="14" role="img" aria-label="${esc(detail)}"><rect width="240" height="14" fill="#e5e7e9"/><rect width="${(w * 2.4).toFixed(1)}" height="14" fill="${colourOf(w / 100)}"/></svg>`;
}

/**
 * One bar per service against the whole budget (the bar's full width is the cap), with its name
 * and size beside it: which service takes the room.
 */
function memoryChart(chart: NonNullable<CheckResult["chart"]>): string {
  const row = 20;
  const nameW = 230;
  const barW = 300;
  const rows = chart.parts.map((p, i) => {
    const share = p.bytes / chart.limit;
    const y = i * row;
    return `<text x="0" y="${y + 14}">${esc(p.name)}</text><rect x="${nameW}" y="${y + 3}" width="${barW}" height="14" fill="#e5e7e9"/><rect x="${nameW}" y="${y + 3}" width="${Math.min(barW, share * barW).toFixed(1)}" height="14" fill="${colourOf(share)}"/><text x="${nameW + barW + 8}" y="${y + 14}">${(p.bytes / MiB).toFixed(1)} MiB</text>`;
  });
  const total = chart.parts.reduce((a, p) => a + p.bytes, 0);
  const h = chart.parts.length * row + 4;
  return `<svg class="chart" viewBox="0 0 ${nameW + barW + 80} ${h}" width="${nameW + barW + 80}" height="${h}" role="img" aria-label="${esc(`${chart.unit} per service: ${(total / MiB).toFixed(1)} MiB of ${(chart.limit / MiB).toFixed(0)} MiB`)}">${rows.join("")}</svg><div class="note">${esc(chart.unit)} per service, ${(total / MiB).toFixed(1)} MiB together; each bar's full width is the budget, ${(chart.limit / MiB).toFixed(0)} MiB</div>`;
}

export function statusHtml(results: (CheckResult & { host: string })[], when: Date): string {
  const hosts = [...new Set(results.map((r) => r.host))];
  const count = (s: string, rs = results) => rs.filter((r) => r.status === s).length;
  const sections = hosts.map((h) => {
    const rs = results.filter((r) => r.host === h);
    const rows = rs
      .map((r) => `<tr class="${r.status}"><td class="st">${r.status === "fail" ? "FAIL" : r.status}</td><td>${esc(r.check)}</td><td>${esc(r.record)}</td><td>${esc(r.detail)}${r.check === "memory" ? `<br>${memoryBar(r.detail)}${r.chart ? memoryChart(r.chart) : ""}` : ""}${r.fix && r.status !== "pass" ? `<div class="fix">fix: ${esc(r.fix)}</div>` : ""}</td></tr>`)
      .join("\n");
    return `<section><h2>${esc(h)} <small>pass ${count("pass", rs)} · warn ${count("warn", rs)} · fail ${count("fail", rs)}</small></h2>\n<table><colgroup><col class="st"><col class="check"><col class="what"><col></colgroup><thead><tr><th></th><th>check</th><th>what</th><th>result</th></tr></thead><tbody>\n${rows}\n</tbody></table></section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>mailstead status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1c2833}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}small{font-weight:normal;color:#566573}
table{border-collapse:collapse;width:100%;table-layout:fixed}col.st{width:4.5em}col.check{width:8em}col.what{width:30%}
td,th{overflow-wrap:break-word;padding:.35em .6em;border-bottom:1px solid #e5e7e9;text-align:left;vertical-align:top}
td.st{font-weight:bold}td:nth-child(2){white-space:nowrap}
svg.chart{display:block;margin-top:.5em;max-width:100%;height:auto;font:12px system-ui,sans-serif;fill:#1c2833}.note{color:#566573;font-size:.9em}tr.pass td.st{color:#1e8449}tr.warn td.st{color:#b9770e}tr.fail td.st{color:#c0392b}
tr.fail{background:#fdedec}tr.warn{background:#fef9e7}.fix{margin-top:.3em;color:#424949;font-family:ui-monospace,monospace;font-size:.92em}
</style></head><body>
<h1>mailstead status</h1>
<p>${esc(when.toISOString())} · pass ${count("pass")} · warn ${count("warn")} · fail ${count("fail")}</p>
${sections.join("\n")}
</body></html>
`;
}
