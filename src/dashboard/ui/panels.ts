/** The dashboard's panels. Each one renders into its own <section> and refreshes itself in place. */
import type { BufferResponse, ConsistencyResponse, JobsResponse, LatencyResponse, MinutesResponse, StorageResponse } from "../../domain/migration-params";
import type { BreakdownResponse } from "../../read/breakdown";
import type { PopularResponse } from "../../read/popular-asset-types";
import type { RealtimeResponse } from "../../read/realtime";
import type { SeriesResponse } from "../../read/series";
import type { SummaryResponse, SummaryRow } from "../../read/summary";
import { explain, get, token, url, type Params } from "./api";
import { COLORS, chart, secs } from "./chart";
import { bytes, field, figure, fill, fmt, h, millis, round2, scroller, select, table, tableView, when } from "./dom";

export interface Panel {
  section: HTMLElement;
  refresh(): Promise<void>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A panel's frame: heading, intro, a status line (loading, empty, errors in words) and a body. */
function frame(id: string, title: string, intro: string) {
  const status = h("p", { class: "panel-status", role: "status", "aria-live": "polite" });
  const body = h("div", { class: "panel-body" });
  const section = h("section", { id, class: "panel", "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), h("p", { class: "intro" }, intro), status, body);
  return {
    section,
    body,
    /** Which API answers the panel shows (tests fetch the same URLs and compare). */
    source(paths: string[]) {
      section.dataset.source = JSON.stringify(paths);
    },
    say(text: string, kind: "info" | "empty" | "error" = "info") {
      status.textContent = text;
      status.className = `panel-status ${kind}`;
      section.dataset.state = kind === "error" ? "error" : kind === "empty" ? "empty" : "ok";
    },
  };
}

async function guarded(f: ReturnType<typeof frame>, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    f.say(explain(error), "error");
  }
}

/** Calls a route and records its URL as a source of the panel. */
function reader(sources: string[]) {
  return <T,>(path: string, params: Params = {}) => {
    sources.push(url(`/api/v1/analytics${path}`, params));
    return get<T>(path, params);
  };
}

const top = <T,>(rows: T[], n = 10) => rows.slice(0, n);

// ---------------------------------------------------------------------------------------------

export function livePanel(): Panel {
  const f = frame("live", "Live: the last hour", "Straight from the Redis minute counters, refreshed every 5 seconds. Times in UTC.");
  const events = figure("live.events", "Events, last 60 minutes");
  const sessions = figure("live.sessions", "Active sessions, last 5 minutes");
  const users = figure("live.users", "Unique users, last 60 minutes (estimate)");
  const perMinute = chart("Events per minute over the last hour", [{ label: "Events per minute", color: COLORS.blue, kind: "bars" }], { height: 180 });
  const names = tableView("live.names", ["Event name", "Events"], [false, true]);
  const categories = tableView("live.categories", ["Category", "Events"], [false, true]);
  const updated = h("p", { class: "updated" });
  fill(f.body, h("dl", { class: "figures" }, events.el, sessions.el, users.el), perMinute.el, h("div", { class: "pair" }, names.el, categories.el), updated);

  const refresh = () =>
    guarded(f, async () => {
      const sources: string[] = [];
      const read = reader(sources);
      const [rt, minutes] = await Promise.all([read<RealtimeResponse>("/realtime", { minutes: 60 }), read<MinutesResponse>("/realtime/minutes", { minutes: 60 })]);
      f.source(sources);
      events.set(fmt(rt.event_count));
      sessions.set(fmt(rt.active_sessions));
      users.set(fmt(rt.unique_users_estimate));
      perMinute.update(
        minutes.points.map((p) => secs(p.minute)),
        [minutes.points.map((p) => p.event_count)],
        `${fmt(minutes.points.reduce((n, p) => n + p.event_count, 0))} events over the last ${minutes.points.length} minutes.`,
        [secs(minutes.points[0]!.minute), secs(minutes.points[minutes.points.length - 1]!.minute) + 60],
      );
      names.update("Top event names", top(rt.by_event_name).map((r) => [r.event_name, fmt(r.event_count)]));
      categories.update("Top categories", top(rt.by_category).map((r) => [r.category, fmt(r.event_count)]));
      updated.textContent = `Updated ${when(rt.to).replace(" UTC", "")}:${rt.to.slice(17, 19)} UTC`;
      if (rt.event_count === 0) f.say("No events in the last hour yet. Add the tracker to a page (see Install below) or send one with curl; it shows up here within seconds.", "empty");
      else f.say("");
    });
  return { section: f.section, refresh };
}

// ---------------------------------------------------------------------------------------------

/** Range controls shared by overview-like panels. */
function rangeControls(name: string, choices: Array<[string, string]>, initial: string, withCustom: boolean) {
  const range = select(withCustom ? [...choices, ["custom", "Custom (UTC dates)"]] : choices, initial, `${name}-range`);
  const from = h("input", { type: "date", name: `${name}-from` });
  const to = h("input", { type: "date", name: `${name}-to` });
  const custom = h("div", { class: "custom", hidden: true }, field("From (UTC, inclusive)", from), field("To (UTC, exclusive)", to));
  range.addEventListener("change", () => (custom.hidden = range.value !== "custom"));
  return {
    els: [field("Range", range), custom] as HTMLElement[],
    /** `from`/`to` parameters for the API. */
    params(): { from?: string; to?: string } {
      if (range.value === "custom") return { from: from.value || undefined, to: to.value || undefined } as { from?: string; to?: string };
      return { from: new Date(Date.now() - Number(range.value) * HOUR).toISOString() };
    },
  };
}

function bucketBars(rows: Array<{ bucket: string; value: number; complete: boolean }>) {
  return {
    x: rows.map((r) => secs(r.bucket)),
    ys: [rows.map((r) => (r.complete ? r.value : null)), rows.map((r) => (r.complete ? null : r.value))],
  };
}

export function overviewPanel(onNames: (names: string[]) => void): Panel {
  const f = frame("overview", "Overview", "Events over a chosen range from the rollups (the open bucket from raw rows). Buckets not complete yet are drawn in orange.");
  const rc = rangeControls("overview", [["24", "Last 24 hours"], ["168", "Last 7 days"], ["720", "Last 30 days"]], "24", true);
  const interval = select([["hour", "Hourly"], ["day", "Daily"]], "hour", "overview-interval");
  const form = h("form", { class: "controls", "aria-label": "Overview range" }, ...rc.els, field("Buckets", interval), h("button", { type: "submit" }, "Show"));
  const total = figure("overview.events", "Events in the range");
  const nameCount = figure("overview.names", "Event names");
  const buckets = figure("overview.buckets", "Buckets");
  const overTime = chart("Events per bucket", [
    { label: "Events (complete bucket)", color: COLORS.blue, kind: "bars" },
    { label: "Events (not complete yet)", color: COLORS.orange, kind: "bars" },
  ]);
  const breakdown = h("div");
  const detailTitle = h("h3", {}, "Unique users and sessions");
  const detailNote = h("p", { class: "note" });
  const detail = chart("Unique users and sessions per bucket for one event name and category", [
    { label: "Unique users", color: COLORS.purple, kind: "line" },
    { label: "Unique sessions", color: COLORS.green, kind: "dashed" },
  ]);
  const detailTable = h("div");
  const truncatedNote = h("p", { class: "note" });
  fill(f.body, form, h("dl", { class: "figures" }, total.el, nameCount.el, buckets.el), truncatedNote, overTime.el, breakdown, detailTitle, detailNote, detail.el, detailTable);

  let rows: SummaryRow[] = [];
  let daily = false;
  let span: [number, number] | undefined;
  const showDetail = (name: string, category: string) => {
    const own = rows.filter((r) => r.event_name === name && r.category === category);
    detailTitle.textContent = `Unique users and sessions: ${name} / ${category}`;
    detailNote.textContent = "Distinct users and sessions are exact per bucket, event name and category; they cannot be added up across names or buckets, so they are shown for one pair at a time (choose it in the table above).";
    detail.update(own.map((r) => secs(r.bucket)), [own.map((r) => r.unique_users), own.map((r) => r.unique_sessions)], `${name} / ${category}: ${own.length} buckets with events.`, span);
    fill(
      detailTable,
      table("overview.detail", `Per bucket: ${name} / ${category}`, ["Bucket", "Events", "Unique users", "Unique sessions", "Complete"],
        own.map((r) => [when(r.bucket, daily), fmt(r.event_count), fmt(r.unique_users), fmt(r.unique_sessions), r.complete ? "yes" : "not yet"]), [false, true, true, true, false]),
    );
  };

  const refresh = () =>
    guarded(f, async () => {
      const sources: string[] = [];
      const data = await reader(sources)<SummaryResponse>("/summary", { interval: interval.value, ...rc.params() });
      f.source(sources);
      rows = data.rows;
      daily = data.interval === "day";
      span = [secs(data.from), secs(data.to)];
      const byBucket = new Map<string, { value: number; complete: boolean }>();
      const byPair = new Map<string, { name: string; category: string; events: number }>();
      for (const r of rows) {
        const b = byBucket.get(r.bucket) ?? { value: 0, complete: true };
        b.value += r.event_count;
        b.complete &&= r.complete;
        byBucket.set(r.bucket, b);
        const key = `${r.event_name}\u0000${r.category}`;
        const p = byPair.get(key) ?? { name: r.event_name, category: r.category, events: 0 };
        p.events += r.event_count;
        byPair.set(key, p);
      }
      const names = [...new Set(rows.map((r) => r.event_name))].sort();
      onNames(names);
      total.set(fmt(rows.reduce((n, r) => n + r.event_count, 0)));
      nameCount.set(fmt(names.length));
      buckets.set(fmt(byBucket.size));
      truncatedNote.textContent = data.truncated ? "This range has more rows than one answer carries (10,000): it stops at the last whole bucket that fit. Choose daily buckets or a shorter range." : "";
      const series = bucketBars([...byBucket].map(([bucket, v]) => ({ bucket, ...v })));
      overTime.update(series.x, series.ys, `${fmt(byBucket.size)} buckets with events from ${when(data.from, daily)} to ${when(data.to, daily)}.`, [secs(data.from), secs(data.to)]);
      const pairs = [...byPair.values()].sort((a, b) => b.events - a.events || (a.name < b.name ? -1 : 1));
      fill(
        breakdown,
        scroller("Per event name and category over the range", h(
          "table",
          { "data-table": "overview.pairs" },
          h("caption", {}, "Per event name and category over the range"),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Event name"), h("th", { scope: "col" }, "Category"), h("th", { scope: "col", class: "num" }, "Events"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Chart")))),
          h(
            "tbody",
            {},
            ...pairs.map((p) =>
              h("tr", {}, h("th", { scope: "row" }, p.name), h("td", {}, p.category), h("td", { class: "num" }, fmt(p.events)),
                h("td", {}, h("button", { type: "button", class: "link", onclick: () => showDetail(p.name, p.category) }, `Users and sessions of ${p.name} / ${p.category}`))),
            ),
          ),
        )),
      );
      if (pairs[0]) showDetail(pairs[0].name, pairs[0].category);
      else fill(detailTable);
      if (rows.length === 0) f.say("No events in this range. Pick a longer range, or send events (see Install).", "empty");
      else f.say("");
    });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void refresh();
  });
  return { section: f.section, refresh };
}

