/**
 * Every SQL statement the worker sends to PostgreSQL, in one place. Nothing else builds SQL
 * strings. Statements take positional parameters (`$1`, …) and are sent as single queries, which is
 * what the Neon HTTP driver runs (`sql.query(text, values)`); each one is its own autocommit
 * transaction unless the caller wraps several in one.
 *
 * The schema behind these statements is in `migrations/`; per-tier differences live there behind
 * the same names (`analytics_refresh_rollups`, `analytics_apply_retention`, …), so most statements
 * here are the same in every tier. Web-standard TypeScript only: this module is bundled into the Worker.
 */
import type { EventRow } from "../domain/event";
import type { Tier } from "./tier";

/** A statement and its parameters, ready for `sql.query(text, values)` or `client.query(text, values)`. */
export interface SqlStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * The tier the migrations chose for this database: one row `{ tier }`, or none before migrations
 * ran.
 * @example const { rows } = await sql.query(READ_TIER) // [{ tier: "timescale" }]
 */
export const READ_TIER = `SELECT value AS tier FROM analytics_meta WHERE key = 'tier'`;

/**
 * What the server offers, for tier detection: `{ timescaledb_version, license }` (see
 * `tierFromProbe`). The license is only defined once TimescaleDB is loaded, hence `missing_ok`.
 */
export const PROBE_TIER = `SELECT
  (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb_version,
  current_setting('timescaledb.license', true) AS license`;

/** The UTC origin every hour and day bucket is aligned to (date_bin, like time_bucket, ignores the session TimeZone). */
const BUCKET_ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;

/**
 * Inserts a batch of events exactly once by `event_id` (DESIGN.md invariant 2), in ONE statement
 * with ONE parameter (the batch as JSON). Returns one row `{ inserted }`: how many events were new.
 *
 * - `input` reads the batch; an event_id repeated inside the batch keeps its first occurrence.
 * - `fresh` claims the event_ids in `analytics_event_ids` (`ON CONFLICT DO NOTHING`), in event_id
 *   order so that two concurrent batches with shared ids take their locks in the same order and
 *   cannot deadlock; only ids it claimed come back.
 * - `inserted` writes the raw rows of the claimed ids. A retry with another `sent_at` (hence
 *   another `time`) is skipped because the id, not the time, is the key.
 * - `late` marks the hour and the day of every inserted event whose hour is already closed in
 *   `analytics_dirty_buckets`, so the hourly cron re-rolls them up.
 *
 * The whole statement succeeds or fails as one: a failure (database down, no partition for a
 * time in the `postgres` tier) leaves no dedupe row behind, so the retried batch is inserted later.
 * Serves both 50-event request batches and multi-thousand-row drain batches.
 * @example await sql.query(INSERT_EVENTS, insertEventsValues(rows)) // [{ inserted: 48 }]
 */
export const INSERT_EVENTS = `WITH input AS (
  SELECT DISTINCT ON (r.event_id) r.*
  FROM ROWS FROM (json_to_recordset($1::json) AS (
    event_id uuid, time timestamptz, event_name text, category text, user_id text, session_id text,
    properties jsonb, device_info jsonb, page_url text, referrer text, received_at timestamptz,
    client_time timestamptz, skew_ms bigint, flags text[]
  )) WITH ORDINALITY AS r
  ORDER BY r.event_id, r.ordinality
), fresh AS (
  INSERT INTO analytics_event_ids (event_id, received_at)
  SELECT event_id, received_at FROM input ORDER BY event_id
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
), inserted AS (
  INSERT INTO analytics_events_ts (time, event_id, event_name, category, user_id, session_id,
    properties, device_info, page_url, referrer, received_at, client_time, skew_ms, flags)
  SELECT i.time, i.event_id, i.event_name, i.category, i.user_id, i.session_id,
    coalesce(i.properties, '{}'), i.device_info, i.page_url, i.referrer, i.received_at,
    i.client_time, coalesce(i.skew_ms, 0), coalesce(i.flags, '{}')
  FROM input i JOIN fresh f ON f.event_id = i.event_id
  RETURNING time
), late AS (
  INSERT INTO analytics_dirty_buckets (granularity, bucket)
  SELECT DISTINCT b.granularity, b.bucket
  FROM inserted
  CROSS JOIN LATERAL (VALUES
    ('hour', date_bin('1 hour', inserted.time, ${BUCKET_ORIGIN})),
    ('day', date_bin('1 day', inserted.time, ${BUCKET_ORIGIN}))) AS b(granularity, bucket)
  WHERE inserted.time < date_bin('1 hour', now(), ${BUCKET_ORIGIN})
  ON CONFLICT (granularity, bucket) DO NOTHING
)
SELECT count(*)::int AS inserted FROM inserted`;

