/**
 * Part 5 — queries on N generated events over 30 days (10,000,000 at full size), on the server
 * BENCH_PG_ADMIN_URL points at (default: the machine's PostgreSQL, postgres tier; a TimescaleDB
 * server gives the timescale tier): the read API's statements (src/read/*.ts) served from the
 * rollups vs the same answer aggregated from raw rows. Server time = planning + execution time
 * from `EXPLAIN (ANALYZE, TIMING OFF)`; warm median of 5 (3 at smoke size) after one cold run.
 *
 * Events are generated server-side (`INSERT … SELECT generate_series`, one statement per day):
 * 300 event names with Zipf-like popularity (page_view ≈ 15 %), 12 categories, 200,000 users
 * (skewed), sessions, `asset_type` on asset_generated. Rollups are computed by the project's own
 * `CALL analytics_refresh_rollups(from, to)`. The breakdown over a range with today runs last,
 * after today is filled up to one day's events (see the case).
 */
import pg from "pg";
import { breakdown } from "../../src/read/breakdown";
import { popularAssetTypesWithOpenDay } from "../../src/read/popular-asset-types";
import { series } from "../../src/read/series";
import { summary } from "../../src/read/summary";
import type { SqlStatement } from "../../src/storage/sql";
import { createMigratedDatabase, ensurePartitionsBack } from "./databases";
import { ASSET_TYPES, categoryOf, EVENT_NAMES } from "./fixtures";
import type { Figure, PartResult, Size } from "./report";
import { log, median, progress, round } from "./util";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function serverMs(client: pg.Client, text: string, values: readonly unknown[]): Promise<number> {
  const r = await client.query(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${text}`, values as unknown[]);
  const plan = (r.rows[0] as { "QUERY PLAN": Array<{ "Planning Time": number; "Execution Time": number }> })["QUERY PLAN"][0]!;
  return plan["Planning Time"] + plan["Execution Time"];
}

async function timeQuery(client: pg.Client, text: string, values: readonly unknown[], warmRuns: number): Promise<{ cold: number; warm: number }> {
  const cold = await serverMs(client, text, values);
  const warm: number[] = [];
  for (let i = 0; i < warmRuns; i++) warm.push(await serverMs(client, text, values));
  return { cold, warm: median(warm) };
}

const ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;
const COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "ES", "IT", "NL", "PL", "SE", "AU", "MX", "KR", "TR", "CH", "AT", "BE"];

/** The top `limit` + 1 pages of [from, to) aggregated from raw rows: the breakdown's answer without its rollup. */
const rawPageBreakdown = (from: Date, to: Date, limit = 10) => ({
  text: `SELECT page_path, sum(n)::bigint AS events, sum(v)::bigint AS visitors, sum(u)::bigint AS users FROM (
  SELECT date_bin('24 hours', time, ${ORIGIN}), page_path, count(*) AS n, count(DISTINCT visitor_id) AS v, count(DISTINCT user_id) AS u
  FROM analytics_events_ts WHERE time >= $1 AND time < $2 GROUP BY 1, 2) d GROUP BY page_path ORDER BY 2 DESC, 1 LIMIT $3`,
  values: [from.toISOString(), to.toISOString(), limit + 1],
});

/**
 * `count` events of one generated day from `dayStart` (ms), uniform over its 24 hours, server-side
 * in one statement (needs the temporary table bench_names).
 */
async function generateDay(client: pg.Client, dayStart: number, count: number): Promise<void> {
  await client.query(
    `WITH n AS (SELECT array_agg(name ORDER BY idx) AS names, array_agg(category ORDER BY idx) AS cats FROM bench_names),
g AS (
  SELECT to_timestamp(($1::bigint + floor(random() * 86400000)::bigint) / 1000.0) AS t,
         1 + floor(300 * random() ^ 3)::int AS k, floor(200000 * random() ^ 2)::int AS u, random() AS r,
         floor(5000 * random() ^ 3)::int AS p
  FROM generate_series(1, $2::int)
)
INSERT INTO analytics_events_ts (time, event_id, event_name, category, user_id, session_id, properties, device_info, page_url, referrer, received_at, skew_ms,
  visitor_id, page_path, page_host, referrer_host, utm_source, country, device_class, browser, os)
SELECT g.t, gen_random_uuid(), n.names[g.k], n.cats[g.k],
  CASE WHEN g.r < 0.2 THEN NULL ELSE 'usr_' || g.u END,
  'ses_' || g.u || '_' || (extract(epoch FROM g.t)::bigint / 1800),
  CASE WHEN n.names[g.k] = 'asset_generated'
    THEN jsonb_build_object('asset_type', ($3::text[])[1 + floor(8 * random() ^ 2)::int], 'duration_ms', floor(random() * 20000)::int)
    ELSE jsonb_build_object('plan', CASE WHEN g.r < 0.8 THEN 'free' ELSE 'pro' END, 'duration_ms', floor(random() * 20000)::int) END,
  '{"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0","screen":"1920x1080","locale":"en-US"}'::jsonb,
  'https://app.example.com/projects/' || g.p, NULL, g.t, 0,
  -- Dimensions as ingest derives them: a visitor per user and day, skewed pages and countries.
  md5('v' || g.u || ':' || $1::bigint)::text, '/projects/' || g.p, 'app.example.com',
  CASE WHEN g.r < 0.3 THEN 'www.google.com' WHEN g.r < 0.35 THEN 'news.example.org' END,
  CASE WHEN g.r < 0.1 THEN 'newsletter' END,
  ($4::text[])[1 + floor(20 * random() ^ 2)::int],
  CASE WHEN g.r < 0.6 THEN 'desktop' WHEN g.r < 0.95 THEN 'mobile' ELSE 'tablet' END,
  CASE WHEN g.r < 0.65 THEN 'Chrome' WHEN g.r < 0.85 THEN 'Safari' ELSE 'Firefox' END,
  CASE WHEN g.r < 0.5 THEN 'Windows' WHEN g.r < 0.7 THEN 'macOS' WHEN g.r < 0.9 THEN 'iOS' ELSE 'Android' END
FROM g, n`,
    [dayStart, count, ASSET_TYPES, COUNTRIES],
  );
}

export async function runQueries(size: Size): Promise<Omit<PartResult, "seconds">> {
  const total = size === "full" ? 10_000_000 : 200_000;
  const warmRuns = size === "full" ? 5 : 3;
  const db = await createMigratedDatabase("queries");
  const client = new pg.Client(db.url);
  // A forced DROP DATABASE at cleanup ends this session (57P01): not a crash.
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query("SET synchronous_commit = off");
    await ensurePartitionsBack(client, 32);
    const end = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
    const start = end - 30 * DAY;
    await client.query(`CREATE TEMP TABLE bench_names AS SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(name, category, idx)`, [
      EVENT_NAMES,
      EVENT_NAMES.map((_, i) => categoryOf(i)),
    ]);
    log(`queries: generating ${total.toLocaleString("en-US")} events over 30 days (server-side)…`);
    const perDay = Math.floor(total / 30);
    const genStarted = Date.now();
    const bar = progress("generate", 30);
    for (let d = 0; d < 30; d++) {
      await generateDay(client, start + d * DAY, perDay);
      bar.update(d + 1);
    }
    bar.stop();
    const genSeconds = (Date.now() - genStarted) / 1000;
    log(`queries: generated in ${round(genSeconds)} s (${round((perDay * 30) / genSeconds, 0)} rows/s); ANALYZE + rollups…`);
    await client.query("ANALYZE analytics_events_ts");
    const rollStarted = Date.now();
    await client.query(`CALL analytics_refresh_rollups($1::timestamptz, $2::timestamptz)`, [new Date(start - DAY).toISOString(), new Date(end + DAY).toISOString()]);
    // VACUUM as autovacuum does between the refreshes of a live database: index-only scans need
    // the visibility map (0022 tunes the dimension rollup's autovacuum for that).
    await client.query("VACUUM ANALYZE analytics_hourly, analytics_daily, analytics_asset_popularity_ts, analytics_daily_dimensions");
    const rollSeconds = (Date.now() - rollStarted) / 1000;
    const server = (
      await client.query<{ pg: string; ts: string | null }>(
        `SELECT current_setting('server_version') AS pg, (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS ts`,
      )
    ).rows[0]!;
    const serverText = `${db.tier} tier, PostgreSQL ${server.pg}${server.ts ? `, TimescaleDB ${server.ts}` : ""}`;
    const hourlyRows = Number(((await client.query("SELECT count(*) AS n FROM analytics_hourly")).rows[0] as { n: string }).n);
    log(`queries: rollups in ${round(rollSeconds)} s (${hourlyRows} hourly rows)`);

    const from30 = new Date(start);
    const to = new Date(end);
    const dayEnd = Math.floor(end / DAY) * DAY;
    const from7d = new Date(dayEnd - 7 * DAY);
    const to7d = new Date(dayEnd);
    const seriesFrom = new Date(end - 8 * DAY); // 7 days hourly + a 24-hour lead-in for the moving average
    /** The read API's statement and the same answer from raw rows; `note` says how its data was prepared. */
    type Statements = { rollup: SqlStatement; raw: SqlStatement; note?: string };
    /** A case's statements, or how to prepare its data and then build them. */
    type Case = { name: string } & (Statements | { prepare: () => Promise<Statements> });
    const cases: Case[] = [
      {
        name: "summary, 30 days hourly",
        rollup: summary("hour", from30, to),
        raw: {
          text: `SELECT date_bin('1 hour', time, ${ORIGIN}) AS bucket, event_name, category, count(*), count(DISTINCT user_id), count(DISTINCT session_id)
FROM analytics_events_ts WHERE time >= $1 AND time < $2 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
          values: [from30.toISOString(), to.toISOString()],
        },
      },
      {
        name: "summary, 7 days daily",
        rollup: summary("day", from7d, to7d),
        raw: {
          text: `SELECT date_bin('24 hours', time, ${ORIGIN}) AS bucket, event_name, category, count(*), count(DISTINCT user_id), count(DISTINCT session_id)
FROM analytics_events_ts WHERE time >= $1 AND time < $2 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
          values: [from7d.toISOString(), to7d.toISOString()],
        },
      },
      {
        name: "popular-asset-types, 30 days",
        rollup: popularAssetTypesWithOpenDay(new Date(dayEnd - 30 * DAY), to7d, 10),
        raw: {
          text: `SELECT asset_type, sum(n)::bigint AS generation_count, sum(u)::bigint AS unique_creators FROM (
  SELECT date_bin('24 hours', time, ${ORIGIN}), properties ->> 'asset_type' AS asset_type, count(*) AS n, count(DISTINCT user_id) AS u
  FROM analytics_events_ts WHERE event_name = 'asset_generated' AND properties ->> 'asset_type' IS NOT NULL AND time >= $1 AND time < $2
  GROUP BY 1, 2) d GROUP BY asset_type ORDER BY 2 DESC, 1 LIMIT 10`,
          values: [new Date(dayEnd - 30 * DAY).toISOString(), to7d.toISOString()],
        },
      },
      {
        name: "breakdown page_path, 30 closed days (top 10)",
        rollup: breakdown("page_path", new Date(dayEnd - 30 * DAY), new Date(dayEnd), null, 10),
        raw: rawPageBreakdown(new Date(dayEnd - 30 * DAY), new Date(dayEnd)),
      },
      {
        // Past the limits ranked from each day's top values (src/read/breakdown.ts): every row.
        name: "breakdown page_path, 30 closed days (top 100)",
        rollup: breakdown("page_path", new Date(dayEnd - 30 * DAY), new Date(dayEnd), null, 100),
        raw: rawPageBreakdown(new Date(dayEnd - 30 * DAY), new Date(dayEnd), 100),
      },
      {
        name: "series page_view, 7 days hourly + 24 h moving average",
        rollup: series("hour", seriesFrom, to, "page_view"),
        raw: {
          text: `SELECT g.bucket, coalesce(x.n, 0) AS n, avg(coalesce(x.n, 0)) OVER (ORDER BY g.bucket ROWS 23 PRECEDING) AS moving_avg
FROM generate_series($1::timestamptz, $2::timestamptz - INTERVAL '1 hour', INTERVAL '1 hour') g(bucket)
LEFT JOIN (SELECT date_bin('1 hour', time, ${ORIGIN}) AS bucket, count(*) AS n FROM analytics_events_ts
           WHERE event_name = 'page_view' AND time >= $1 AND time < $2 GROUP BY 1) x ON x.bucket = g.bucket
ORDER BY g.bucket`,
          values: [seriesFrom.toISOString(), to.toISOString()],
        },
      },
      {
        // The range a dashboard asks by default: today (the open day by the database's clock) is
        // aggregated from raw rows in the same statement, so its cost follows today's volume.
        // Today is filled up to one day's events first, whatever the hour the part runs at (the
        // generated 30 days end 2 hours before it: today held from none to 22 hours of them).
        name: "breakdown page_path, 29 closed days + a full today (top 10)",
        prepare: async () => {
          const today = (
            await client.query<{ ms: string; n: string }>(
              `WITH d AS (SELECT date_bin('1 day', now(), ${ORIGIN}) AS day)
SELECT extract(epoch FROM d.day)::bigint * 1000 AS ms,
  (SELECT count(*) FROM analytics_events_ts WHERE time >= d.day AND time < d.day + INTERVAL '1 day') AS n
FROM d`,
            )
          ).rows[0]!;
          const had = Number(today.n);
          const openDay = Number(today.ms);
          if (had < perDay) await generateDay(client, openDay, perDay - had);
          return {
            rollup: breakdown("page_path", new Date(openDay - 29 * DAY), new Date(openDay + DAY), null, 10),
            raw: rawPageBreakdown(new Date(openDay - 29 * DAY), new Date(openDay + DAY)),
            note: `today ${Math.max(had, perDay).toLocaleString("en-US")} events (${had.toLocaleString("en-US")} generated with the 30 days, the rest added)`,
          };
        },
      },
    ];
    const figures: Figure[] = [];
    const raw: Record<string, unknown> = { total: perDay * 30, genSeconds, rollSeconds, hourlyRows };
    for (const c of cases) {
      const { rollup, raw: rawStatement, note: prepared } = "prepare" in c ? await c.prepare() : c;
      const r = await timeQuery(client, rollup.text, rollup.values, warmRuns);
      const w = await timeQuery(client, rawStatement.text, rawStatement.values, Math.min(3, warmRuns));
      const speedup = w.warm / r.warm;
      if (prepared) log(`queries: ${c.name}: ${prepared}`);
      log(`queries: ${c.name}: rollup ${round(r.warm, 2)} ms (cold ${round(r.cold, 2)}), raw ${round(w.warm, 0)} ms → ${round(speedup, 0)}×`);
      raw[c.name] = { rollup: r, raw: w };
      figures.push({
        name: `${c.name}: rollup vs raw (server ms, warm)`,
        value: `${round(r.warm, 1)} vs ${round(w.warm, 0).toLocaleString("en-US")} ms (${round(speedup, 0)}×)`,
        unit: "",
        target: "≤ 20 ms and ≥ 100× faster",
        ratio: undefined,
        met: r.warm <= 20 && speedup >= 100,
        detail: `${prepared ? `${prepared}; ` : ""}cold ${round(r.cold, 1)} / ${round(w.cold, 0)} ms; warm = median of ${warmRuns} (raw: ${Math.min(3, warmRuns)})`,
      });
    }
    return {
      part: "queries",
      title: "Queries",
      status: "ok",
      method: `${(perDay * 30).toLocaleString("en-US")} events over 30 days generated server-side (${serverText}; ${round(genSeconds)} s), rollups by CALL analytics_refresh_rollups (${round(rollSeconds)} s, ${hourlyRows} hourly rows); the read API's statements (src/read/) vs equivalent raw aggregations; server time from EXPLAIN (ANALYZE, TIMING OFF). The breakdown with today runs last, after today (the open UTC day by the database's clock) is filled up to one day's events (${perDay.toLocaleString("en-US")}, the volume at the end of a day), so it does not depend on the hour the part runs; between 00:00 and 01:00 UTC it also reads yesterday from raw rows (the cron's grace hour). Point BENCH_PG_ADMIN_URL at a TimescaleDB server for the timescale tier (the embedded PGlite build at 10M rows does not fit the time budget).`,
      figures,
      raw,
    };
  } finally {
    await client.end();
    await db.drop();
  }
}