// ---------------------------------------------------------------------------------------------

export function drilldownPanel(): Panel & { setNames(names: string[]): void } {
  const f = frame("drilldown", "Event drill-down", "One event name over time with its moving average, and percentiles of a numeric property (raw rows, up to 7 days).");
  const name = h("input", { type: "text", name: "event-name", list: "event-names", required: true, autocomplete: "off", value: "page_view" });
  const names = h("datalist", { id: "event-names" });
  const range = select([["24", "Last 24 hours"], ["144", "Last 6 days"]], "24", "drill-range");
  const interval = select([["hour", "Hourly"], ["day", "Daily"]], "hour", "drill-interval");
  const window = h("input", { type: "number", name: "moving-average", min: 1, max: 168, value: 3, inputmode: "numeric" });
  const property = h("input", { type: "text", name: "property", value: "duration_ms", autocomplete: "off" });
  const pcts = h("input", { type: "text", name: "percentiles", value: "50,95,99", autocomplete: "off" });
  const form = h("form", { class: "controls", "aria-label": "Drill-down question" }, field("Event name", name), names, field("Range", range), field("Buckets", interval),
    field("Moving average (buckets)", window), field("Numeric property (empty: none)", property), field("Percentiles", pcts), h("button", { type: "submit" }, "Show"));
  const total = figure("drilldown.events", "Events in the range");
  const counts = chart("Events per bucket with the moving average", [
    { label: "Events (complete bucket)", color: COLORS.blue, kind: "bars" },
    { label: "Events (not complete yet)", color: COLORS.orange, kind: "bars" },
    { label: "Moving average", color: COLORS.purple, kind: "line" },
  ]);
  const pctTitle = h("h3", {}, "Percentiles");
  const pctChart = chart("Percentiles of the property per bucket", [
    { label: "p50", color: COLORS.green, kind: "line" },
    { label: "p95", color: COLORS.orange, kind: "line" },
    { label: "p99", color: COLORS.red, kind: "dashed" },
  ]);
  const data = h("div");
  fill(f.body, form, h("dl", { class: "figures" }, total.el), counts.el, pctTitle, pctChart.el, data);

  const refresh = () =>
    guarded(f, async () => {
      if (!name.value.trim()) {
        f.say("Type an event name (the overview lists the names seen).", "empty");
        return;
      }
      const withPct = property.value.trim() !== "";
      const hours = Number(range.value);
      const w = Number(window.value) || 1;
      const widthMs = interval.value === "day" ? DAY : HOUR;
      const sources: string[] = [];
      const s = await reader(sources)<SeriesResponse>("/series", {
        event_name: name.value.trim(),
        interval: interval.value,
        from: new Date(Date.now() - hours * HOUR + (withPct ? (w - 1) * widthMs : 0)).toISOString(),
        moving_average: w,
        ...(withPct ? { property: property.value.trim(), percentiles: pcts.value.replace(/\s+/g, "") } : {}),
      });
      f.source(sources);
      const daily = s.interval === "day";
      const bars = bucketBars(s.points.map((p) => ({ bucket: p.bucket, value: p.event_count, complete: p.complete })));
      total.set(fmt(s.points.reduce((n, p) => n + p.event_count, 0)));
      counts.update(bars.x, [...bars.ys, s.points.map((p) => p.moving_average ?? null)], `${s.points.length} buckets of ${name.value}.`, [secs(s.from), secs(s.to)]);
      const keys = (s.percentiles ?? []).map((p) => `p${p}`);
      pctTitle.textContent = withPct ? `Percentiles of ${property.value.trim()} (${keys.join(", ")})` : "Percentiles (name a numeric property above)";
      pctChart.update(bars.x, [0, 1, 2].map((i) => s.points.map((p) => (keys[i] ? (p.percentiles?.[keys[i]!] ?? null) : null))), `Percentiles ${keys.join(", ")} per bucket.`, [secs(s.from), secs(s.to)]);
      fill(
        data,
        table("drilldown.points", `Per bucket: ${name.value}`, ["Bucket", "Events", "Moving average", ...keys, "Complete"],
          s.points.map((p) => [when(p.bucket, daily), fmt(p.event_count), p.moving_average === undefined ? "–" : round2(p.moving_average),
            ...keys.map((k) => (p.percentiles?.[k] ?? null) === null ? "–" : round2(p.percentiles![k]!)), p.complete ? "yes" : "not yet"]),
          [false, true, true, ...keys.map(() => true), false]),
      );
      if (s.points.every((p) => p.event_count === 0)) f.say(`No ${name.value} events in this range. Check the name against the overview's table.`, "empty");
      else f.say("");
    });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void refresh();
  });
  return {
    section: f.section,
    refresh,
    setNames(list) {
      fill(names, ...list.map((n) => h("option", { value: n })));
    },
  };
}

