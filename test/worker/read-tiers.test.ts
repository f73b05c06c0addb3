import { beforeAll, describe, expect, inject, it } from "vitest";
import { createApp } from "../../src/app";
import type { EventRow } from "../../src/domain/event";
import { readSummary } from "../../src/read/summary";
import { ReadDatabase } from "../../src/read/sql";
import { createServices } from "../../src/services";
import { claimDirtyBuckets, insertEvents, recordChecks, refreshRollups, type CheckRow } from "../../src/storage/sql";
import { TIERS, type Tier } from "../../src/storage/tier";
import { expectedPopularAssetTypes } from "../support/event-fixtures";
import { eventRow, seededUuid } from "../support/event-row";
import { bridgeStats, resetBridgeStats, testSql, tierEnv } from "./support";
import { prng } from "../support/prng";

/*
 * The read API against real PostgreSQL in every storage tier. Each tier gets the same generated
 * dataset (several days up to the open hour, skewed event names, hundreds of users, empty hours,
 * non-numeric property values), the "cron" is run (dirty buckets claimed, rollups refreshed), and
 * every answer is compared with what this file computes from the generated events in TypeScript.
 * Then late events make a dirty bucket, and the cron runs again.
 *
 * Expectations follow the documented rules: closed buckets come from rollups (a dirty one keeps
 * its pre-late value until the cron re-rolls it); buckets from the start of the bucket that was
 * open an hour ago come from raw rows; `complete` = closed and not dirty. They are computed from
 * the test's clock at request time; a request that straddles an hour boundary is repeated once.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const AUTH = { authorization: "Bearer test-read-token-0123456789" };
const ORIGIN_SQL = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;
const iso = (ms: number) => new Date(ms).toISOString();
const floorTo = (ms: number, width: number) => Math.floor(ms / width) * width;
const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// --------------------------------------------------------------------------------------------
// The generated dataset
// --------------------------------------------------------------------------------------------


/** [event_name, category, weight]: skewed; `search` lives in two categories; `signup` is rare. */
const NAMES: Array<[string, string, number]> = [
  ["page_view", "navigation", 30],
  ["click", "interaction", 20],
  ["scroll", "engagement", 8],
  ["search", "navigation", 6],
  ["search", "engagement", 4],
  ["asset_generated", "creation", 9],
  ["asset_viewed", "creation", 5],
  ["login", "account", 3],
  ["signup", "account", 0.6],
  ["add_to_cart", "commerce", 2],
  ["purchase", "commerce", 1],
  ["share", "social", 1],
];
const WEIGHT = NAMES.reduce((sum, [, , w]) => sum + w, 0);
const ASSET_TYPES: Array<[string, number]> = [["image", 10], ["video", 4], ["audio", 2], ["model", 1], ["texture", 1]];

interface Clock {
  /** Start of the open hour when the data was generated. */
  h0: number;
  /** Start of the first generated day. */
  start: number;
  /** The closed hour that receives late events. */
  lateHour: number;
}

function pick<T>(rand: () => number, items: Array<[T, number]>): T {
  let r = rand() * items.reduce((s, [, w]) => s + w, 0);
  for (const [item, w] of items) if ((r -= w) < 0) return item;
  return items[items.length - 1]![0];
}

function makeEvent(rand: () => number, time: number, forced?: [string, string]): EventRow {
  let r = rand() * WEIGHT;
  let chosen = NAMES[0]!;
  for (const n of NAMES) if ((r -= n[2]) < 0) { chosen = n; break; }
  const [event_name, category] = forced ?? [chosen[0], chosen[1]];
  // Many users, skewed: a few heavy users, a long tail; 10% anonymous.
  const user = rand() < 0.1 ? null : `u${Math.floor(400 * rand() ** 2)}`;
  const session = rand() < 0.05 ? null : `s-${user ?? "anon"}-${Math.floor(time / (4 * HOUR))}`;
  const properties: Record<string, unknown> = {};
  if (event_name === "page_view") {
    // Mostly numbers; also values the percentiles must ignore: strings, booleans, missing keys.
    const k = rand();
    if (k < 0.8) properties.duration_ms = Math.round(rand() ** 2 * 50_000) / 10;
    else if (k < 0.88) properties.duration_ms = "slow";
    else if (k < 0.92) properties.duration_ms = "123";
    else if (k < 0.95) properties.duration_ms = true;
  }
  if (event_name === "asset_generated" && rand() < 0.9) properties.asset_type = pick(rand, ASSET_TYPES);
  return eventRow({ event_id: seededUuid(rand), time: iso(time), event_name, category, user_id: user, session_id: session, properties });
}

