/**
 * The read API's statements (part of the SQL module; `sql.ts` holds the rest). Each endpoint sends
 * exactly ONE of these, as a single autocommit query over the Neon HTTP driver.
 *
 * The same text serves every storage tier, so the read path never has to ask which tier it is on
 * (that would be a second statement):
 * - closed buckets come from the rollups (`analytics_hourly`, `analytics_daily`,
 *   `analytics_asset_popularity_ts`: continuous aggregates in `timescale`, tables kept by the
 *   hourly cron elsewhere);
 * - buckets from the "raw horizon" on are aggregated from raw rows in the same statement
 *   (`UNION ALL`). The horizon is the earlier of (a) the start of the bucket that was open an hour
 *   ago — the open bucket, and the one that closed less than an hour ago while the cron may not
 *   have rolled it up yet — and (b) the end of the newest bucket the rollup holds, so a cron that
 *   fell behind is covered by raw rows instead of showing holes;
 * - buckets in `analytics_dirty_buckets` (late events not yet re-rolled up) keep the rollup's last
 *   value and are flagged `complete = false`, like the open bucket. Recomputing them from raw rows
 *   would make the cost unbounded: with steady late traffic most of the last 7 days is dirty.
 *
 * - history imported from the legacy system (`analytics_imported_hourly`,
 *   `analytics_imported_asset_popularity`: periods that had no raw events, kept out of reach of
 *   rollup refreshes and raw retention) is added to the same buckets, and rows it contributes to
 *   carry `imported = true`.
 *
 * Buckets use `date_bin` with the UTC origin (like the rollups; `date_trunc` would follow the
 * session TimeZone), and widths in hours (`24 hours`, not `1 day`, whose length depends on the
 * TimeZone in `generate_series`). Times come back as ISO-8601 text (`…T07:00:00.000Z`), counts as
 * bigint (strings from the driver). Text sorts byte-wise (`COLLATE "C"`), so the order does not
 * depend on the database's collation.
 */
import type { Interval } from "../domain/read-params";
import { BUCKET_ORIGIN, type SqlStatement } from "./sql";

const WIDTH: Record<Interval, string> = { hour: `INTERVAL '1 hour'`, day: `INTERVAL '24 hours'` };
const ROLLUP: Record<Interval, string> = { hour: "analytics_hourly", day: "analytics_daily" };
/** How long after a bucket closes it is still read from raw rows (the cron's grace period). */
const RAW_GRACE = `INTERVAL '1 hour'`;

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The bounds CTE `b`: `from_ts`, `to_ts` (from $1, $2), `open_bucket` (start of the current
 * bucket, by the database clock) and `raw_from` (the raw horizon, see the module comment).
 */
function bounds(width: string, rollup: string): string {
  return `b AS MATERIALIZED (
  SELECT $1::timestamptz AS from_ts, $2::timestamptz AS to_ts,
    date_bin(${width}, now(), ${BUCKET_ORIGIN}) AS open_bucket,
    least(date_bin(${width}, now() - ${RAW_GRACE}, ${BUCKET_ORIGIN}),
          coalesce((SELECT max(bucket) FROM ${rollup}) + ${width}, '-infinity')) AS raw_from
)`;
}

/** The CTE `dirty`: buckets of `granularity` in [from_ts, to_ts) with late events not re-rolled up. */
function dirty(granularity: Interval): string {
  return `dirty AS (
  SELECT d.bucket FROM analytics_dirty_buckets d, b
  WHERE d.granularity = '${granularity}' AND d.bucket >= b.from_ts AND d.bucket < b.to_ts
)`;
}

/**
 * Imported legacy hourly counts of [from_ts, to_ts) in buckets of `width`, as (bucket, event_name,
 * category, event_count, unique_users, unique_sessions, imported). Daily uniques are sums of the
 * legacy hours' uniques (the legacy system kept no finer data).
 */
function importedHourly(width: string, nameFilter: string): string {
  return `SELECT date_bin(${width}, i.bucket, ${BUCKET_ORIGIN}) AS bucket, i.event_name, i.category,
         sum(i.event_count) AS event_count, sum(i.unique_users) AS unique_users, sum(i.unique_sessions) AS unique_sessions, true AS imported
  FROM analytics_imported_hourly i, b
  WHERE i.bucket >= b.from_ts AND i.bucket < b.to_ts AND ${nameFilter}
  GROUP BY 1, 2, 3`;
}