// ---------------------------------------------------------------------------------------------

export function assetsPanel(): Panel {
  const f = frame("assets", "Popular asset types", "What the legacy get_popular_asset_types() reported: asset_generated events per properties.asset_type, whole days (today included).");
  const range = select([["7", "Last 7 days"], ["30", "Last 30 days"], ["365", "Last 365 days"]], "7", "assets-range");
  const form = h("form", { class: "controls", "aria-label": "Asset types range" }, field("Range", range), h("button", { type: "submit" }, "Show"));
  const out = h("div");
  fill(f.body, form, out);
  const refresh = () =>
    guarded(f, async () => {
      const sources: string[] = [];
      const to = new Date(Date.now() + DAY).toISOString().slice(0, 10);
      const from = new Date(Date.now() - (Number(range.value) - 1) * DAY).toISOString().slice(0, 10);
      const p = await reader(sources)<PopularResponse>("/popular-asset-types", { from, to, limit: 10 });
      f.source(sources);
      const max = Math.max(1, ...p.rows.map((r) => r.generation_count));
      const list = h("ol", { class: "hbars", "aria-label": "Generations per asset type" },
        ...p.rows.map((r) => {
          const bar = h("span", { class: "hbar", "aria-hidden": "true" });
          bar.style.width = `${(r.generation_count / max) * 100}%`;
          return h("li", {}, h("span", { class: "hlabel" }, `${r.asset_type}: ${fmt(r.generation_count)}`), bar);
        }));
      fill(out, list, table("assets.rows", `Asset types from ${when(p.from, true)} to ${when(p.to, true)} (exclusive)`, ["Asset type", "Generations", "Unique creators (summed per day)"],
        p.rows.map((r) => [r.asset_type, fmt(r.generation_count), fmt(r.unique_creators)]), [false, true, true]));
      if (p.rows.length === 0) f.say('No asset_generated events with a properties.asset_type in this range. Track one: analytics.track("asset_generated", "creation", { asset_type: "image" }).', "empty");
      else f.say("");
    });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void refresh();
  });
  return { section: f.section, refresh };
}

