/**
 * status.ts --html: one self-contained page (no script, no external asset: inline CSS and SVG),
 * one section per host, every check with its fix; the memory check drawn as a bar against the
 * budget. Every value is HTML-escaped: details quote what hosts and DNS answered.
 */
import type { CheckResult } from "../dns/checks.js";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** A bar of used/limit for a memory detail such as "41.2 MiB of 100M". */
function memoryBar(detail: string): string {
  const m = /^([\d.]+) MiB of (\d+)([MG])/.exec(detail);
  if (!m) return "";
  const used = Number(m[1]);
  const limit = Number(m[2]) * (m[3] === "G" ? 1024 : 1);
  const w = Math.min(100, (used / limit) * 100);
  const colour = w >= 90 ? "#c0392b" : w >= 75 ? "#d68910" : "#1e8449";
  return `<svg width="240" height="14" role="img" aria-label="${esc(detail)}"><rect width="240" height="14" fill="#e5e7e9"/><rect width="${(w * 2.4).toFixed(1)}" height="14" fill="${colour}"/></svg>`;
}

export function statusHtml(results: (CheckResult & { host: string })[], when: Date): string {
  const hosts = [...new Set(results.map((r) => r.host))];
  const count = (s: string, rs = results) => rs.filter((r) => r.status === s).length;
  const sections = hosts.map((h) => {
    const rs = results.filter((r) => r.host === h);
    const rows = rs
      .map((r) => `<tr class="${r.status}"><td class="st">${r.status === "fail" ? "FAIL" : r.status}</td><td>${esc(r.check)}</td><td>${esc(r.record)}</td><td>${esc(r.detail)}${r.check === "memory" ? `<br>${memoryBar(r.detail)}` : ""}${r.fix && r.status !== "pass" ? `<div class="fix">fix: ${esc(r.fix)}</div>` : ""}</td></tr>`)
      .join("\n");
    return `<section><h2>${esc(h)} <small>pass ${count("pass", rs)} · warn ${count("warn", rs)} · fail ${count("fail", rs)}</small></h2>\n<table><thead><tr><th></th><th>check</th><th>what</th><th>result</th></tr></thead><tbody>\n${rows}\n</tbody></table></section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>mailstead status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1c2833}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}small{font-weight:normal;color:#566573}
table{border-collapse:collapse;width:100%}td,th{overflow-wrap:anywhere;padding:.35em .6em;border-bottom:1px solid #e5e7e9;text-align:left;vertical-align:top}
td.st{font-weight:bold;width:3.5em}tr.pass td.st{color:#1e8449}tr.warn td.st{color:#b9770e}tr.fail td.st{color:#c0392b}
tr.fail{background:#fdedec}tr.warn{background:#fef9e7}.fix{margin-top:.3em;color:#424949;font-family:ui-monospace,monospace;font-size:.92em}
</style></head><body>
<h1>mailstead status</h1>
<p>${esc(when.toISOString())} · pass ${count("pass")} · warn ${count("warn")} · fail ${count("fail")}</p>
${sections.join("\n")}
</body></html>
`;
}