/** One row of `summary`. `bucket` is null in the single row of an empty answer. */
export interface SummarySqlRow {
  clean: boolean;
  bucket: string | null;
  event_name: string | null;
  category: string | null;
  event_count: string | number | null;
  unique_users: string | number | null;
  unique_sessions: string | number | null;
  complete: boolean | null;
  imported: boolean | null;
}

/**
 * Rollup rows per (bucket, event_name, category) for [from, to), optionally for one event name
 * and/or category. Always returns at least one row: `clean` (every bucket of the range is closed and
 * none is dirty) is on every row, and an empty answer is one row whose `bucket` is null.
 * Rows: `{ clean, bucket, event_name, category, event_count, unique_users, unique_sessions, complete }`,
 * ordered by bucket, event_name, category; at most `maxRows + 1` (one more tells the caller it cut).
 * @example await sql.query(...Object.values(summary("hour", from, to, { eventName: "page_view" })))
 */
export function summary(
  interval: Interval,
  from: Date,
  to: Date,
  filter: { eventName?: string | undefined; category?: string | undefined } = {},
  maxRows = 10_000,
): SqlStatement {
  const w = WIDTH[interval];
  return {
    text: `WITH ${bounds(w, ROLLUP[interval])}, ${dirty(interval)}, cur AS (
  SELECT r.bucket, r.event_name, r.category, r.event_count, r.unique_users, r.unique_sessions
  FROM ${ROLLUP[interval]} r, b
  WHERE r.bucket >= b.from_ts AND r.bucket < least(b.to_ts, b.raw_from)
    AND ($3::text IS NULL OR r.event_name = $3::text) AND ($4::text IS NULL OR r.category = $4::text)
  UNION ALL
  SELECT date_bin(${w}, e.time, ${BUCKET_ORIGIN}), e.event_name, e.category,
         count(*), count(DISTINCT e.user_id), count(DISTINCT e.session_id)
  FROM analytics_events_ts e, b
  WHERE e.time >= greatest(b.from_ts, b.raw_from) AND e.time < b.to_ts
    AND ($3::text IS NULL OR e.event_name = $3::text) AND ($4::text IS NULL OR e.category = $4::text)
  GROUP BY 1, 2, 3
), imp AS (
  ${importedHourly(w, "($3::text IS NULL OR i.event_name = $3::text) AND ($4::text IS NULL OR i.category = $4::text)")}
), data AS (
  -- A full join rather than a regrouping of every row: the imported side is small (usually empty).
  SELECT coalesce(c.bucket, i.bucket) AS bucket, coalesce(c.event_name, i.event_name) AS event_name,
    coalesce(c.category, i.category) AS category,
    (coalesce(c.event_count, 0) + coalesce(i.event_count, 0))::bigint AS event_count,
    (coalesce(c.unique_users, 0) + coalesce(i.unique_users, 0))::bigint AS unique_users,
    (coalesce(c.unique_sessions, 0) + coalesce(i.unique_sessions, 0))::bigint AS unique_sessions,
    i.bucket IS NOT NULL AS imported
  FROM cur c FULL JOIN imp i ON c.bucket = i.bucket AND c.event_name = i.event_name AND c.category = i.category
)
SELECT (b.to_ts <= b.open_bucket AND NOT EXISTS (SELECT 1 FROM dirty)) AS clean,
  ${iso("x.bucket")} AS bucket, x.event_name, x.category,
  x.event_count, x.unique_users, x.unique_sessions,
  (x.bucket < b.open_bucket AND x.bucket NOT IN (SELECT bucket FROM dirty)) AS complete, x.imported
FROM b LEFT JOIN data x ON true
ORDER BY x.bucket, x.event_name COLLATE "C", x.category COLLATE "C"
LIMIT $5::integer + 1`,
    values: [from.toISOString(), to.toISOString(), filter.eventName ?? null, filter.category ?? null, maxRows],
  };
}

/** One bucket of `series`. */
export interface SeriesSqlRow {
  bucket: string;
  event_count: string | number;
  /** `float8[]` as JSON, in the order of the requested fractions; null without numeric values. */
  percentiles?: number[] | null;
  complete: boolean;
  /** True when imported legacy counts contributed to the bucket. */
  imported: boolean;
}