/** Three full days before today, today up to and including the open hour; three empty hours. */
function generate(now: number): { clock: Clock; events: EventRow[]; late: EventRow[]; graceLate: EventRow[] } {
  const rand = prng(20261126);
  const h0 = floorTo(now, HOUR);
  const start = floorTo(now, DAY) - 3 * DAY;
  const lateHour = h0 - 30 * HOUR;
  const empty = new Set([h0 - 20 * HOUR, h0 - 21 * HOUR, h0 - 44 * HOUR]);
  const events: EventRow[] = [];
  for (let hour = start; hour <= h0; hour += HOUR) {
    if (empty.has(hour)) continue;
    const n = 15 + Math.floor(rand() * 30);
    for (let i = 0; i < n; i++) events.push(makeEvent(rand, hour + Math.floor(rand() * HOUR)));
  }
  // Late arrivals after the cron ran: a closed hour a day back, and the hour that just closed.
  const late = Array.from({ length: 9 }, (_, i) =>
    makeEvent(rand, lateHour + Math.floor(rand() * HOUR), i % 3 === 0 ? ["purchase", "commerce"] : ["page_view", "navigation"]),
  );
  const graceLate = Array.from({ length: 3 }, () => makeEvent(rand, h0 - HOUR + Math.floor(rand() * HOUR), ["click", "interaction"]));
  return { clock: { h0, start, lateHour }, events, late, graceLate };
}

// --------------------------------------------------------------------------------------------
// Expected answers, computed in TypeScript
// --------------------------------------------------------------------------------------------

interface Row {
  bucket: string;
  event_name: string;
  category: string;
  event_count: number;
  unique_users: number;
  unique_sessions: number;
  complete: boolean;
}

/** What the rollup/raw mix should show for a bucket: raw truth from the raw horizon on, else the rollup. */
interface View {
  now: number;
  width: number;
  /** Events the rollup saw when it was last refreshed. */
  rolledUp: readonly EventRow[];
  /** Every event in the database. */
  all: readonly EventRow[];
  /** Dirty buckets of this width (ms). */
  dirty: ReadonlySet<number>;
}

const rawHorizon = (v: View) => floorTo(v.now - HOUR, v.width);
const isComplete = (v: View, bucket: number) => bucket < floorTo(v.now, v.width) && !v.dirty.has(bucket);

/** Events as the read API sees them in [from, to). */
function visible(v: View, from: number, to: number): EventRow[] {
  const horizon = rawHorizon(v);
  const out: EventRow[] = [];
  for (const e of v.all) {
    const t = Date.parse(e.time);
    if (t >= from && t < to && floorTo(t, v.width) >= horizon) out.push(e);
  }
  for (const e of v.rolledUp) {
    const t = Date.parse(e.time);
    if (t >= from && t < to && floorTo(t, v.width) < horizon) out.push(e);
  }
  return out;
}