/** The parameters of `INSERT_EVENTS` for a batch. */
export function insertEventsValues(rows: readonly EventRow[]): [string] {
  return [JSON.stringify(rows)];
}

/** `INSERT_EVENTS` with its parameters. */
export function insertEvents(rows: readonly EventRow[]): SqlStatement {
  return { text: INSERT_EVENTS, values: insertEventsValues(rows) };
}

/**
 * Brings `analytics_hourly`, `analytics_daily` and `analytics_asset_popularity_ts` up to date for
 * [from, to), widened to whole buckets. The text is the same in every tier; what it does is not:
 * - `timescale`: refreshes the continuous aggregates. MUST be sent alone, in autocommit (never in
 *   a transaction or batch: `refresh_continuous_aggregate` refuses with 25001). Never
 *   materialises the open hour or day (real-time aggregation serves those).
 * - `timescale-apache`, `postgres`: recomputes the buckets from raw rows and upserts them; may run
 *   in a transaction.
 * In every tier it never recomputes below the oldest raw data still stored, so rollups outlive
 * dropped raw data.
 */
export function refreshRollups(tier: Tier, from: Date, to: Date): SqlStatement & { autocommitOnly: boolean } {
  return {
    text: `CALL analytics_refresh_rollups($1::timestamptz, $2::timestamptz)`,
    values: [from.toISOString(), to.toISOString()],
    autocommitOnly: tier === "timescale",
  };
}

/**
 * Claims up to `limit` dirty buckets (closed hours and days that received late events) by deleting
 * them; returns `{ granularity: 'hour' | 'day', bucket }` rows. Claim first, then refresh: an event
 * inserted after the claim marks its bucket again, so none is missed. In the plain-table tiers run
 * the claim and `refreshRollups` in one transaction; in `timescale` (refresh cannot be in a
 * transaction) re-mark the claimed buckets with `markDirtyBuckets` if the refresh fails.
 */
export function claimDirtyBuckets(limit: number): SqlStatement {
  return {
    text: `WITH c AS (
  SELECT granularity, bucket FROM analytics_dirty_buckets
  ORDER BY bucket LIMIT $1 FOR UPDATE SKIP LOCKED
)
DELETE FROM analytics_dirty_buckets d USING c
WHERE d.granularity = c.granularity AND d.bucket = c.bucket
RETURNING d.granularity, d.bucket`,
    values: [limit],
  };
}

/** Marks buckets dirty again (e.g. after a failed refresh of claimed buckets). */
export function markDirtyBuckets(buckets: readonly { granularity: "hour" | "day"; bucket: string }[]): SqlStatement {
  return {
    text: `INSERT INTO analytics_dirty_buckets (granularity, bucket)
SELECT granularity, bucket FROM json_to_recordset($1::json) AS (granularity text, bucket timestamptz)
ON CONFLICT (granularity, bucket) DO NOTHING`,
    values: [JSON.stringify(buckets)],
  };
}

/**
 * Daily retention, per tier behind one name: drops raw data older than `raw_retention` (chunks in
 * the TimescaleDB tiers, daily partitions in `postgres`) after bringing the rollups up to date over
 * that range, and drops rollup buckets older than their retention. Durations come from
 * `analytics_settings`. Returns one row `{ report }` (jsonb counts). In `timescale` the policies do
 * the same in the background; calling it there too covers a scheduler that does not run.
 * MUST be sent alone in autocommit in the `timescale` tier (it refreshes continuous aggregates).
 */
export function applyRetention(now: Date): SqlStatement {
  return { text: `CALL analytics_apply_retention($1::timestamptz)`, values: [now.toISOString()] };
}

/**
 * Partition upkeep (`postgres` tier only; `null` elsewhere): creates the daily partitions from
 * `now - partitions_behind` to `now + partitions_ahead`. Returns `{ created }`. Also the remedy for
 * an insert that failed with SQLSTATE 23514 (no partition for its time).
 */
export function ensurePartitions(tier: Tier, now: Date): SqlStatement | null {
  if (tier !== "postgres") return null;
  return { text: `SELECT analytics_ensure_partitions($1::timestamptz) AS created`, values: [now.toISOString()] };
}