// ---------------------------------------------------------------------------------------------

/** The breakdowns the panel shows: [dimension, title, column heading, what a missing value means]. */
const BREAKDOWNS: Array<[string, string, string, string]> = [
  ["page_path", "Top pages", "Page", "(no page URL)"],
  ["referrer_host", "Referrers", "Referrer", "Direct / none"],
  ["utm_campaign", "Campaigns", "Campaign", "(no campaign)"],
  ["country", "Countries", "Country", "(unknown)"],
  ["device_class", "Devices", "Device", "(unknown)"],
];

export function breakdownsPanel(): Panel {
  const f = frame(
    "breakdowns",
    "Pages, referrers, campaigns, countries and devices",
    "Whole days (today included). Visitors are counted per day without cookies and summed over the days of the range.",
  );
  const range = select([["7", "Last 7 days"], ["30", "Last 30 days"], ["365", "Last 365 days"]], "30", "breakdowns-range");
  const form = h("form", { class: "controls", "aria-label": "Breakdowns range" }, field("Range", range), h("button", { type: "submit" }, "Show"));
  const views = BREAKDOWNS.map(([dimension, , column]) => ({ dimension, view: tableView(`breakdowns.${dimension}`, [column, "Events", "Visitors"], [false, true, true]) }));
  const period = h("p", { class: "period" });
  fill(f.body, form, period, h("div", { class: "breakdowns" }, ...views.map((v) => v.view.el)));
  const refresh = () =>
    guarded(f, async () => {
      const sources: string[] = [];
      const to = new Date(Date.now() + DAY).toISOString().slice(0, 10);
      const from = new Date(Date.now() - (Number(range.value) - 1) * DAY).toISOString().slice(0, 10);
      const read = reader(sources);
      const answers = await Promise.all(views.map((v) => read<BreakdownResponse>("/breakdown", { dimension: v.dimension, from, to, limit: 10 })));
      f.source(sources);
      period.textContent = `From ${when(answers[0]!.from, true)} to ${when(answers[0]!.to, true)} (exclusive), most events first.`;
      answers.forEach((b, i) => {
        const [, title, , none] = BREAKDOWNS[i]!;
        views[i]!.view.update(title, b.rows.map((r) => [r.value ?? none, fmt(r.events), fmt(r.visitors)]));
      });
      if (answers.every((b) => b.rows.length === 0)) f.say("No events in this range yet.", "empty");
      else f.say("");
    });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void refresh();
  });
  return { section: f.section, refresh };
}

