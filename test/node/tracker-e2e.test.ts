/// <reference lib="dom" />
/**
 * The tracker end to end: Debian's headless Chromium (playwright-core, no browser download) runs
 * pages that load `/tracker.js` from the real `wrangler dev` stack (scripts/lib/dev-stack.ts, the
 * one `npm run dev` starts), with a private redis-server and a fresh database on the machine's
 * PostgreSQL 15. Pages are served from another origin (https://shop.test, fulfilled by
 * `context.route`), as on a real site: every ingest request is cross-origin, with CORS.
 *
 * Events reach PostgreSQL through the direct insert after the response (INGEST_MODE=direct); no
 * scenario leaves events in the Redis buffer (both stores are down together, so nothing is
 * buffered), so the drain cron is not fired.
 */
import pg from "pg";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startDevStack, type DevStack } from "../../scripts/lib/dev-stack";
import { launchChromium, recordIngest } from "../support/browser";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

const SHOP = "https://shop.test";
const ELSEWHERE = "https://elsewhere.test";
const WRITE_KEY = "e2e-write-key";
/** Bounded wait for events to reach PostgreSQL. */
const STORED_WITHIN_MS = 20_000;

let db: TestDatabase | undefined;
let stack: DevStack | undefined;
let browser: Browser | undefined;
let sql: pg.Client | undefined;
/** `/tracker.js` as the Worker serves it, for pages loaded while the browser is offline (see `openContext`). */
let trackerScript = "";

beforeAll(async () => {
  db = await createTestDatabase("eaw_e2e");
  stack = await startDevStack({
    databaseUrl: db.url,
    quiet: true,
    vars: { WRITE_KEYS: WRITE_KEY, ALLOWED_ORIGINS: SHOP, INGEST_MODE: "direct" },
  });
  sql = new pg.Client(db.url);
  await sql.connect();
  browser = await launchChromium();
  const response = await fetch(`${stack.baseUrl}/tracker.js`);
  expect(response.status).toBe(200);
  trackerScript = await response.text();
}, 120_000);