/**
 * Every bucket of [from, to) for one event name (summed over its categories), gap-filled with 0
 * by `generate_series`. Rows `{ bucket, event_count, complete }` in bucket order; with
 * `percentiles` also `percentiles` (JSON array, one value per fraction, null for a bucket without
 * numeric values).
 *
 * - Without percentiles, counts come from the rollups plus raw rows past the raw horizon.
 * - With percentiles, everything comes from raw rows: `percentile_cont(fractions) WITHIN GROUP
 *   (ORDER BY value)` over `properties -> property` where it is a JSON number (strings, booleans,
 *   nulls and missing keys are ignored; the nested CASEs keep any cast from seeing a non-number).
 *   The caller caps the range (raw rows).
 *
 * The moving average is computed by the caller from these rows (`from` may include its lead-in).
 */
export function series(
  interval: Interval,
  from: Date,
  to: Date,
  eventName: string,
  percentiles?: { fractions: readonly number[]; property: string },
): SqlStatement {
  const w = WIDTH[interval];
  const values: unknown[] = [from.toISOString(), to.toISOString(), eventName];
  let data: string;
  if (percentiles) {
    values.push(`{${percentiles.fractions.join(",")}}`, percentiles.property);
    data = `data AS (
  SELECT date_bin(${w}, e.time, ${BUCKET_ORIGIN}) AS bucket, count(*) AS n,
    percentile_cont($4::float8[]) WITHIN GROUP (ORDER BY
      CASE WHEN jsonb_typeof(e.properties -> $5::text) = 'number' THEN
        CASE WHEN abs((e.properties -> $5::text)::numeric) <= 1e300 THEN (e.properties -> $5::text)::float8 END
      END) AS pct, false AS imported
  FROM analytics_events_ts e, b
  WHERE e.event_name = $3::text AND e.time >= b.from_ts AND e.time < b.to_ts
  GROUP BY 1
)`;
  } else {
    data = `data AS (
  SELECT u.bucket, sum(u.n) AS n, NULL::float8[] AS pct, bool_or(u.imported) AS imported FROM (
  SELECT r.bucket, sum(r.event_count) AS n, false AS imported
  FROM ${ROLLUP[interval]} r, b
  WHERE r.event_name = $3::text AND r.bucket >= b.from_ts AND r.bucket < least(b.to_ts, b.raw_from)
  GROUP BY r.bucket
  UNION ALL
  SELECT date_bin(${w}, e.time, ${BUCKET_ORIGIN}), count(*), false
  FROM analytics_events_ts e, b
  WHERE e.event_name = $3::text AND e.time >= greatest(b.from_ts, b.raw_from) AND e.time < b.to_ts
  GROUP BY 1
  UNION ALL
  SELECT bucket, event_count, imported FROM (${importedHourly(w, "i.event_name = $3::text")}) AS i(bucket, event_name, category, event_count, uu, us, imported)
  ) u GROUP BY u.bucket
)`;
  }
  return {
    text: `WITH ${bounds(w, ROLLUP[interval])}, ${dirty(interval)}, ${data}
SELECT ${iso("g.bucket")} AS bucket, coalesce(x.n, 0)::bigint AS event_count,
  ${percentiles ? "to_jsonb(x.pct) AS percentiles," : ""}
  (g.bucket < b.open_bucket AND g.bucket NOT IN (SELECT bucket FROM dirty)) AS complete,
  coalesce(x.imported, false) AS imported
FROM b CROSS JOIN generate_series(b.from_ts, b.to_ts - ${w}, ${w}) AS g(bucket)
LEFT JOIN data x ON x.bucket = g.bucket
ORDER BY g.bucket`,
    values,
  };
}

/** One row of `popularAssetTypesWithOpenDay`; `asset_type` is null in the single row of an empty answer. */
export interface PopularSqlRow {
  clean: boolean;
  asset_type: string | null;
  generation_count: string | number | null;
  unique_creators: string | number | null;
  imported: boolean | null;
}

/**
 * The most generated asset types over the days of [from, to) (aligned to days), with the same
 * meaning as `get_popular_asset_types_ts(from, to, limit)` (generation_count summed, unique_creators
 * summed from each day's distinct creators, ordered by generation_count desc then asset_type), but
 * with the open day (and days the cron has not rolled up yet) aggregated from raw rows in the same
 * statement: in the plain-table tiers the rollup only holds what the cron computed. Always at least
 * one row (see `summary` for `clean`).
 */