function expectedSummary(v: View, from: number, to: number, filter: (e: EventRow) => boolean = () => true): Row[] {
  const groups = new Map<string, { bucket: number; name: string; category: string; n: number; users: Set<string>; sessions: Set<string> }>();
  for (const e of visible(v, from, to)) {
    if (!filter(e)) continue;
    const bucket = floorTo(Date.parse(e.time), v.width);
    const key = `${bucket}|${e.event_name}|${e.category}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { bucket, name: e.event_name, category: e.category, n: 0, users: new Set(), sessions: new Set() }));
    g.n++;
    if (e.user_id !== null) g.users.add(e.user_id);
    if (e.session_id !== null) g.sessions.add(e.session_id);
  }
  return [...groups.values()]
    .sort((a, b) => a.bucket - b.bucket || byteOrder(a.name, b.name) || byteOrder(a.category, b.category))
    .map((g) => ({
      bucket: iso(g.bucket),
      event_name: g.name,
      category: g.category,
      event_count: g.n,
      unique_users: g.users.size,
      unique_sessions: g.sessions.size,
      complete: isComplete(v, g.bucket),
    }));
}

function bucketCounts(events: readonly EventRow[], width: number, name: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const e of events) {
    if (e.event_name !== name) continue;
    const b = floorTo(Date.parse(e.time), width);
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return counts;
}

/** percentile_cont: linear interpolation between the closest ranks of the sorted values. */
function percentileCont(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const pos = fraction * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

// --------------------------------------------------------------------------------------------
// Per tier
// --------------------------------------------------------------------------------------------

interface Answer<T> {
  status: number;
  cache: string | null;
  vary: string | null;
  body: T;
}

for (const tier of TIERS) {
  describe(`read API on the ${tier} tier`, () => {
    const databaseUrl = inject("stack").databaseUrls[tier];
    const envOfTier = tierEnv(tier, { REDIS_KEY_PREFIX: `read-tiers-${tier}:` });
    const app = createApp(createServices);
    const sql = testSql(databaseUrl);
    const run = (statement: { text: string; values: readonly unknown[] }) => sql.query(statement.text, [...statement.values]);

    let clock: Clock;
    let initial: EventRow[];
    let late: EventRow[];
    let graceLate: EventRow[];
    /** State of the rollups: which events they were last refreshed with, and what is dirty. */
    let rolledUp: EventRow[];
    let all: EventRow[];
    let dirtyHours = new Set<number>();
    let dirtyDays = new Set<number>();

    const view = (width: number, now: number): View => ({
      now,
      width,
      rolledUp,
      all,
      dirty: width === HOUR ? dirtyHours : dirtyDays,
    });

    /** The "hourly cron": claim the dirty buckets, then bring the rollups up to date (autocommit each). */
    async function cron(from: number, to: number) {
      const claimed = (await run(claimDirtyBuckets(100_000))) as Array<{ granularity: string; bucket: Date | string }>;
      await run(refreshRollups(new Date(from), new Date(to)));
      for (const c of claimed) {
        const b = new Date(c.bucket).getTime();
        const width = c.granularity === "hour" ? HOUR : DAY;
        await run(refreshRollups(new Date(b), new Date(b + width)));
      }
      rolledUp = [...all];
      dirtyHours = new Set();
      dirtyDays = new Set();
    }

    /**
     * One GET, counted at the bridges: exactly one PostgreSQL statement and no Redis request.
     * `check` receives the answer and the clock it was asked at; straddling an hour boundary repeats it.
     */
    async function ask<T>(path: string, check: (answer: Answer<T>, now: number) => void): Promise<void> {
      for (let attempt = 0; ; attempt++) {
        const before = Date.now();
        await resetBridgeStats();
        const response = await app.request(`/api/v1/analytics/${path}`, { headers: AUTH }, envOfTier);
        const stats = await bridgeStats();
        if (floorTo(before, HOUR) !== floorTo(Date.now(), HOUR) && attempt === 0) continue;
        const body = (await response.json()) as T;
        expect(response.status, JSON.stringify(body)).toBe(200);
        expect(stats.postgres).toMatchObject({ requests: 1, statements: 1 });
        expect(stats.redis.requests).toBe(0);
        check({ status: response.status, cache: response.headers.get("cache-control"), vary: response.headers.get("vary"), body }, before);
        return;
      }
    }

    beforeAll(async () => {
      // Data persists across files and the cron tests share these databases: start clean.
      await sql.query(`TRUNCATE analytics_events_ts, analytics_event_ids, analytics_dirty_buckets, analytics_checks`);
      await sql.query(`TRUNCATE analytics_hourly, analytics_daily, analytics_asset_popularity_ts`);
      ({ clock, events: initial, late, graceLate } = generate(Date.now()));
      for (let i = 0; i < initial.length; i += 500) await run(insertEvents(initial.slice(i, i + 500)));
      all = [...initial];
      rolledUp = [];
      // Historical inserts mark every closed hour and day dirty; the cron clears them.
      await cron(clock.start, clock.h0);
      const [{ n }] = (await sql.query(`SELECT count(*)::int AS n FROM analytics_dirty_buckets`)) as [{ n: number }];
      expect(n).toBe(0);
    }, 120_000);

    it("loads a dataset of several days, hundreds of users, and empty hours", () => {
      expect(initial.length).toBeGreaterThan(2_000);
      expect(new Set(initial.map((e) => e.user_id)).size).toBeGreaterThan(200);
      expect(initial.some((e) => Date.parse(e.time) >= clock.h0)).toBe(true);
    });

    it("summary, hourly: every (hour, event, category) row matches, the open hour from raw rows and incomplete", async () => {
      const to = clock.h0 + HOUR;
      await ask<{ interval: string; from: string; to: string; complete: boolean; rows: Row[] }>(
        `summary?interval=hour&from=${iso(clock.start)}&to=${iso(to)}`,
        ({ body, cache }, now) => {
          const v = view(HOUR, now);
          expect(body).toMatchObject({ interval: "hour", from: iso(clock.start), to: iso(to) });
          expect(body.rows).toEqual(expectedSummary(v, clock.start, to));
          const open = body.rows.filter((r) => r.bucket === iso(floorTo(now, HOUR)));
          expect(open.length).toBeGreaterThan(0);
          expect(open.every((r) => !r.complete)).toBe(true);
          expect(body.complete).toBe(false);
          expect(cache).toBe("no-store");
        },
      );
    });

    it("summary, hourly: a fully closed clean range is cacheable; unaligned bounds widen to whole hours", async () => {
      const from = clock.start + 5 * HOUR;
      const to = clock.h0 - 3 * HOUR;
      await ask<{ from: string; to: string; complete: boolean; rows: Row[] }>(
        `summary?from=${iso(from + 17 * 60_000)}&to=${iso(to - 40 * 60_000)}`,
        ({ body, cache, vary }, now) => {
          expect(body.from).toBe(iso(from));
          expect(body.to).toBe(iso(to));
          expect(body.rows).toEqual(expectedSummary(view(HOUR, now), from, to));
          expect(body.rows.every((r) => r.complete)).toBe(true);
          expect(body.complete).toBe(true);
          expect(cache).toBe("private, max-age=300");
          expect(vary).toBe("Authorization");
        },
      );
    });

    it("summary, daily: uniques are counted per day (not summed from hours); today from raw rows", async () => {
      const to = floorTo(Date.now(), DAY) + DAY;
      await ask<{ rows: Row[]; complete: boolean }>(`summary?interval=day&from=${iso(clock.start)}&to=${iso(to)}`, ({ body, cache }, now) => {
        const v = view(DAY, now);
        expect(body.rows).toEqual(expectedSummary(v, clock.start, to));
        // The data makes the difference visible: some user is active in several hours of a day.
        const hourlySum = expectedSummary(view(HOUR, now), clock.start, clock.start + DAY)
          .filter((r) => r.event_name === "page_view")
          .reduce((s, r) => s + r.unique_users, 0);
        const daily = body.rows.find((r) => r.bucket === iso(clock.start) && r.event_name === "page_view")!;
        expect(daily.unique_users).toBeLessThan(hourlySum);
        expect(cache).toBe("no-store");
      });
    });

    it("summary filters by event_name and by category", async () => {
      const to = clock.h0 + HOUR;
      await ask<{ rows: Row[] }>(`summary?event_name=search&from=${iso(clock.start)}&to=${iso(to)}`, ({ body }, now) => {
        expect(body.rows).toEqual(expectedSummary(view(HOUR, now), clock.start, to, (e) => e.event_name === "search"));
        expect(new Set(body.rows.map((r) => r.category))).toEqual(new Set(["navigation", "engagement"]));
      });
      await ask<{ rows: Row[] }>(`summary?interval=day&category=commerce&from=${iso(clock.start)}&to=${iso(to)}`, ({ body }, now) => {
        expect(body.rows).toEqual(expectedSummary(view(DAY, now), clock.start, floorTo(to - 1, DAY) + DAY, (e) => e.category === "commerce"));
      });
      await ask<{ rows: Row[]; complete: boolean }>(`summary?event_name=nothing_like_this`, ({ body }) => {
        expect(body.rows).toEqual([]);
      });
    });

    it("summary past its row cap: the rows of the whole buckets that fit, the same as the uncapped answer's, and truncated", async () => {
      const db = new ReadDatabase(sql);
      const to = clock.h0 + HOUR;
      for (let attempt = 0; ; attempt++) {
        const before = Date.now();
        const full = await readSummary(db, "hour", new Date(clock.start), new Date(to), {}, 1_000_000);
        expect(full.truncated).toBe(false);
        const n = full.rows.length;
        const answers = [];
        // Caps inside the rolled-up buckets, at a bucket's edge, around the whole answer's size.
        const firstBucket = full.rows.filter((r) => r.bucket === full.rows[0]!.bucket).length;
        const caps = [1, firstBucket, firstBucket + 1, 37, 500, n - 1, n, n + 1];
        for (const cap of caps) answers.push({ cap, answer: await readSummary(db, "hour", new Date(clock.start), new Date(to), {}, cap) });
        if (floorTo(before, HOUR) !== floorTo(Date.now(), HOUR) && attempt === 0) continue;
        for (const { cap, answer } of answers) {
          expect(answer.truncated, `cap ${cap}`).toBe(cap < n);
          const fits = cap < n ? full.rows.filter((r) => r.bucket < full.rows[cap]!.bucket) : full.rows;
          expect(answer.rows, `cap ${cap}`).toEqual(fits);
        }
        return;
      }
    });

    it("late events make a dirty bucket: its rollup value stays until the cron, flagged incomplete and not cacheable", async () => {
      await run(insertEvents([...late, ...graceLate]));
      all = [...all, ...late, ...graceLate];
      dirtyHours = new Set([clock.lateHour, clock.h0 - HOUR]);
      dirtyDays = new Set([floorTo(clock.lateHour, DAY), floorTo(clock.h0 - HOUR, DAY)]);
      const marked = (await sql.query(
        `SELECT granularity, ${"to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"} AS bucket FROM analytics_dirty_buckets ORDER BY 1, 2`,
      )) as Array<{ granularity: string; bucket: string }>;
      expect(marked).toEqual(
        [
          ...[...dirtyDays].map((b) => ({ granularity: "day", bucket: iso(b) })),
          ...[...dirtyHours].map((b) => ({ granularity: "hour", bucket: iso(b) })),
        ].sort((a, b) => byteOrder(a.granularity, b.granularity) || byteOrder(a.bucket, b.bucket)),
      );

      const to = clock.h0 + HOUR;
      await ask<{ rows: Row[] }>(`summary?from=${iso(clock.start)}&to=${iso(to)}`, ({ body }, now) => {
        expect(body.rows).toEqual(expectedSummary(view(HOUR, now), clock.start, to));
        const lateRows = body.rows.filter((r) => r.bucket === iso(clock.lateHour));
        expect(lateRows.length).toBeGreaterThan(0);
        expect(lateRows.every((r) => !r.complete)).toBe(true);
        // The stale value is visibly not the truth yet.
        const truth = expectedSummary({ ...view(HOUR, now), rolledUp: all }, clock.lateHour, clock.lateHour + HOUR);
        expect(lateRows).not.toEqual(truth);
        // The hour that just closed is read from raw rows: its late events show at once.
        const grace = body.rows.filter((r) => r.bucket === iso(clock.h0 - HOUR) && r.event_name === "click");
        expect(grace[0]!.event_count).toBe(all.filter((e) => e.event_name === "click" && floorTo(Date.parse(e.time), HOUR) === clock.h0 - HOUR).length);
      });
      // A closed range over the dirty hour is not cacheable; one beside it is.
      await ask<{ complete: boolean }>(`summary?from=${iso(clock.lateHour - 2 * HOUR)}&to=${iso(clock.lateHour + HOUR)}`, ({ body, cache }) => {
        expect(body.complete).toBe(false);
        expect(cache).toBe("no-store");
      });
      await ask<{ complete: boolean }>(`summary?from=${iso(clock.lateHour + HOUR)}&to=${iso(clock.lateHour + 6 * HOUR)}`, ({ body, cache }) => {
        expect(body.complete).toBe(true);
        expect(cache).toBe("private, max-age=300");
      });
      await ask<{ rows: Row[] }>(`summary?interval=day&from=${iso(clock.start)}`, ({ body }, now) => {
        const v = view(DAY, now);
        expect(body.rows).toEqual(expectedSummary(v, clock.start, floorTo(now, DAY) + DAY));
        expect(body.rows.filter((r) => r.bucket === iso(floorTo(clock.lateHour, DAY))).every((r) => !r.complete)).toBe(true);
      });
      await ask<{ points: Array<{ bucket: string; event_count: number; complete: boolean }> }>(
        `series?event_name=purchase&from=${iso(clock.lateHour - HOUR)}&to=${iso(clock.lateHour + 2 * HOUR)}`,
        ({ body }, now) => {
          const counts = bucketCounts(visible(view(HOUR, now), clock.lateHour - HOUR, clock.lateHour + 2 * HOUR), HOUR, "purchase");
          expect(body.points).toEqual(
            [clock.lateHour - HOUR, clock.lateHour, clock.lateHour + HOUR].map((b) => ({
              bucket: iso(b),
              event_count: counts.get(b) ?? 0,
              complete: b !== clock.lateHour,
            })),
          );
        },
      );
    });

    it("after the cron re-rolls the dirty buckets, every answer is the truth and closed ranges are cacheable", async () => {
      await cron(clock.start, floorTo(Date.now(), HOUR));
      const to = clock.h0 + HOUR;
      await ask<{ rows: Row[] }>(`summary?from=${iso(clock.start)}&to=${iso(to)}`, ({ body }, now) => {
        expect(body.rows).toEqual(expectedSummary(view(HOUR, now), clock.start, to));
        expect(body.rows.filter((r) => r.bucket === iso(clock.lateHour)).every((r) => r.complete)).toBe(true);
      });
      await ask<{ rows: Row[] }>(`summary?interval=day&from=${iso(clock.start)}`, ({ body }, now) => {
        expect(body.rows).toEqual(expectedSummary(view(DAY, now), clock.start, floorTo(now, DAY) + DAY));
      });
      await ask<{ complete: boolean }>(`summary?interval=day&from=${iso(clock.start)}&to=${iso(clock.start + 2 * DAY)}`, ({ cache, body }) => {
        expect(body.complete).toBe(true);
        expect(cache).toBe("private, max-age=300");
      });
    });

    type Point = { bucket: string; event_count: number; moving_average?: number; percentiles?: Record<string, number | null>; complete: boolean };
    type Series = { event_name: string; from: string; to: string; moving_average: number | null; complete: boolean; points: Point[] };

    function expectedSeries(v: View, name: string, from: number, to: number, window?: number): Point[] {
      const lead = ((window ?? 1) - 1) * v.width;
      const counts = bucketCounts(visible(v, from - lead, to), v.width, name);
      const points: Point[] = [];
      for (let b = from; b < to; b += v.width) {
        const point: Point = { bucket: iso(b), event_count: counts.get(b) ?? 0, complete: isComplete(v, b) };
        if (window) {
          let sum = 0;
          for (let k = 0; k < window; k++) sum += counts.get(b - k * v.width) ?? 0;
          point.moving_average = sum / window;
        }
        points.push(point);
      }
      // Key order as the API writes it, for toEqual on plain objects it does not matter.
      return points;
    }

    it("series: gap-filled (zeros for empty hours), summed over categories, with a trailing moving average", async () => {
      const from = clock.start + 6 * HOUR;
      const to = clock.h0 + HOUR;
      await ask<Series>(`series?event_name=search&from=${iso(from)}&to=${iso(to)}&moving_average=3`, ({ body, cache }, now) => {
        const want = expectedSeries(view(HOUR, now), "search", from, to, 3);
        expect(body.points.length).toBe((to - from) / HOUR);
        expect(body.points.map(({ moving_average, ...p }) => p)).toEqual(want.map(({ moving_average, ...p }) => p));
        body.points.forEach((p, i) => expect(p.moving_average).toBeCloseTo(want[i]!.moving_average!, 9));
        for (const emptyHour of [clock.h0 - 20 * HOUR, clock.h0 - 21 * HOUR]) {
          expect(body.points.find((p) => p.bucket === iso(emptyHour))!.event_count).toBe(0);
        }
        expect(body.moving_average).toBe(3);
        expect(cache).toBe("no-store");
      });
      // A sparse event: most hours are zero.
      await ask<Series>(`series?event_name=signup&from=${iso(clock.start)}&to=${iso(clock.h0)}`, ({ body, cache }, now) => {
        const want = expectedSeries(view(HOUR, now), "signup", clock.start, clock.h0);
        expect(body.points).toEqual(want);
        expect(want.filter((p) => p.event_count === 0).length).toBeGreaterThan(want.length / 2);
        expect(cache).toBe("private, max-age=300");
      });
      // Daily, moving average over 2 days: the day before `from` is read for the first point.
      await ask<Series>(`series?event_name=page_view&interval=day&from=${iso(clock.start + DAY)}&moving_average=2`, ({ body }, now) => {
        const to = floorTo(now, DAY) + DAY;
        const want = expectedSeries(view(DAY, now), "page_view", clock.start + DAY, to, 2);
        expect(body.points.map(({ moving_average, ...p }) => p)).toEqual(want.map(({ moving_average, ...p }) => p));
        body.points.forEach((p, i) => expect(p.moving_average).toBeCloseTo(want[i]!.moving_average!, 9));
      });
    });

    it("series percentiles match a direct percentile_cont over the raw rows, ignoring non-numeric values", async () => {
      const from = clock.h0 - 48 * HOUR;
      const to = clock.h0 + HOUR;
      const fractions = [0.5, 0.95, 0.99];
      const direct = (await sql.query(
        `SELECT to_char(date_bin('1 hour', time, ${ORIGIN_SQL}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS bucket,
           to_jsonb(percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY (properties->>'duration_ms')::float8)) AS p
         FROM analytics_events_ts
         WHERE event_name = 'page_view' AND jsonb_typeof(properties->'duration_ms') = 'number'
           AND time >= $1 AND time < $2
         GROUP BY 1`,
        [iso(from), iso(to)],
      )) as Array<{ bucket: string; p: number[] }>;
      const directBy = new Map(direct.map((r) => [r.bucket, r.p]));
      expect(directBy.size).toBeGreaterThan(40);

      await ask<Series>(
        `series?event_name=page_view&from=${iso(from)}&to=${iso(to)}&percentiles=50,95,99&property=duration_ms&moving_average=2`,
        ({ body }, now) => {
          const v: View = { ...view(HOUR, now), rolledUp: all }; // percentiles read raw rows only
          const want = expectedSeries(v, "page_view", from, to, 2);
          expect(body.points.map((p) => [p.bucket, p.event_count, p.complete])).toEqual(want.map((p) => [p.bucket, p.event_count, p.complete]));
          body.points.forEach((p, i) => expect(p.moving_average).toBeCloseTo(want[i]!.moving_average!, 9));
          for (const point of body.points) {
            const values = all
              .filter((e) => e.event_name === "page_view" && floorTo(Date.parse(e.time), HOUR) === Date.parse(point.bucket))
              .map((e) => e.properties.duration_ms)
              .filter((x): x is number => typeof x === "number")
              .sort((a, b) => a - b);
            const sqlValues = directBy.get(point.bucket);
            ["p50", "p95", "p99"].forEach((key, k) => {
              const got = point.percentiles![key];
              const ts = percentileCont(values, fractions[k]!);
              if (ts === null) {
                expect(got).toBeNull();
                expect(sqlValues).toBeUndefined();
              } else {
                expect(got).toBeCloseTo(sqlValues![k]!, 9);
                expect(got).toBeCloseTo(ts, 6);
              }
            });
          }
        },
      );
    });

    it("popular-asset-types answers what get_popular_asset_types() did, today included", async () => {
      await ask<{ rows: unknown[]; complete: boolean }>(`popular-asset-types?from=${iso(clock.start)}&limit=3`, ({ body, cache }, now) => {
        const to = new Date(floorTo(now, DAY) + DAY);
        expect(body.rows).toEqual(expectedPopularAssetTypes(all, new Date(clock.start), to, 3));
        expect(body.rows.length).toBe(3);
        expect(cache).toBe("no-store");
      });
      await ask<{ rows: unknown[]; complete: boolean }>(
        `popular-asset-types?from=${iso(clock.start)}&to=${iso(clock.start + 2 * DAY)}`,
        ({ body, cache }) => {
          expect(body.rows).toEqual(expectedPopularAssetTypes(all, new Date(clock.start), new Date(clock.start + 2 * DAY), 10));
          expect(body.rows.length).toBe(ASSET_TYPES.length);
          expect(body.complete).toBe(true);
          expect(cache).toBe("private, max-age=300");
        },
      );
      // The default range is the last 7 days.
      await ask<{ from: string; rows: unknown[] }>(`popular-asset-types`, ({ body }, now) => {
        expect(body.from).toBe(iso(floorTo(now, DAY) - 6 * DAY));
        expect(body.rows).toEqual(expectedPopularAssetTypes(all, new Date(floorTo(now, DAY) - 6 * DAY), new Date(floorTo(now, DAY) + DAY), 10));
      });
    });

    it("checks returns the reconciliation rows of the hours asked for", async () => {
      const rows: CheckRow[] = [];
      for (const hour of [clock.h0 - 5 * HOUR, clock.h0 - 3 * HOUR, clock.h0 - 2 * HOUR]) {
        rows.push(
          { hour: iso(hour), scope: "page_view", redis_count: 10, raw_count: 10, rollup_count: 10, drift: 0, status: "match", action: null },
          { hour: iso(hour), scope: "*", redis_count: null, raw_count: 40, rollup_count: 38, drift: 2, status: "drift", action: "healed" },
        );
      }
      await run(recordChecks(rows));
      const from = clock.h0 - 3 * HOUR;
      const to = clock.h0 - HOUR;
      await ask<{ truncated: boolean; rows: Array<CheckRow & { checked_at: string }> }>(
        `checks?from=${iso(from)}&to=${iso(to)}`,
        ({ body, cache }) => {
          const want = rows
            .filter((r) => Date.parse(r.hour) >= from && Date.parse(r.hour) < to)
            .sort((a, b) => byteOrder(a.hour, b.hour) || byteOrder(a.scope, b.scope));
          expect(body.rows.map(({ checked_at, ...r }) => r)).toEqual(want);
          expect(body.rows.every((r) => !Number.isNaN(Date.parse(r.checked_at)))).toBe(true);
          expect(body.truncated).toBe(false);
          expect(cache).toBe("no-store");
        },
      );
      await ask<{ truncated: boolean; rows: unknown[] }>(`checks?from=${iso(from)}&to=${iso(to)}&limit=3`, ({ body }) => {
        expect(body.rows.length).toBe(3);
        expect(body.truncated).toBe(true);
      });
    });

    it("when the rollups are behind (the cron has not run), the missing buckets come from raw rows, not holes", async () => {
      await sql.query(`TRUNCATE analytics_hourly, analytics_daily, analytics_asset_popularity_ts`);
      const to = clock.h0 + HOUR;
      await ask<{ rows: Row[] }>(`summary?from=${iso(clock.start)}&to=${iso(to)}`, ({ body }, now) => {
        expect(body.rows).toEqual(expectedSummary({ ...view(HOUR, now), rolledUp: all }, clock.start, to));
      });
      await ask<{ rows: Row[] }>(`summary?interval=day&from=${iso(clock.start)}`, ({ body }, now) => {
        expect(body.rows).toEqual(expectedSummary({ ...view(DAY, now), rolledUp: all }, clock.start, floorTo(now, DAY) + DAY));
      });
      await ask<{ rows: unknown[] }>(`popular-asset-types?from=${iso(clock.start)}`, ({ body }, now) => {
        expect(body.rows).toEqual(expectedPopularAssetTypes(all, new Date(clock.start), new Date(floorTo(now, DAY) + DAY), 10));
      });
    });
  });
}