afterAll(async () => {
  // Each step on its own: one failing must not leave the others running.
  const steps: Array<(() => Promise<unknown>) | undefined> = [
    browser && (() => browser!.close()),
    sql && (() => sql!.end()),
    stack && (() => stack!.stop()),
    db && (() => db!.drop()),
  ];
  const errors: unknown[] = [];
  for (const step of steps) await step?.().catch((error: unknown) => errors.push(error));
  if (errors.length) throw new AggregateError(errors, "e2e cleanup failed");
}, 60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function shopPage(path: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>shop ${path}</title>
<script async src="${stack!.baseUrl}/tracker.js" data-write-key="${WRITE_KEY}"></script>
</head><body><h1>${path}</h1></body></html>`;
}

/**
 * A browser context with the shop's pages (and a tracker-less page on another site). Playwright
 * turns the HTTP cache off once routing is on, so while offline `/tracker.js` is answered from the
 * copy fetched in beforeAll, as a real browser's cache would (the Worker sends max-age=300); online
 * it always comes from the Worker.
 */
async function openContext(): Promise<{ context: BrowserContext; setOffline(offline: boolean): Promise<void> }> {
  const context = await browser!.newContext();
  let offline = false;
  await context.route(`${SHOP}/**`, (route) =>
    route.fulfill({ contentType: "text/html; charset=utf-8", body: shopPage(new URL(route.request().url()).pathname) }),
  );
  await context.route(`${ELSEWHERE}/**`, (route) =>
    route.fulfill({ contentType: "text/html; charset=utf-8", body: "<!doctype html><title>elsewhere</title><p>no tracker here</p>" }),
  );
  await context.route(`${stack!.baseUrl}/tracker.js`, (route) =>
    offline
      ? route.fulfill({ contentType: "text/javascript; charset=utf-8", body: trackerScript })
      : route.continue(),
  );
  return {
    context,
    async setOffline(value: boolean) {
      offline = value;
      await context.setOffline(value);
    },
  };
}

async function trackerReady(page: Page): Promise<void> {
  await page.waitForFunction(() => typeof (window as { analytics?: { stats?: unknown } }).analytics?.stats === "function", null, {
    timeout: 10_000,
  });
}

interface TrackerWindow {
  analytics: {
    track(name: string, category: string, properties?: Record<string, unknown>): void;
    flush(): Promise<void>;
    stats(): { sent: number; rejected: number; dropped: number; overflow: number };
  };
}

/** Events of `run` still queued in the page's localStorage. */
function queued(page: Page, run: string): Promise<number> {
  return page.evaluate((r) => {
    const state = JSON.parse(localStorage.getItem("_ea") || '{"q":[]}') as { q: Array<{ properties?: { run?: string } }> };
    return state.q.filter((e) => e.properties?.run === r).length;
  }, run);
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = STORED_WITHIN_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

interface Stored {
  rows: number;
  ids: number;
  /** Distinct `properties.n` (each tracked event has its own n). */
  ns: number;
}

async function stored(run: string): Promise<Stored> {
  const { rows } = await sql!.query<Stored>(
    `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS ids, count(DISTINCT properties->>'n')::int AS ns
       FROM analytics_events_ts WHERE properties->>'run' = $1`,
    [run],
  );
  return rows[0]!;
}

/** The `properties.n` of the stored events of `run`. */
async function storedNs(run: string): Promise<Set<number>> {
  const { rows } = await sql!.query<{ n: number }>(
    `SELECT DISTINCT (properties->>'n')::int AS n FROM analytics_events_ts WHERE properties->>'run' = $1`,
    [run],
  );
  return new Set(rows.map((r) => r.n));
}

/** Polls PostgreSQL until `expected` distinct events of `run` are stored (or the bounded wait ends). */
async function waitForStored(run: string, expected: number): Promise<Stored> {
  const deadline = Date.now() + STORED_WITHIN_MS;
  for (;;) {
    const counts = await stored(run);
    if (counts.ids >= expected || Date.now() > deadline) return counts;
    await sleep(200);
  }
}

/** No event_id twice in the whole table, whatever the run. */
async function duplicatesInTable(): Promise<number> {
  const { rows } = await sql!.query<{ dup: number }>(
    `SELECT (count(*) - count(DISTINCT event_id))::int AS dup FROM analytics_events_ts`,
  );
  return rows[0]!.dup;
}

function trackMany(page: Page, run: string, from: number, count: number): Promise<void> {
  return page.evaluate(
    ([r, start, n]) => {
      const { analytics } = window as unknown as TrackerWindow;
      for (let i = start; i < start + n; i++) analytics.track("e2e_event", "e2e", { run: r, n: i });
    },
    [run, from, count] as const,
  );
}

const newRun = () => `run-${crypto.randomUUID()}`;

describe("tracker end to end (headless Chromium, wrangler dev, Redis, PostgreSQL)", () => {
  test("120 events, navigating away mid-batch: every one stored exactly once", async () => {
    const run = newRun();
    const { context } = await openContext();
    try {
      const ingest = recordIngest(context, `${stack!.baseUrl}/api/v1/analytics`);
      const page = await context.newPage();
      await page.goto(`${SHOP}/checkout`);
      await trackerReady(page);

      // 120 events in one task: the first full batch goes out at once; the page leaves for another
      // site (no tracker there) while that request is in flight and 70 events wait behind it.
      await page
        .evaluate((r) => {
          const { analytics } = window as unknown as TrackerWindow;
          for (let i = 0; i < 120; i++) analytics.track("e2e_event", "e2e", { run: r, n: i });
          location.href = "https://elsewhere.test/";
        }, run)
        .catch((error: unknown) => {
          if (!/context was destroyed|navigat/i.test(String(error))) throw error;
        });
      await page.waitForURL(`${ELSEWHERE}/`);
      // A batch in flight when the page left is cut off (the browser aborts the request; whether
      // it reached the Worker first is a matter of timing). On page hide the tracker hands every
      // queued event to keepalive requests, those of the aborted batch included, so all 120 arrive
      // without a return visit. Playwright may report the aborted request late, hence recomputed.
      const cutOff = () =>
        new Set(
          ingest
            .posts()
            .filter((a) => a.failure !== undefined)
            .flatMap((a) => a.events.filter((e) => e.properties?.run === run).map((e) => Number(e.properties?.n))),
        );
      await waitForStored(run, 120);
      const afterLeaving = await stored(run);
      expect(afterLeaving).toEqual({ rows: 120, ids: 120, ns: 120 });
      const cutOffCount = cutOff().size;

      // Back on the shop, the tracker resends whatever it had not seen acknowledged.
      await page.goto(`${SHOP}/thanks`);
      await trackerReady(page);
      const final = await waitForStored(run, 120);
      await waitUntil("the shop's queue to empty", async () => (await queued(page, run)) === 0);
      const settled = await stored(run);
      const stats = await page.evaluate(() => (window as unknown as TrackerWindow).analytics.stats());

      console.log(
        `[e2e navigate-away] ${cutOffCount} events in the batch cut off by leaving; ` +
          `stored before returning: ${afterLeaving.ids}/120; after: ${final.ids}/120 ` +
          `(${settled.rows} rows); ${ingest.summary()}; tracker stats ${JSON.stringify(stats)}`,
      );
      expect(settled).toEqual({ rows: 120, ids: 120, ns: 120 });
      expect(await duplicatesInTable()).toBe(0);
      expect(stats.dropped).toBe(0);
      expect(ingest.posts().every((a) => a.status === 0 || a.status === 202)).toBe(true);
    } finally {
      await context.close();
    }
  });

  test("the server answers 503 for a while: the tracker retries and each event is stored once", async () => {
    const run = newRun();
    const { context } = await openContext();
    try {
      const ingest = recordIngest(context, `${stack!.baseUrl}/api/v1/analytics`);
      const page = await context.newPage();
      await page.goto(`${SHOP}/product`);
      await trackerReady(page);

      // Both stores down: the Worker answers 503 storage_unavailable with Retry-After.
      await Promise.all([stack!.redis!.stop(), stack!.neon.stop()]);
      try {
        await trackMany(page, run, 0, 60);
        await page.evaluate(() => void (window as unknown as TrackerWindow).analytics.flush());
        // The first answer and one retry answered 503 too (Retry-After: the tracker waits ~10 s).
        await waitUntil("two 503 answers", async () => ingest.withStatus(503).length >= 2, 40_000);
        expect(await stored(run)).toEqual({ rows: 0, ids: 0, ns: 0 });
      } finally {
        await Promise.all([stack!.redis!.start(), stack!.neon.start()]);
      }

      const final = await waitForStored(run, 60);
      await waitUntil("the queue to empty", async () => (await queued(page, run)) === 0);
      const settled = await stored(run);
      const stats = await page.evaluate(() => (window as unknown as TrackerWindow).analytics.stats());
      const unavailable = ingest.withStatus(503);
      const sends = ingest.sendsPerEvent();

      console.log(
        `[e2e 503] ${unavailable.length} answers 503 (${[...new Set(unavailable.map((a) => a.errorCode))].join(",")}, ` +
          `Retry-After ${[...new Set(unavailable.map((a) => a.retryAfter))].join(",")}); stored ${final.ids}/60 ` +
          `(${settled.rows} rows); most sends of one event ${Math.max(...sends.values())}; ${ingest.summary()}; ` +
          `tracker stats ${JSON.stringify(stats)}`,
      );
      expect(unavailable.length).toBeGreaterThanOrEqual(2);
      expect(unavailable.every((a) => a.retryAfter !== undefined)).toBe(true);
      expect(settled).toEqual({ rows: 60, ids: 60, ns: 60 });
      expect(await duplicatesInTable()).toBe(0);
      expect(stats.dropped).toBe(0);
      expect(ingest.withStatus(202).length).toBeGreaterThanOrEqual(1);
    } finally {
      await context.close();
    }
  });

  test("offline, then a reload: the queued events arrive once the browser is back online", async () => {
    const run = newRun();
    const { context, setOffline } = await openContext();
    try {
      const ingest = recordIngest(context, `${stack!.baseUrl}/api/v1/analytics`);
      const page = await context.newPage();
      await page.goto(`${SHOP}/cart`);
      await trackerReady(page);

      await setOffline(true);
      await trackMany(page, run, 0, 30);
      await page.evaluate(() => (window as unknown as TrackerWindow).analytics.flush());
      expect(ingest.failed().length).toBeGreaterThanOrEqual(1);
      expect(await queued(page, run)).toBe(30);

      // Reload while still offline: the queue survives in localStorage, the new page adds to it
      // and keeps retrying (and failing) until the network is back.
      await page.reload();
      await trackerReady(page);
      await trackMany(page, run, 30, 10);
      const failedBefore = ingest.failed().length;
      await waitUntil("a retry from the reloaded page", async () => ingest.failed().length > failedBefore, 10_000);
      expect(await queued(page, run)).toBe(40);
      expect(await stored(run)).toEqual({ rows: 0, ids: 0, ns: 0 });

      await setOffline(false);
      const final = await waitForStored(run, 40);
      await waitUntil("the queue to empty", async () => (await queued(page, run)) === 0);
      const settled = await stored(run);
      const stats = await page.evaluate(() => (window as unknown as TrackerWindow).analytics.stats());

      console.log(
        `[e2e offline] ${ingest.failed().length} sends failed offline; stored ${final.ids}/40 (${settled.rows} rows); ` +
          `${ingest.summary()}; tracker stats ${JSON.stringify(stats)}`,
      );
      expect(settled).toEqual({ rows: 40, ids: 40, ns: 40 });
      expect(await duplicatesInTable()).toBe(0);
      expect(stats.dropped).toBe(0);
    } finally {
      await context.close();
    }
  });
});
