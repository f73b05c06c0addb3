/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard end to end: Debian's headless Chromium (playwright-core) against the real
 * `wrangler dev` stack (scripts/lib/dev-stack.ts, what `npm run dev` starts) with a private
 * redis-server and a fresh database on the machine's PostgreSQL, seeded through the ingest API
 * (scripts/lib/dashboard-seed.ts) with the cron jobs run once.
 *
 * Every figure and table row a panel shows is compared with what the read API answers for the URLs
 * the panel itself asked (`data-source` on each panel), formatted the way the page formats them.
 * Outage tests run last: restarting the private Redis empties it.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import pg from "pg";
import type { Browser, ConsoleMessage, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { postEvents, seedDashboard } from "../../scripts/lib/dashboard-seed";
import { DEV_READ_TOKEN, startDevStack, type DevStack } from "../../scripts/lib/dev-stack";
import { bytes, fmt, millis, round2, when } from "../../src/dashboard/ui/format";
import { launchChromium } from "../support/browser";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

const WRITE_KEY = "dashboard-e2e-write-key";
const TOKEN = DEV_READ_TOKEN;
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let db: TestDatabase | undefined;
let stack: DevStack | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  db = await createTestDatabase("eaw_dash");
  stack = await startDevStack({ databaseUrl: db.url, quiet: true, vars: { WRITE_KEYS: WRITE_KEY, INGEST_MODE: "direct" } });
  await seedDashboard(stack, WRITE_KEY);
  // One drifting hour: a rollup that disagrees with raw rows, which the next hourly run heals.
  const sql = new pg.Client(db.url);
  await sql.connect();
  try {
    await sql.query(`UPDATE analytics_hourly SET event_count = event_count + 7
      WHERE (bucket, event_name, category) IN (SELECT bucket, event_name, category FROM analytics_hourly
        WHERE bucket < date_trunc('hour', now()) - interval '1 hour' ORDER BY bucket DESC LIMIT 1)`);
  } finally {
    await sql.end();
  }
  await stack.fireCron("0 * * * *");
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  const steps = [browser && (() => browser!.close()), stack && (() => stack!.stop()), db && (() => db!.drop())];
  const errors: unknown[] = [];
  for (const step of steps) await step?.().catch((error: unknown) => errors.push(error));
  if (errors.length) throw new AggregateError(errors, "dashboard e2e cleanup failed");
}, 60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function api<T>(path: string, token = TOKEN): Promise<T> {
  const response = await fetch(`${stack!.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status, `${path} answered ${response.status}`).toBe(200);
  return (await response.json()) as T;
}

/** A signed-in page and the console errors it logs (`allowed` filters expected resource errors). */
async function openDashboard(viewport = { width: 1280, height: 800 }) {
  const context = await browser!.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  await page.goto(`${stack!.baseUrl}/`);
  return { context, page, errors };
}

async function signIn(page: Page, token = TOKEN): Promise<void> {
  await page.getByLabel("Read token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
}

const figure = (page: Page, key: string) => page.locator(`[data-figure="${key}"]`).innerText();

/** Cell texts of a data table's body rows. */
function rows(page: Page, key: string): Promise<string[][]> {
  return page
    .locator(`[data-table="${key}"] tbody tr`)
    .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((cell) => (cell as HTMLElement).innerText.trim())));
}

/** The URLs a panel read its current figures from. */
async function sources(page: Page, panel: string): Promise<string[]> {
  return JSON.parse((await page.locator(`#${panel}`).getAttribute("data-source")) ?? "[]") as string[];
}

/**
 * Compares what a panel shows with the API's answers to the same URLs, again until they agree or
 * 15 s passed (a refresh between reading the page and asking the API can move live figures).
 */
async function expectPanelMatches(page: Page, panel: string, check: (answers: unknown[]) => Promise<void>): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const urls = await sources(page, panel);
      expect(urls.length).toBeGreaterThan(0);
      await check(await Promise.all(urls.map((u) => api(u))));
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

interface SummaryRow {
  bucket: string;
  event_name: string;
  category: string;
  event_count: number;
  unique_users: number;
  unique_sessions: number;
  complete: boolean;
}

const METRIC_NAMES: Record<string, string> = {
  redis_ingest: "Ingest: Redis step",
  postgres_insert: "Ingest: PostgreSQL insert (request)",
  drain_insert: "Drain: PostgreSQL insert",
};

describe("dashboard (headless Chromium, wrangler dev, Redis, PostgreSQL)", () => {
  test("/ is the dashboard, with its assets from the worker, within 100 KB gzipped, under a same-origin CSP", async () => {
    const response = await fetch(`${stack!.baseUrl}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    const html = await response.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toHaveLength(2);
    let gzipped = 0;
    for (const path of assets) {
      const asset = await fetch(`${stack!.baseUrl}${path}`, { headers: { "accept-encoding": "gzip" } });
      expect(asset.status).toBe(200);
      expect(asset.headers.get("cache-control")).toContain("immutable");
      const { gzipSync } = await import("node:zlib");
      gzipped += gzipSync(Buffer.from(await asset.arrayBuffer()), { level: 9 }).length;
    }
    expect(gzipped).toBeLessThanOrEqual(100 * 1024);
    expect(html).not.toMatch(/https?:\/\//);
  });

  test("sign-in: a wrong token is refused in words, the right one is kept in sessionStorage only, sign-out forgets it", async () => {
    const { context, page, errors } = await openDashboard();
    try {
      await page.getByLabel("Read token").fill("not-the-token-at-all-123");
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect.poll(() => page.getByRole("alert").innerText()).toContain("not accepted");
      await signIn(page);
      expect(page.url()).toBe(`${stack!.baseUrl}/`);
      expect(await page.evaluate(() => sessionStorage.getItem("analytics.readToken"))).toBe(TOKEN);
      expect(await page.evaluate(() => Object.keys(localStorage).length)).toBe(0);
      expect(await context.cookies()).toEqual([]);
      // A reload keeps the session (same tab); signing out forgets it.
      await page.reload();
      await page.waitForSelector("body[data-ready=true]");
      await page.getByRole("button", { name: "Sign out" }).click();
      await expect.poll(() => page.evaluate(() => sessionStorage.getItem("analytics.readToken"))).toBeNull();
      await expect(page.getByLabel("Read token").isVisible()).resolves.toBe(true);
      // The only console errors are the browser's note about the refused 401.
      expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("every figure on every panel equals the read API's answer for the same range", async () => {
    const { context, page, errors } = await openDashboard();
    try {
      await signIn(page);

      // Live.
      await expectPanelMatches(page, "live", async ([rt, minutes]) => {
        const r = rt as { event_count: number; active_sessions: number; unique_users_estimate: number; by_event_name: Array<{ event_name: string; event_count: number }>; by_category: Array<{ category: string; event_count: number }> };
        const m = minutes as { points: Array<{ event_count: number }> };
        expect(r.event_count).toBeGreaterThan(0);
        expect(await figure(page, "live.events")).toBe(fmt(r.event_count));
        expect(await figure(page, "live.sessions")).toBe(fmt(r.active_sessions));
        expect(await figure(page, "live.users")).toBe(fmt(r.unique_users_estimate));
        expect(await rows(page, "live.names")).toEqual(r.by_event_name.slice(0, 10).map((x) => [x.event_name, fmt(x.event_count)]));
        expect(await rows(page, "live.categories")).toEqual(r.by_category.slice(0, 10).map((x) => [x.category, fmt(x.event_count)]));
        const perMinute = m.points.reduce((n, p) => n + p.event_count, 0);
        expect(await page.locator("#live .chart .sr-only").innerText()).toContain(`${fmt(perMinute)} events over the last 60 minutes`);
      });

      // Overview, over every range and both bucket widths.
      const choices: Array<[string, string, string?, string?]> = [["24", "hour"], ["168", "hour"], ["720", "day"], ["custom", "day", new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10), new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)]];
      for (const [range, interval, from, to] of choices) {
        const before = await page.locator("#overview").getAttribute("data-source");
        await page.locator("select[name=overview-range]").selectOption(range);
        if (from && to) {
          await page.locator("input[name=overview-from]").fill(from);
          await page.locator("input[name=overview-to]").fill(to);
        }
        await page.locator("select[name=overview-interval]").selectOption(interval);
        await page.locator("#overview").getByRole("button", { name: "Show" }).click();
        await expect.poll(() => page.locator("#overview").getAttribute("data-source")).not.toBe(before);
        await expectPanelMatches(page, "overview", async ([summary]) => {
          const s = summary as { rows: SummaryRow[]; interval: string };
          expect(s.interval).toBe(interval);
          expect(s.rows.length).toBeGreaterThan(0);
          expect(await figure(page, "overview.events")).toBe(fmt(s.rows.reduce((n, r) => n + r.event_count, 0)));
          expect(await figure(page, "overview.names")).toBe(fmt(new Set(s.rows.map((r) => r.event_name)).size));
          expect(await figure(page, "overview.buckets")).toBe(fmt(new Set(s.rows.map((r) => r.bucket)).size));
          const pairs = new Map<string, [string, string, number]>();
          for (const r of s.rows) {
            const key = `${r.event_name}|${r.category}`;
            const p = pairs.get(key) ?? [r.event_name, r.category, 0];
            p[2] += r.event_count;
            pairs.set(key, p);
          }
          const expected = [...pairs.values()].sort((a, b) => b[2] - a[2] || (a[0] < b[0] ? -1 : 1));
          const shown = await rows(page, "overview.pairs");
          expect(shown.map((r) => r.slice(0, 3))).toEqual(expected.map(([n, c, e]) => [n, c, fmt(e)]));
          const [name, category] = expected[0]!;
          const daily = interval === "day";
          expect(await rows(page, "overview.detail")).toEqual(
            s.rows.filter((r) => r.event_name === name && r.category === category)
              .map((r) => [when(r.bucket, daily), fmt(r.event_count), fmt(r.unique_users), fmt(r.unique_sessions), r.complete ? "yes" : "not yet"]),
          );
        });
        // The open bucket is drawn as not complete yet (a series of its own).
        expect(await page.locator("#overview .legend").first().innerText()).toContain("not complete yet");
      }

      // Drill-down: page_view with a moving average and duration_ms percentiles, hourly and daily.
      for (const [range, interval] of [["24", "hour"], ["144", "day"]] as const) {
        const before = await page.locator("#drilldown").getAttribute("data-source");
        await page.locator("select[name=drill-range]").selectOption(range);
        await page.locator("select[name=drill-interval]").selectOption(interval);
        await page.locator("#drilldown").getByRole("button", { name: "Show" }).click();
        await expect.poll(() => page.locator("#drilldown").getAttribute("data-source")).not.toBe(before);
        await expectPanelMatches(page, "drilldown", async ([series]) => {
          const s = series as { points: Array<{ bucket: string; event_count: number; moving_average: number; percentiles: Record<string, number | null>; complete: boolean }> };
          expect(s.points.some((p) => p.percentiles.p50 !== null)).toBe(true);
          expect(await figure(page, "drilldown.events")).toBe(fmt(s.points.reduce((n, p) => n + p.event_count, 0)));
          const cell = (v: number | null) => (v === null ? "–" : round2(v));
          expect(await rows(page, "drilldown.points")).toEqual(
            s.points.map((p) => [when(p.bucket, interval === "day"), fmt(p.event_count), round2(p.moving_average), cell(p.percentiles.p50!), cell(p.percentiles.p95!), cell(p.percentiles.p99!), p.complete ? "yes" : "not yet"]),
          );
        });
      }

      // Popular asset types.
      await expectPanelMatches(page, "assets", async ([popular]) => {
        const p = popular as { rows: Array<{ asset_type: string; generation_count: number; unique_creators: number }> };
        expect(p.rows.length).toBeGreaterThan(0);
        expect(await rows(page, "assets.rows")).toEqual(p.rows.map((r) => [r.asset_type, fmt(r.generation_count), fmt(r.unique_creators)]));
      });

      // Breakdowns: each table shows its /breakdown answer (the seed's page views have page URLs).
      await expectPanelMatches(page, "breakdowns", async (answers) => {
        const tables: Array<[string, string]> = [
          ["page_path", "(no page URL)"],
          ["referrer_host", "Direct / none"],
          ["utm_campaign", "(no campaign)"],
          ["country", "(unknown)"],
          ["device_class", "(unknown)"],
        ];
        const breakdowns = answers as Array<{ dimension: string; rows: Array<{ value: string | null; events: number; visitors: number }> }>;
        expect(breakdowns.map((b) => b.dimension)).toEqual(tables.map(([d]) => d));
        expect(breakdowns[0]!.rows.some((r) => r.value !== null && r.value.startsWith("/"))).toBe(true);
        for (const [i, [dimension, none]] of tables.entries()) {
          expect(await rows(page, `breakdowns.${dimension}`)).toEqual(breakdowns[i]!.rows.map((r) => [r.value ?? none, fmt(r.events), fmt(r.visitors)]));
        }
      });

      // Migration health: buffer, latency, consistency, storage, jobs.
      await page.reload();
      await page.waitForSelector("body[data-ready=true]");
      await expectPanelMatches(page, "health", async (answers) => {
        const [buffer, latency, consistency, storage, jobs] = answers as [
          { pending: number; dead_letter: number; oldest_age_seconds: number },
          { metrics: Array<{ metric: string; count: number; p50: number | null; p99: number | null }> },
          { hours: Array<{ state: string }>; drifting: Array<{ hour: string; scope: string; redis_count: number | null; raw_count: number; rollup_count: number; drift: number; action: string | null }> },
          { days: Array<{ day: string; bytes: number; compressed: boolean }>; database_bytes: number; compression: { available: boolean; reason?: string } },
          { jobs: Array<{ job: string; runs: number; ok: number; errors: number; skipped: number; last_run: { started_at: string; outcome: string } | null; last_error: { at: string; message: string | null } | null }> },
        ];
        expect(await figure(page, "health.pending")).toBe(fmt(buffer.pending));
        expect(await figure(page, "health.dead")).toBe(fmt(buffer.dead_letter));
        expect(await figure(page, "health.age")).toBe(fmt(buffer.oldest_age_seconds));
        expect(latency.metrics.map((m) => m.metric)).toEqual(expect.arrayContaining(["redis_ingest", "postgres_insert"]));
        expect(await rows(page, "health.latency")).toEqual(
          latency.metrics.map((m) => [METRIC_NAMES[m.metric] ?? `Read ${m.metric.slice("read:/api/v1/analytics".length)}`, fmt(m.count), millis(m.p50), millis(m.p99)]),
        );
        expect(consistency.hours.length).toBeGreaterThan(0);
        expect(consistency.drifting.length).toBeGreaterThan(0);
        expect(await rows(page, "health.drifting")).toEqual(
          consistency.drifting.map((d) => [when(d.hour), d.scope, d.redis_count === null ? "–" : fmt(d.redis_count), fmt(d.raw_count), fmt(d.rollup_count), fmt(d.drift), d.action ?? "–"]),
        );
        expect(await rows(page, "health.storage")).toEqual(storage.days.map((d) => [d.day, bytes(d.bytes), d.compressed ? "yes" : "no"]));
        expect(await figure(page, "health.database")).toBe(bytes(storage.database_bytes));
        expect(storage.compression.available).toBe(false);
        expect(await figure(page, "health.compression")).toBe(storage.compression.reason);
        expect(await figure(page, "health.compression")).toContain("Not available on this tier");
        expect(jobs.jobs.map((j) => j.job)).toEqual(["daily", "drain", "hourly"]);
        expect(await rows(page, "health.jobs")).toEqual(
          jobs.jobs.map((x) => [x.job, fmt(x.runs), fmt(x.ok), fmt(x.errors), fmt(x.skipped), x.last_run ? `${when(x.last_run.started_at)} ${x.last_run.outcome}` : "–", x.last_error ? `${when(x.last_error.at)}: ${x.last_error.message ?? ""}` : "none"]),
        );
      });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("an event posted now shows in the live panel within 15 s of its 202", async () => {
    const { context, page, errors } = await openDashboard();
    try {
      await signIn(page);
      const name = `e2e_live_${Date.now().toString(36)}`;
      await postEvents(stack!.baseUrl, WRITE_KEY, [
        { event_id: crypto.randomUUID(), event_name: name, category: "e2e", timestamp: Date.now(), user_id: "u-live", session_id: "s-live", properties: {} },
      ]);
      const accepted = Date.now();
      // Enough events that the new name ranks: 30 of them.
      await postEvents(stack!.baseUrl, WRITE_KEY, Array.from({ length: 29 }, () => ({ event_id: crypto.randomUUID(), event_name: name, category: "e2e", timestamp: Date.now(), user_id: "u-live", session_id: "s-live", properties: {} })));
      await page.locator('[data-table="live.names"]', { hasText: name }).waitFor({ timeout: 15_000 - (Date.now() - accepted) });
      expect(Date.now() - accepted).toBeLessThan(15_000);

      // The install panel's working example: the real tracker, loaded into the page, sends one.
      await page.getByLabel("Write key").fill(WRITE_KEY);
      await page.getByRole("button", { name: "Send a test event" }).click();
      await expect.poll(() => page.locator("#try-outcome").innerText(), { timeout: 10_000 }).toContain("accepted a dashboard_try event");
      const sent = Date.now();
      await page.locator('[data-table="live.names"]', { hasText: "dashboard_try" }).waitFor({ timeout: 15_000 });
      expect(Date.now() - sent).toBeLessThan(15_000);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("empty answers say what to do instead of drawing a blank chart", async () => {
    const { context, page, errors } = await openDashboard();
    try {
      await signIn(page);
      await page.locator("select[name=overview-range]").selectOption("custom");
      await page.locator("input[name=overview-from]").fill("2026-01-01");
      await page.locator("input[name=overview-to]").fill("2026-01-08");
      await page.locator("select[name=overview-interval]").selectOption("day");
      await page.locator("#overview").getByRole("button", { name: "Show" }).click();
      await expect.poll(() => page.locator("#overview").getAttribute("data-state")).toBe("empty");
      expect(await page.locator("#overview .panel-status").innerText()).toContain("No events in this range");
      expect(await figure(page, "overview.events")).toBe("0");

      await page.locator("input[name=event-name]").fill("never_sent_event");
      await page.locator("#drilldown").getByRole("button", { name: "Show" }).click();
      await expect.poll(() => page.locator("#drilldown .panel-status").innerText()).toContain("No never_sent_event events in this range");

      // A refused question is shown in words too (a percentile list the API does not take).
      await page.locator("input[name=percentiles]").fill("50,abc");
      await page.locator("#drilldown").getByRole("button", { name: "Show" }).click();
      await expect.poll(() => page.locator("#drilldown .panel-status").innerText()).toContain("The question was refused (400): percentiles:");
      expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("every control is reachable with the keyboard alone", async () => {
    const { context, page, errors } = await openDashboard();
    try {
      await signIn(page);
      const total = await page.evaluate(() => {
        const controls = [...document.querySelectorAll<HTMLElement>("a[href], button, input, select, [tabindex='0']")].filter(
          (el) => !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0,
        );
        controls.forEach((el, i) => (el.dataset.kbd = String(i)));
        return controls.length;
      });
      expect(total).toBeGreaterThan(20);
      const reached = new Set<string>();
      await page.locator("body").focus();
      for (let i = 0; i < total * 2 + 10 && reached.size < total; i++) {
        await page.keyboard.press("Tab");
        const id = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.kbd ?? null);
        if (id !== null) reached.add(id);
      }
      const missed = await page.evaluate((ids) => [...document.querySelectorAll<HTMLElement>("[data-kbd]")].filter((el) => !ids.includes(el.dataset.kbd!)).map((el) => el.outerHTML.slice(0, 120)), [...reached]);
      expect(missed).toEqual([]);
      // And they work from the keyboard: Enter on the drill-down's Show asks again.
      const before = await page.locator("#drilldown").getAttribute("data-source");
      await page.locator("#drilldown").getByRole("button", { name: "Show" }).focus();
      await page.keyboard.press("Enter");
      await expect.poll(() => page.locator("#drilldown").getAttribute("data-source")).not.toBe(before);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("axe-core finds no serious or critical violation, signed out and in, on a wide and a narrow screen", async () => {
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      const { context, page, errors } = await openDashboard(viewport);
      try {
        const audit = async () => {
          // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays on.
          await page.evaluate(AXE);
          return page.evaluate(async () => {
            const result = await (window as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: unknown[] }> }> } }).axe.run();
            return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes): ${v.help}`);
          });
        };
        expect(await audit()).toEqual([]);
        await signIn(page);
        expect(await audit()).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });

  test("Redis down, then PostgreSQL down: the panels say so in words", async () => {
    const { context, page, errors } = await openDashboard();
    try {
      await signIn(page);
      await stack!.redis!.stop();
      try {
        // The live panel's next refresh (every 5 s) meets the outage.
        await expect
          .poll(() => page.locator("#live .panel-status").innerText(), { timeout: 20_000 })
          .toContain("Redis is unreachable");
        await page.reload();
        await page.waitForSelector("body[data-ready=true]");
        expect(await figure(page, "health.stores")).toContain("Redis is unreachable");
        expect(await page.locator("#health-buffer .panel-status").innerText()).toContain("Redis is unreachable");
        // PostgreSQL-backed panels keep working.
        expect(await page.locator("#overview .panel-status").innerText()).not.toContain("unreachable");
        expect(await figure(page, "overview.events")).not.toBe("–");
      } finally {
        await stack!.redis!.start();
      }
      await stack!.neon.stop();
      try {
        await page.reload();
        await page.waitForSelector("body[data-ready=true]");
        expect(await page.locator("#overview .panel-status").innerText()).toContain("PostgreSQL is unreachable");
        expect(await page.locator("#assets .panel-status").innerText()).toContain("PostgreSQL is unreachable");
        expect(await figure(page, "health.stores")).toContain("PostgreSQL is unreachable");
        expect(await page.locator("#health-storage .panel-status").innerText()).toContain("PostgreSQL is unreachable");
        // Redis-backed live figures keep working (Redis came back empty, so zero events).
        expect(await page.locator("#live .panel-status").innerText()).not.toContain("unreachable");
      } finally {
        await stack!.neon.start();
      }
      // The only console errors are the browser's notes about the 503 answers.
      expect(errors.filter((e) => !/status of 503/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe("dashboard without a READ_TOKEN", () => {
  test("the page says how to set one, and the read API says it is disabled", async () => {
    const disabled = await startDevStack({ databaseUrl: db!.url, quiet: true, vars: { WRITE_KEYS: WRITE_KEY, READ_TOKEN: "" } });
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.goto(`${disabled.baseUrl}/`);
      const help = page.locator("#setup");
      await help.waitFor();
      expect(await help.innerText()).toContain("READ_TOKEN");
      expect(await help.innerText()).toContain("wrangler secret put READ_TOKEN");
      const response = await fetch(`${disabled.baseUrl}/api/v1/analytics/realtime`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("read_api_disabled");
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await disabled.stop();
    }
  }, 120_000);
});