/** SQLSTATE of an insert whose time has no partition (`postgres` tier): run `ensurePartitions` and retry. */
export const NO_PARTITION_SQLSTATE = "23514";

/**
 * Compresses raw chunks older than `compress_after` (`timescale` tier only; `null` elsewhere): the
 * compression policy's work, for a scheduler that does not run. Returns `{ compressed }`.
 */
export function compressChunks(tier: Tier, now: Date): SqlStatement | null {
  if (tier !== "timescale") return null;
  return { text: `SELECT analytics_compress_chunks($1::timestamptz) AS compressed`, values: [now.toISOString()] };
}

/** Deletes dedupe rows older than `dedupe_window`; the daily cron calls it. Returns `{ deleted }`. */
export function cleanupEventIds(now: Date): SqlStatement {
  return { text: `SELECT analytics_cleanup_event_ids($1::timestamptz) AS deleted`, values: [now.toISOString()] };
}

/**
 * The migration plan's Phase 3 benchmark query, as written: events per name over the last 7 days.
 * Rows `{ event_name, count }` (count is a bigint, returned as a string by most drivers).
 */
export const EVENTS_BY_NAME_LAST_7_DAYS = `SELECT event_name, COUNT(*)
FROM analytics_events_ts
WHERE time > NOW() - INTERVAL '7 days'
GROUP BY event_name`;

/** Most generated asset types over [from, to): rows `{ asset_type, generation_count, unique_creators }`. */
export function popularAssetTypes(from: Date, to: Date, limit: number): SqlStatement {
  return {
    text: `SELECT asset_type, generation_count, unique_creators FROM get_popular_asset_types_ts($1::timestamptz, $2::timestamptz, $3::integer)`,
    values: [from.toISOString(), to.toISOString(), limit],
  };
}

/**
 * Takes the lease on `job` for `holder` until now + `ttlSeconds` if it is free or expired. Returns
 * one row `{ holder }` when taken, none when another holder has it. A lease row, not an advisory
 * lock: over stateless HTTP a session lock ends with its statement.
 */
export function acquireJobLease(job: string, holder: string, ttlSeconds: number): SqlStatement {
  return {
    text: `INSERT INTO analytics_job_leases AS l (job, holder, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3))
ON CONFLICT (job) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder
RETURNING holder`,
    values: [job, holder, ttlSeconds],
  };
}

/** Gives the lease back, only if `holder` still has it. */
export function releaseJobLease(job: string, holder: string): SqlStatement {
  return { text: `DELETE FROM analytics_job_leases WHERE job = $1 AND holder = $2`, values: [job, holder] };
}

/** Records the start of a job run; returns `{ id }`. */
export function startJobRun(job: string): SqlStatement {
  return { text: `INSERT INTO analytics_job_runs (job) VALUES ($1) RETURNING id`, values: [job] };
}

/** Records how a job run ended. */
export function finishJobRun(
  id: string | number,
  outcome: "ok" | "error" | "skipped",
  counts: Record<string, unknown>,
  error: string | null,
): SqlStatement {
  return {
    text: `UPDATE analytics_job_runs SET finished_at = now(), outcome = $2, counts = $3::jsonb, error = $4 WHERE id = $1`,
    values: [id, outcome, JSON.stringify(counts), error],
  };
}

/** One comparison of the hourly reconciliation, as stored in `analytics_checks`. */
export interface CheckRow {
  hour: string;
  scope: string;
  redis_count: number | null;
  raw_count: number;
  rollup_count: number;
  drift: number;
  status: "match" | "drift";
  action: string | null;
}

/** Records a set of comparisons in one statement. */
export function recordChecks(checks: readonly CheckRow[]): SqlStatement {
  return {
    text: `INSERT INTO analytics_checks (hour, scope, redis_count, raw_count, rollup_count, drift, status, action)
SELECT hour, scope, redis_count, raw_count, rollup_count, drift, status, action
FROM json_to_recordset($1::json) AS (hour timestamptz, scope text, redis_count bigint, raw_count bigint,
  rollup_count bigint, drift bigint, status text, action text)`,
    values: [JSON.stringify(checks)],
  };
}

/** The most recent comparisons, newest first. */
export function recentChecks(limit: number): SqlStatement {
  return {
    text: `SELECT hour, scope, redis_count, raw_count, rollup_count, drift, status, action, checked_at
FROM analytics_checks ORDER BY checked_at DESC LIMIT $1`,
    values: [limit],
  };
}