// ---------------------------------------------------------------------------------------------

const METRIC_NAMES: Record<string, string> = {
  redis_ingest: "Ingest: Redis step",
  postgres_insert: "Ingest: PostgreSQL insert (request)",
  drain_insert: "Drain: PostgreSQL insert",
};
const metricName = (m: string) => METRIC_NAMES[m] ?? (m.startsWith("read:") ? `Read ${m.slice("read:/api/v1/analytics".length) || "/"}` : m);

/** Sub-block of the health panel with its own error line, so one store down does not blank the rest. */
function block(id: string, title: string) {
  const status = h("p", { class: "panel-status", role: "status", "aria-live": "polite" });
  const body = h("div");
  const el = h("div", { class: "block", id }, h("h3", {}, title), status, body);
  return {
    el,
    body,
    say(text: string, kind: "info" | "empty" | "error" = "info") {
      status.textContent = text;
      status.className = `panel-status ${kind}`;
      el.dataset.state = kind === "error" ? "error" : kind === "empty" ? "empty" : "ok";
    },
  };
}

export function healthPanel(): Panel {
  const f = frame("health", "Migration health", "What to watch during the migration: write and read latency, consistency between Redis and PostgreSQL, the buffer, storage and the cron jobs.");
  const stores = block("health-stores", "Stores");
  const buffer = block("health-buffer", "Buffer and dead letters");
  const latency = block("health-latency", "Write and read latency (last 24 hours, measured by the worker)");
  const consistency = block("health-consistency", "Consistency (hourly checks, last 7 days)");
  const storage = block("health-storage", "Storage per day");
  const jobs = block("health-jobs", "Cron jobs (last 24 hours)");
  const pending = figure("health.pending", "Batches waiting in the buffer");
  const dead = figure("health.dead", "Dead letters");
  const age = figure("health.age", "Oldest waiting (seconds)");
  fill(buffer.body, h("dl", { class: "figures" }, pending.el, dead.el, age.el));
  const latencyChart = chart("Write latency p50 and p99 per hour", [
    { label: "Redis step p50", color: COLORS.blue, kind: "line" },
    { label: "Redis step p99", color: COLORS.blue, kind: "dashed" },
    { label: "PostgreSQL insert p50", color: COLORS.orange, kind: "line" },
    { label: "PostgreSQL insert p99", color: COLORS.orange, kind: "dashed" },
  ], { yLabel: "ms", continuous: true });
  const latencyTable = tableView("health.latency", ["Measured step", "Measurements", "p50", "p99"], [false, true, true, true]);
  fill(latency.body, latencyChart.el, latencyTable.el);
  const consistencyChart = chart("Scopes compared per checked hour, by outcome", [
    { label: "Hour matched", color: COLORS.green, kind: "bars" },
    { label: "Hour healed (rollup rebuilt)", color: COLORS.orange, kind: "bars" },
    { label: "Hour drifting", color: COLORS.red, kind: "bars" },
  ]);
  const driftTable = tableView("health.drifting", ["Hour", "Scope", "Redis", "Raw", "Rollup", "Drift", "Action"], [false, false, true, true, true, true, false]);
  const noDrift = h("p", { "data-figure": "health.drifting" });
  fill(consistency.body, consistencyChart.el, noDrift, driftTable.el);
  const dbSize = figure("health.database", "Database size");
  const ratio = figure("health.compression", "Compression ratio");
  const storageChart = chart("Raw event storage per day", [{ label: "Size of the day's raw events", color: COLORS.purple, kind: "bars" }], { height: 160, continuous: true, yFormat: bytes });
  const storageTable = tableView("health.storage", ["Day", "Size", "Compressed"], [false, true, false]);
  fill(storage.body, h("dl", { class: "figures" }, dbSize.el, ratio.el), storageChart.el, storageTable.el);
  const jobsChart = chart("Cron runs and failures per hour", [
    { label: "Failed runs", color: COLORS.red, kind: "bars" },
    { label: "Runs", color: COLORS.grey, kind: "line" },
  ], { height: 160 });
  const jobsTable = tableView("health.jobs", ["Job", "Runs", "OK", "Failed", "Skipped", "Latest run", "Latest failure"], [false, true, true, true, true, false, false]);
  fill(jobs.body, jobsChart.el, jobsTable.el);
  const storesLine = h("p", { "data-figure": "health.stores" });
  fill(stores.body, storesLine);
  fill(f.body, stores.el, buffer.el, latency.el, consistency.el, storage.el, jobs.el);

  const run = async (b: ReturnType<typeof block>, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      b.say(explain(error), "error");
    }
  };

  const refresh = async () => {
    const sources: string[] = [];
    const read = reader(sources);
    await Promise.all([
      run(stores, async () => {
        // With the token: a deployment that splits /health into a public and an operator view
        // answers the operator view; without a split the header is ignored.
        const bearer = token.get();
        const response = await fetch("/health", { cache: "no-store", headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
        const body = (await response.json()) as { status?: string; redis?: { ok?: boolean }; postgres?: { ok?: boolean; tier?: string } };
        const words: string[] = [];
        if (body.redis?.ok === false) words.push("Redis is unreachable: live figures and the buffer cannot be read; ingestion stores events straight into PostgreSQL meanwhile.");
        if (body.postgres?.ok === false) words.push("PostgreSQL is unreachable: stored figures cannot be read; new events wait in the Redis buffer and are drained once it is back.");
        storesLine.textContent = words.length ? words.join(" ") : body.redis?.ok && body.postgres?.ok ? `Redis and PostgreSQL both answer${body.postgres.tier ? ` (tier ${body.postgres.tier})` : ""}.` : `Health: ${body.status ?? response.status}.`;
        stores.say(words.length ? "A store is down." : "", words.length ? "error" : "info");
      }),
      run(buffer, async () => {
        const b = await read<BufferResponse>("/migration/buffer");
        pending.set(fmt(b.pending));
        dead.set(fmt(b.dead_letter));
        age.set(fmt(b.oldest_age_seconds));
        buffer.say(b.dead_letter > 0 ? `${fmt(b.dead_letter)} entries could not be stored and wait in the dead-letter stream (see README "Cron jobs").` : "");
      }),
      run(latency, async () => {
        const l = await read<LatencyResponse>("/migration/latency", { interval: "hour" });
        const buckets = [...new Set(l.points.map((p) => p.bucket))].sort();
        const pick = (metric: string, key: "p50" | "p99") => buckets.map((b) => l.points.find((p) => p.bucket === b && p.metric === metric)?.[key] ?? null);
        latencyChart.update(buckets.map(secs), [pick("redis_ingest", "p50"), pick("redis_ingest", "p99"), pick("postgres_insert", "p50"), pick("postgres_insert", "p99")], `Latency over ${buckets.length} hours with measurements.`, [secs(l.from), secs(l.to)]);
        latencyTable.update("Per step and read endpoint over the last 24 hours", l.metrics.map((m) => [metricName(m.metric), fmt(m.count), millis(m.p50), millis(m.p99)]));
        latency.say(l.metrics.length === 0 ? "No measurements yet: they are written with the next insert the worker sends, a few seconds after events arrive." : "", l.metrics.length === 0 ? "empty" : "info");
      }),
      run(consistency, async () => {
        const c = await read<ConsistencyResponse>("/migration/consistency", { from: new Date(Date.now() - 7 * DAY).toISOString() });
        consistencyChart.update(c.hours.map((x) => secs(x.hour)), (["match", "healed", "drift"] as const).map((state) => c.hours.map((x) => (x.state === state ? x.compared : null))),
          `${c.hours.length} checked hours: ${c.hours.filter((x) => x.state === "match").length} matched, ${c.hours.filter((x) => x.state === "healed").length} healed, ${c.hours.filter((x) => x.state === "drift").length} drifting.`, [secs(c.from), secs(c.to)]);
        noDrift.textContent = c.drifting.length === 0 && c.hours.length ? "No drifting hour: every check matched." : "";
        driftTable.el.hidden = c.drifting.length === 0;
        driftTable.update(`Drifting hours (latest check of each scope)${c.truncated ? ": the first 500" : ""}`,
          c.drifting.map((d) => [when(d.hour), d.scope, d.redis_count === null ? "–" : fmt(d.redis_count), fmt(d.raw_count), fmt(d.rollup_count), fmt(d.drift), d.action ?? "–"]));
        consistency.say(c.hours.length === 0 ? "No hour checked yet: the hourly job compares every closed hour that Redis still holds." : "", c.hours.length === 0 ? "empty" : "info");
      }),
      run(storage, async () => {
        const s = await read<StorageResponse>("/migration/storage");
        dbSize.set(bytes(s.database_bytes));
        ratio.set(s.compression.available ? (s.compression.ratio === null ? "no compressed day yet" : `${s.compression.ratio}×`) : s.compression.reason);
        storageChart.update(s.days.map((d) => secs(`${d.day}T00:00:00Z`)), [s.days.map((d) => d.bytes)], `${s.days.length} days stored, tier ${s.tier}.`,
          s.days.length ? [secs(`${s.days[0]!.day}T00:00:00Z`), secs(`${s.days[s.days.length - 1]!.day}T00:00:00Z`) + 86_400] : undefined);
        storageTable.update(`Raw events per day (tier ${s.tier ?? "unknown"})`, s.days.map((d) => [d.day, bytes(d.bytes), d.compressed ? "yes" : "no"]));
      }),
      run(jobs, async () => {
        const j = await read<JobsResponse>("/migration/jobs", { interval: "hour" });
        const buckets = [...new Set(j.points.map((p) => p.bucket))].sort();
        const sum = (b: string, key: "runs" | "errors") => j.points.filter((p) => p.bucket === b).reduce((n, p) => n + p[key], 0);
        jobsChart.update(buckets.map(secs), [buckets.map((b) => sum(b, "errors")), buckets.map((b) => sum(b, "runs"))], `${j.jobs.reduce((n, x) => n + x.runs, 0)} runs in ${buckets.length} hours.`, [secs(j.from), secs(j.to)]);
        jobsTable.update("Runs per job over the last 24 hours", j.jobs.map((x) => [x.job, fmt(x.runs), fmt(x.ok), fmt(x.errors), fmt(x.skipped), x.last_run ? `${when(x.last_run.started_at)} ${x.last_run.outcome}` : "–",
          x.last_error ? `${when(x.last_error.at)}: ${x.last_error.message ?? ""}` : "none"]));
        jobs.say(j.jobs.length === 0 ? "No cron run recorded in the last 24 hours. `npm run dev` fires them every minute; in production the Cron Triggers do." : "", j.jobs.length === 0 ? "empty" : "info");
      }),
    ]);
    f.source(sources);
  };
  return { section: f.section, refresh };
}

// ---------------------------------------------------------------------------------------------

export function installPanel(): Panel {
  const f = frame("install", "Install the tracker", "Add one script tag to your pages; it sends page views by itself and exposes analytics.track().");
  const origin = location.origin;
  const snippet = `<script async src="${origin}/tracker.js" data-write-key="YOUR_WRITE_KEY"></script>`;
  const example = `// after the script has loaded (or queue calls as described in the README)
analytics.track("signup", "account", { plan: "pro" });
analytics.track("asset_generated", "creation", { asset_type: "image", duration_ms: 420 });
analytics.identify("user-42");   // later events carry this user_id
analytics.flush();               // send now instead of within a few seconds`;
  const curl = `curl -s ${origin}/api/v1/analytics -H 'content-type: application/json' \\
  -H 'x-write-key: YOUR_WRITE_KEY' \\
  -d '{"events":[{"event_name":"page_view","category":"navigation","user_id":"u-1","session_id":"s-1"}]}'`;
  const code = (label: string, text: string, key: string) => {
    const pre = h("pre", { tabindex: 0, "aria-label": label, "data-code": key }, h("code", {}, text));
    const done = h("span", { class: "copied", role: "status" });
    const copy = h("button", { type: "button", onclick: () => void navigator.clipboard?.writeText(text).then(() => (done.textContent = "Copied."), () => (done.textContent = "Select the text and copy it.")) }, `Copy ${label.toLowerCase()}`);
    return h("div", { class: "code" }, h("h3", {}, label), pre, copy, done);
  };
  // Try it here: the real /tracker.js, loaded into this page, sends one event with your key.
  const key = h("input", { type: "text", name: "try-write-key", autocomplete: "off", spellcheck: "false" });
  const outcome = h("p", { class: "panel-status", id: "try-outcome", role: "status", "aria-live": "polite" });
  const tryForm = h("form", { class: "controls", method: "post", "aria-label": "Try the tracker" }, field("Write key", key), h("button", { type: "submit" }, "Send a test event"));
  tryForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void sendTestEvent(key.value.trim()).then((text) => (outcome.textContent = text));
  });
  fill(
    f.body,
    h("h3", {}, "Try it"),
    h("p", { class: "note" }, 'Loads /tracker.js into this page and calls analytics.track("dashboard_try", "install"); the live panel above shows it within seconds.'),
    tryForm,
    outcome,
    code("Script tag", snippet, "snippet"),
    h("p", { class: "note" }, "Replace YOUR_WRITE_KEY with one of WRITE_KEYS (npm run dev prints the local one: dev-write-key). The page's origin must be in ALLOWED_ORIGINS."),
    code("Tracking events", example, "track"),
    code("Without the tracker (curl)", curl, "curl"),
  );
  return { section: f.section, refresh: async () => {} };
}

