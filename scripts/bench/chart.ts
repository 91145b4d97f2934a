/**
 * `npm run bench -- --svg FILE`: one SVG a person reads at a glance. Vega-Lite (the spec) and
 * Vega (the renderer, headless: no browser, no canvas) draw it; chosen over hand-written SVG as
 * the well-kept library for charts from data, and over a browser screenshot because it needs
 * nothing running. Three panels: PSS per service (idle and burst peak, each release), the slice's
 * memory (anonymous and page cache, idle and burst peak), and the latency distributions.
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { BenchResult } from "./report.js";

type Row = Record<string, string | number>;

export function chartSpec(r: BenchResult): TopLevelSpec {
  const who = (h: BenchResult["hosts"][number]) => `Debian ${h.release} (${h.host})`;
  const pss: Row[] = [];
  const slice: Row[] = [];
  const lat: Row[] = [];
  for (const h of r.hosts) {
    for (const s of h.idle.services) pss.push({ host: who(h), service: s.unit.replace(/\.service$/, ""), phase: "idle", mib: s.pssMiB });
    if (h.burst) for (const [u, v] of Object.entries(h.burst.peakPssMiB)) pss.push({ host: who(h), service: u.replace(/\.service$/, ""), phase: "burst peak", mib: v });
    slice.push({ host: who(h), phase: "idle", part: "anonymous", mib: h.idle.sliceAnonMiB }, { host: who(h), phase: "idle", part: "page cache", mib: h.idle.sliceCacheMiB });
    if (h.burst) slice.push({ host: who(h), phase: "burst peak", part: "anonymous", mib: h.burst.peakAnonMiB }, { host: who(h), phase: "burst peak", part: "page cache", mib: h.burst.peakCacheMiB });
    const add = (what: string, xs: number[] | undefined) => xs?.forEach((ms) => lat.push({ host: who(h), what, ms }));
    add("delivery to the other host", h.delivery?.remote?.samples);
    add("local delivery", h.delivery?.local.samples);
    add("IMAP SELECT + FETCH 50", h.imap?.selectFetch.samples);
    add("IMAP SEARCH subject", h.imap?.search.samples);
  }
  const colors = { domain: r.hosts.map(who), range: ["#4c78a8", "#f58518", "#54a24b", "#b279a2"] };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: `mailstead bench (${r.mode}, ${r.when.slice(0, 10)})`, subtitle: "PSS per service; the slice's memory; latencies. Lower is better.", anchor: "start" },
    config: { font: "DejaVu Sans, Helvetica, Arial, sans-serif", view: { stroke: null } },
    resolve: { scale: { color: "independent" } },
    vconcat: [
      {
        title: "PSS per service (MiB): idle, and the peak during the burst",
        data: { values: pss },
        mark: { type: "bar", tooltip: true },
        width: { step: 14 },
        height: 160,
        encoding: {
          column: { field: "phase", type: "nominal", title: null, sort: ["idle", "burst peak"] },
          x: { field: "service", type: "nominal", title: null, axis: { labelAngle: -40 } },
          xOffset: { field: "host" },
          y: { field: "mib", type: "quantitative", title: "MiB" },
          color: { field: "host", type: "nominal", title: null, scale: colors },
        },
      },
      {
        title: "mail.slice memory (MiB): anonymous and page cache (the cap is 100 MiB; the burst goal: anonymous ≤ 75)",
        data: { values: slice },
        mark: { type: "bar", tooltip: true },
        width: 520,
        encoding: {
          row: { field: "phase", type: "nominal", title: null, sort: ["idle", "burst peak"] },
          y: { field: "host", type: "nominal", title: null },
          x: { field: "mib", type: "quantitative", title: "MiB", aggregate: "sum", scale: { domain: [0, 100] } },
          color: { field: "part", type: "nominal", title: null, scale: { range: ["#4c78a8", "#bab0ac"] } },
        },
      },
      {
        title: "Latency (ms, log scale): each dot one try; the tick the median",
        data: { values: lat },
        width: 520,
        height: { step: 22 },
        layer: [
          { mark: { type: "point", opacity: 0.5, filled: true, size: 18 }, encoding: { yOffset: { field: "host" } } },
          { mark: { type: "tick", thickness: 2, color: "black" }, encoding: { x: { field: "ms", aggregate: "median", type: "quantitative" }, yOffset: { field: "host" } } },
        ],
        encoding: {
          y: { field: "what", type: "nominal", title: null },
          x: { field: "ms", type: "quantitative", title: "ms", scale: { type: "log" } },
          color: { field: "host", type: "nominal", title: null, scale: colors },
        },
      },
    ],
  } as TopLevelSpec;
}

export async function chartSvg(r: BenchResult): Promise<string> {
  const view = new vega.View(vega.parse(compile(chartSpec(r)).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
