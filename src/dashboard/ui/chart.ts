/**
 * Charts on uPlot (≈23 KB gzipped, canvas; chosen over Chart.js ≈62–72 KB and frappe-charts
 * ≈19 KB but SVG, see README "Dashboard"). Times are shown in UTC, like the API. Each chart has its
 * own HTML legend (uPlot's is off) and a text alternative; the exact numbers are in the data table
 * next to it.
 */
import uPlot from "uplot";
import { h } from "./dom";

export interface SeriesSpec {
  label: string;
  color: string;
  kind: "bars" | "line" | "dashed";
  /** Secondary y axis (right). */
  right?: boolean;
}

export interface Chart {
  el: HTMLElement;
  /**
   * x: epoch seconds (bucket starts); ys: one array per series (null = no value); `range`: the
   * [start, end) of the question in epoch seconds, so a chart always spans what was asked for.
   */
  update(x: number[], ys: Array<Array<number | null>>, description: string, range?: [number, number]): void;
}

// Bars start at their bucket's start and fill 70% of it.
const bars = uPlot.paths.bars!({ size: [0.7, 40], align: 1 });
/** Tick steps for counts: whole numbers only. */
const COUNT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7, 1e8, 1e9];

export function chart(
  label: string,
  series: SeriesSpec[],
  options: { height?: number; yLabel?: string; /** y values are not counts (ms, bytes). */ continuous?: boolean; yFormat?: (n: number) => string } = {},
): Chart {
  const canvasBox = h("div", { class: "chart-canvas" });
  const text = h("p", { class: "sr-only" });
  const figureEl = h(
    "figure",
    { class: "chart" },
    h("div", { role: "img", "aria-label": label }, canvasBox),
    h(
      "figcaption",
      { class: "legend" },
      ...series.map((s) =>
        h("span", { class: "key" }, h("span", { class: `swatch ${s.kind}`, "aria-hidden": "true", "data-color": s.color }), s.label),
      ),
    ),
    text,
  );
  // Swatch colours through the CSSOM (no inline style attributes: the page's CSP forbids them).
  figureEl.querySelectorAll<HTMLElement>(".swatch").forEach((el) => {
    const c = el.dataset.color!;
    if (el.classList.contains("bars")) el.style.background = c;
    else el.style.borderColor = c;
  });
  let plot: uPlot | null = null;
  const hasRight = series.some((s) => s.right);

  let xRange: [number, number] | undefined;
  const make = (x: number[], ys: Array<Array<number | null>>) => {
    const width = Math.max(260, canvasBox.clientWidth || 600);
    const opts: uPlot.Options = {
      width,
      height: options.height ?? 200,
      legend: { show: false },
      cursor: { show: false },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      scales: { x: { time: true, range: (_u, min, max) => xRange ?? [min, max] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] }, ...(hasRight ? { r: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } } : {}) },
      axes: [
        { stroke: "#333", grid: { stroke: "#e5e5e5" } },
        {
          stroke: "#333",
          grid: { stroke: "#e5e5e5" },
          size: 64,
          ...(options.continuous ? {} : { incrs: COUNT_INCRS }),
          ...(options.yFormat ? { values: (_u: uPlot, ticks: number[]) => ticks.map(options.yFormat!) } : {}),
          ...(options.yLabel ? { label: options.yLabel } : {}),
        },
        ...(hasRight ? [{ scale: "r", side: 1, stroke: "#333", grid: { show: false }, size: 56 }] : []),
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.kind === "bars" ? 0 : 2,
          ...(s.kind === "bars" ? { fill: s.color, paths: bars, points: { show: false } } : { points: { show: x.length < 60 } }),
          ...(s.kind === "dashed" ? { dash: [6, 4] } : {}),
          ...(s.right ? { scale: "r" } : {}),
          spanGaps: false,
        })),
      ],
    };
    return new uPlot(opts, [x, ...ys] as uPlot.AlignedData, canvasBox);
  };

  new ResizeObserver(() => {
    if (plot && canvasBox.clientWidth > 0 && Math.abs(plot.width - canvasBox.clientWidth) > 4) {
      plot.setSize({ width: canvasBox.clientWidth, height: plot.height });
    }
  }).observe(canvasBox);

  return {
    el: figureEl,
    update(x, ys, description, range) {
      text.textContent = description;
      xRange = range;
      if (!plot) plot = make(x, ys);
      // setData redraws in place: no flicker between refreshes.
      else plot.setData([x, ...ys] as uPlot.AlignedData);
    },
  };
}

/** Epoch seconds of an ISO time. */
export const secs = (iso: string): number => Date.parse(iso) / 1000;

export const COLORS = {
  blue: "#1f5fbf",
  orange: "#c25400",
  grey: "#8a8a8a",
  green: "#1b7f3b",
  red: "#b3261e",
  purple: "#6b3fa0",
};