interface TrackerApi {
  init(options: { writeKey: string }): void;
  track(name: string, category: string, properties?: Record<string, unknown>): void;
  flush(): Promise<void>;
  stats(): { sent: number; rejected: number; dropped: number };
}

let trackerLoaded: Promise<TrackerApi> | null = null;

/** The worker's own /tracker.js, loaded once (the CSP allows scripts from this origin only). */
function loadTracker(): Promise<TrackerApi> {
  return (trackerLoaded ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/tracker.js";
    script.onload = () => resolve((window as unknown as { analytics: TrackerApi }).analytics);
    script.onerror = () => reject(new Error("could not load /tracker.js"));
    document.head.append(script);
  }));
}

/** Sends one event through the tracker; resolves to what happened, in words. */
async function sendTestEvent(writeKey: string): Promise<string> {
  if (!writeKey) return "Type a write key first (one of WRITE_KEYS; npm run dev uses dev-write-key).";
  try {
    const analytics = await loadTracker();
    // The tracker keeps the key of its first init for the life of the page.
    analytics.init({ writeKey });
    const before = analytics.stats();
    analytics.track("dashboard_try", "install", { source: "dashboard" });
    await analytics.flush();
    const after = analytics.stats();
    if (after.sent > before.sent) return "Sent: the worker accepted a dashboard_try event (202). Watch the live panel.";
    if (after.dropped > before.dropped) return "The worker refused the event: check the write key (one of WRITE_KEYS) and this origin in ALLOWED_ORIGINS, then reload the page to try again.";
    return "Queued: the worker has not answered yet; the tracker keeps retrying in the background.";
  } catch (error) {
    return `The tracker could not be loaded: ${String(error)}`;
  }
}
