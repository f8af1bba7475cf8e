// Line charts of logged metric histories, drawn as SVG without a chart library. Every
// label is a text node, so a metric key such as <img src=x> shows those characters.

import { get } from "./api.js";
import { h, num, seg } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 560;
const HEIGHT = 260;
const PAD = { left: 64, right: 16, top: 16, bottom: 40 };
/** Series colours, in order: run A, run B (the compare page), then more. */
const COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df"];

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children.flat(Infinity)) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** Five round tick values covering [lo, hi]. */
function ticks(lo, hi) {
  if (lo === hi) return [lo];
  const raw = (hi - lo) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((m) => m >= raw) ?? raw;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/**
 * A chart of one metric's history for each series ({label, points: [{step, value}]}),
 * on shared axes: step across, value up. Non-finite values (NaN, infinities) are left
 * out of the line and counted under the chart.
 */
export function historyChart(key, series) {
  const finite = series.map((x) => x.points.filter((p) => Number.isFinite(p.value)));
  const all = finite.flat();
  const dropped = series.reduce((n, x, i) => n + x.points.length - finite[i].length, 0);
  const caption = `${key} by step${series.length > 1 ? `: ${series.map((x) => x.label).join(" and ")}` : ""}`;
  if (!all.length) return h("p", { class: "muted" }, `${key}: no finite value to draw.`);
  const [x0, x1] = [Math.min(...all.map((p) => p.step)), Math.max(...all.map((p) => p.step))];
  const [y0, y1] = [Math.min(...all.map((p) => p.value)), Math.max(...all.map((p) => p.value))];
  const sx = (v) => PAD.left + (x1 === x0 ? 0.5 : (v - x0) / (x1 - x0)) * (WIDTH - PAD.left - PAD.right);
  const sy = (v) => HEIGHT - PAD.bottom - (y1 === y0 ? 0.5 : (v - y0) / (y1 - y0)) * (HEIGHT - PAD.top - PAD.bottom);
  const axes = [
    s("line", { x1: PAD.left, y1: HEIGHT - PAD.bottom, x2: WIDTH - PAD.right, y2: HEIGHT - PAD.bottom, stroke: "#57606a" }),
    s("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: HEIGHT - PAD.bottom, stroke: "#57606a" }),
    ticks(x0, x1).map((t) => s("text", { x: sx(t), y: HEIGHT - PAD.bottom + 16, "text-anchor": "middle", "font-size": 11 }, String(t))),
    ticks(y0, y1).map((t) => s("text", { x: PAD.left - 6, y: sy(t) + 4, "text-anchor": "end", "font-size": 11 }, num(t, 4))),
    s("text", { x: (PAD.left + WIDTH - PAD.right) / 2, y: HEIGHT - 6, "text-anchor": "middle", "font-size": 12 }, "step"),
  ];
  const lines = finite.map((points, i) =>
    s(
      "polyline",
      {
        class: "series",
        "data-series": series[i].label,
        fill: "none",
        stroke: COLOURS[i % COLOURS.length],
        "stroke-width": 2,
        points: points.map((p) => `${sx(p.step).toFixed(1)},${sy(p.value).toFixed(1)}`).join(" "),
      },
      s("title", {}, `${series[i].label}: ${points.length} points`),
    ),
  );
  const chart = s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": caption, class: "history" }, s("title", {}, caption), axes, lines);
  const legend =
    series.length > 1
      ? h("ul", { class: "legend" }, series.map((x, i) => h("li", { class: `series-${i}` }, `${x.label}: ${x.points.length} points`)))
      : null;
  return h(
    "figure",
    { class: "history-chart" },
    chart,
    legend,
    h("figcaption", {}, caption, dropped ? ` (${dropped} non-finite value${dropped === 1 ? "" : "s"} not drawn)` : ""),
  );
}

/**
 * The history charts of runs ({id, label}): one chart per metric that every run logged at
 * more than one step, the runs' lines overlaid on shared axes; null when there is none.
 */
export async function historyCharts(runs) {
  const listed = await Promise.all(runs.map((r) => get(`/api/runs/${seg(r.id)}/metrics`)));
  const stepped = listed.map((series) => new Set(series.filter((x) => x.points > 1).map((x) => x.key)));
  const keys = [...stepped[0]].filter((k) => stepped.every((set) => set.has(k))).sort();
  if (!keys.length) return null;
  const charts = await Promise.all(
    keys.map(async (key) => {
      const histories = await Promise.all(runs.map((r) => get(`/api/runs/${seg(r.id)}/metrics/${seg(key)}`)));
      return historyChart(key, runs.map((r, i) => ({ label: r.label, points: histories[i] })));
    }),
  );
  return h("div", { class: "plots wide", id: "metric-histories" }, charts);
}