export function popularAssetTypesWithOpenDay(from: Date, to: Date, limit: number): SqlStatement {
  const w = WIDTH.day;
  return {
    text: `WITH ${bounds(w, "analytics_asset_popularity_ts")}, ${dirty("day")}, days AS (
  SELECT a.asset_type, a.generation_count, a.unique_creators, false AS imported
  FROM analytics_asset_popularity_ts a, b
  WHERE a.bucket >= b.from_ts AND a.bucket < least(b.to_ts, b.raw_from)
  UNION ALL
  SELECT e.properties ->> 'asset_type', count(*), count(DISTINCT e.user_id), false
  FROM analytics_events_ts e, b
  WHERE e.event_name = 'asset_generated' AND e.properties ->> 'asset_type' IS NOT NULL
    AND e.time >= greatest(b.from_ts, b.raw_from) AND e.time < b.to_ts
  GROUP BY date_bin(${w}, e.time, ${BUCKET_ORIGIN}), e.properties ->> 'asset_type'
  UNION ALL
  SELECT i.asset_type, i.generation_count, i.unique_creators, true
  FROM analytics_imported_asset_popularity i, b
  WHERE i.bucket >= b.from_ts AND i.bucket < b.to_ts
), top AS (
  SELECT asset_type, sum(generation_count)::bigint AS generation_count, sum(unique_creators)::bigint AS unique_creators,
    bool_or(imported) AS imported
  FROM days GROUP BY asset_type
  ORDER BY sum(generation_count) DESC, asset_type COLLATE "C"
  LIMIT $3::integer
)
SELECT (b.to_ts <= b.open_bucket AND NOT EXISTS (SELECT 1 FROM dirty)) AS clean,
  t.asset_type, t.generation_count, t.unique_creators, t.imported
FROM b LEFT JOIN top t ON true
ORDER BY t.generation_count DESC, t.asset_type COLLATE "C"`,
    values: [from.toISOString(), to.toISOString(), limit],
  };
}

/** One row of `checksInRange`. */
export interface CheckSqlRow {
  hour: string;
  scope: string;
  redis_count: string | number | null;
  raw_count: string | number;
  rollup_count: string | number;
  drift: string | number;
  status: "match" | "drift";
  action: string | null;
  checked_at: string;
}

/**
 * The reconciliation rows (`analytics_checks`) of the hours in [from, to), ordered by hour, scope
 * and checked_at; `limit + 1` rows at most, so the caller can tell whether it was truncated.
 */
export function checksInRange(from: Date, to: Date, limit: number): SqlStatement {
  return {
    text: `SELECT ${iso("hour")} AS hour, scope, redis_count, raw_count, rollup_count, drift, status, action,
  ${iso("checked_at")} AS checked_at
FROM analytics_checks
WHERE hour >= $1::timestamptz AND hour < $2::timestamptz
ORDER BY analytics_checks.hour, scope COLLATE "C", analytics_checks.checked_at
LIMIT $3::integer + 1`,
    values: [from.toISOString(), to.toISOString(), limit],
  };
}

/**
 * The same answer as `summary` (without the `clean`/`complete` flags), computed from raw rows
 * alone: the reference the rollup path is measured against (`scripts/measure-summary.ts`), and
 * what the summary would cost without rollups. Rows `{ bucket, event_name, category, event_count,
 * unique_users, unique_sessions }` in the same order.
 */
export function summaryFromRaw(interval: Interval, from: Date, to: Date): SqlStatement {
  const w = WIDTH[interval];
  return {
    text: `SELECT ${iso(`date_bin(${w}, time, ${BUCKET_ORIGIN})`)} AS bucket, event_name, category,
  count(*) AS event_count, count(DISTINCT user_id) AS unique_users, count(DISTINCT session_id) AS unique_sessions
FROM analytics_events_ts
WHERE time >= $1::timestamptz AND time < $2::timestamptz
GROUP BY date_bin(${w}, time, ${BUCKET_ORIGIN}), event_name, category
ORDER BY date_bin(${w}, time, ${BUCKET_ORIGIN}), event_name COLLATE "C", category COLLATE "C"`,
    values: [from.toISOString(), to.toISOString()],
  };
}
