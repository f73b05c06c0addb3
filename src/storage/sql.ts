/**
 * The SQL statements of ingestion, the cron jobs and the runner, in one place (the read API's
 * statements, the migration-health ones included, live with their endpoints in src/read/; the
 * import's are in sql-import.ts). Statements take positional parameters (`$1`, …) and are sent
 * as single queries, which is what the Neon HTTP driver runs (`sql.query(text, values)`); each
 * one is its own autocommit transaction unless the caller wraps several in one.
 *
 * The schema behind these statements is in `migrations/`; per-tier differences live there behind
 * the same names (`analytics_refresh_rollups`, `analytics_apply_retention`, …), so most statements
 * here are the same in every tier. Web-standard TypeScript only: this module is bundled into the Worker.
 */
import { DIMENSIONS } from "../domain/dimensions";
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

/** The raw table's dimension columns (migration 0013), in one order for every statement. */
export const DIMENSION_COLUMNS = DIMENSIONS;

/** The UTC origin every hour and day bucket is aligned to (date_bin, like time_bucket, ignores the session TimeZone). */
export const BUCKET_ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;

/** One column of a raw row: how INSERT_EVENTS sends it, how the import reads it, how both store it. */
interface EventColumn {
  /** Column of `analytics_events_ts` (and of the import's CTE `input`), a key of EventRow. */
  readonly name: keyof EventRow & string;
  /** The column's type; also how `json_to_recordset` reads it (the import). */
  readonly type: string;
  /**
   * The element type of INSERT_EVENTS' array parameter when it is not `type` (a `text[]` column is
   * sent as one array literal per row, in a `text[]` parameter, and cast back).
   */
  readonly param?: string;
  /** What is stored when the row lacks the value (a buffered row written by an older worker). */
  readonly otherwise?: string;
  /** The value of a row: text, a number or null (the driver writes the array literal). */
  readonly value: (row: EventRow) => string | number | null;
}

/**
 * `{"a","b"}`: a text[] literal, sent as ONE element of a text[] parameter and cast back in SQL,
 * since PostgreSQL arrays cannot nest rows of different lengths (a `text[][]` must be rectangular).
 */
export function textArrayLiteral(items: readonly string[]): string {
  let out = "{";
  for (let i = 0; i < items.length; i++) out += `${i === 0 ? "" : ","}"${items[i]!.replace(/["\\]/g, "\\$&")}"`;
  return `${out}}`;
}

// Buffered rows are JSON from Redis: a field can be absent, which stores as NULL (or the column's
// `otherwise`), as json_to_recordset did.
const json = (value: unknown): string | null => (value == null ? null : JSON.stringify(value));

/**
 * The columns of a raw row, in parameter order. Adding a column to the raw rows is one line here:
 * INSERT_EVENTS' parameters, the import's record type and the raw-row insert all follow from it.
 */
const EVENT_COLUMNS: readonly EventColumn[] = [
  { name: "event_id", type: "uuid", value: (r) => r.event_id },
  { name: "time", type: "timestamptz", value: (r) => r.time },
  { name: "event_name", type: "text", value: (r) => r.event_name },
  { name: "category", type: "text", value: (r) => r.category },
  { name: "user_id", type: "text", value: (r) => r.user_id },
  { name: "session_id", type: "text", value: (r) => r.session_id },
  { name: "properties", type: "jsonb", otherwise: "'{}'", value: (r) => json(r.properties) },
  { name: "device_info", type: "jsonb", value: (r) => json(r.device_info) },
  { name: "page_url", type: "text", value: (r) => r.page_url },
  { name: "referrer", type: "text", value: (r) => r.referrer },
  { name: "received_at", type: "timestamptz", value: (r) => r.received_at },
  { name: "client_time", type: "timestamptz", value: (r) => r.client_time },
  { name: "skew_ms", type: "bigint", otherwise: "0", value: (r) => r.skew_ms },
  { name: "flags", type: "text[]", param: "text", otherwise: "'{}'", value: (r) => (r.flags == null ? null : textArrayLiteral(r.flags)) },
  // Absent in rows written before they existed (older buffer entries, dead letters): stored as null.
  { name: "visitor_id", type: "text", value: (r) => r.visitor_id ?? null },
  ...DIMENSION_COLUMNS.map((name): EventColumn => ({ name, type: "text", value: (r) => r[name] ?? null })),
];

/**
 * A raw row as `json_to_recordset` reads it from a batch's JSON (the keys of EventRow). A key a
 * row lacks (a buffer entry written before the dimensions existed) reads as null.
 */
export const RAW_ROW_RECORD = EVENT_COLUMNS.map((c) => `${c.name} ${c.type}`).join(", ");

/** The raw-row column names, in parameter order. */
export const EVENT_COLUMN_NAMES: readonly (keyof EventRow & string)[] = EVENT_COLUMNS.map((c) => c.name);
/** The same, as a column list: `time, event_id, …`. */
export const EVENT_ROW_COLUMNS = EVENT_COLUMN_NAMES.join(", ");

/** INSERT_EVENTS' parameters with their types, in order: `$1::uuid[]`, `$2::timestamptz[]`, …. */
export const EVENT_ARRAY_PARAMS: readonly string[] = EVENT_COLUMNS.map((c, i) => `$${i + 1}::${c.param ?? c.type}[]`);

/** Column `c` of the unnested arrays `r`, as its column's type (a `param` array is sent as text). */
const arrayValue = (c: EventColumn): string => (c.param ? `r.${c.name}::${c.type}` : `r.${c.name}`);

/** What is stored for column `c` whose value is the SQL expression `value`: its `otherwise` when null. */
const storedValue = (c: EventColumn, value: string): string => (c.otherwise ? `coalesce(${value}, ${c.otherwise})` : value);

/**
 * The import's raw rows: the rows of CTE `input` whose ids CTE `fresh` just claimed in
 * `analytics_event_ids`, returning their times (INSERT_EVENTS reads its arrays instead).
 */
export const INSERT_FRESH_ROWS = `INSERT INTO analytics_events_ts (${EVENT_ROW_COLUMNS})
  SELECT ${EVENT_COLUMNS.map((c) => storedValue(c, `i.${c.name}`)).join(", ")}
  FROM input i JOIN fresh f ON f.event_id = i.event_id
  RETURNING time`;

/** The batch's rows as `r`, one array parameter per column, with their position `r.ordinality`. */
const EVENT_ARRAYS = `unnest(${EVENT_ARRAY_PARAMS.join(", ")})
    WITH ORDINALITY AS r(${EVENT_ROW_COLUMNS}, ordinality)`;

/**
 * `<the columns> FROM unnest(<one array parameter per column>) WITH ORDINALITY AS r(…)`: the rows
 * of `insertEventsValues(rows)`, in batch order (`r.ordinality`). Also used by the benchmark's bare
 * insert, so that its comparison differs from INSERT_EVENTS only in what the project adds.
 */
export const EVENT_ROWS_UNNEST = `${EVENT_COLUMNS.map((c) => (c.param ? `${arrayValue(c)} AS ${c.name}` : arrayValue(c))).join(", ")}
  FROM ${EVENT_ARRAYS}`;

/** `$n`: the parameter of `INSERT_EVENTS` that carries the named column. */
const eventParam = (name: EventColumn["name"]): string => `$${EVENT_COLUMNS.findIndex((c) => c.name === name) + 1}`;

/**
 * Inserts a batch of events exactly once by `event_id` (docs/ARCHITECTURE.md, invariant 2), in ONE
 * statement with one typed array parameter per column (`unnest($1::uuid[], $2::timestamptz[], …)`:
 * PostgreSQL reads each array with its element type's input function, with no JSON document to
 * walk and no key names repeated per row). Returns one row `{ inserted }`: how many events were new.
 *
 * - `firsts` is the batch's ids with their position: an event_id repeated inside the batch keeps
 *   its first occurrence. Only the two narrow columns are sorted for that, never the whole rows
 *   (at 10,000 rows the rows are ~7 MB: sorting them and keeping them for a second scan spilled to
 *   temporary files).
 * - `fresh` claims those ids in `analytics_event_ids` (`ON CONFLICT DO NOTHING`), in event_id
 *   order so that two concurrent batches with shared ids take their locks in the same order and
 *   cannot deadlock; only ids it claimed come back.
 * - `inserted` writes the raw rows at the positions whose ids were claimed, streamed from the
 *   arrays (a hash of the claimed positions is the only thing held). A retry with another
 *   `sent_at` (hence another `time`) is skipped because the id, not the time, is the key.
 * - `late` marks the hour and the day of every inserted event whose hour is already closed in
 *   `analytics_dirty_buckets`, so the hourly cron re-rolls them up.
 *
 * The whole statement succeeds or fails as one: a failure (database down, no partition for a
 * time in the `postgres` tier) leaves no dedupe row behind, so the retried batch is inserted later.
 * Serves both 50-event request batches and multi-thousand-row drain batches.
 * @example await sql.query(INSERT_EVENTS, insertEventsValues(rows)) // [{ inserted: 48 }]
 */
export const INSERT_EVENTS = `WITH firsts AS (
  SELECT DISTINCT ON (k.event_id) k.event_id, k.received_at, k.ordinality
  FROM unnest(${eventParam("event_id")}::uuid[], ${eventParam("received_at")}::timestamptz[]) WITH ORDINALITY AS k(event_id, received_at, ordinality)
  ORDER BY k.event_id, k.ordinality
), fresh AS (
  INSERT INTO analytics_event_ids (event_id, received_at)
  SELECT event_id, received_at FROM firsts ORDER BY event_id
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
), inserted AS (
  INSERT INTO analytics_events_ts (${EVENT_ROW_COLUMNS})
  SELECT ${EVENT_COLUMNS.map((c) => storedValue(c, arrayValue(c))).join(", ")}
  FROM ${EVENT_ARRAYS}
  WHERE r.ordinality IN (SELECT f.ordinality FROM firsts f JOIN fresh USING (event_id))
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

/** The parameters of `INSERT_EVENTS` for a batch: one array per column, rows in batch order. */
export function insertEventsValues(rows: readonly EventRow[]): Array<Array<string | number | null>> {
  return EVENT_COLUMNS.map((column) => rows.map(column.value));
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
export function refreshRollups(from: Date, to: Date): SqlStatement {
  return {
    text: `CALL analytics_refresh_rollups($1::timestamptz, $2::timestamptz)`,
    values: [from.toISOString(), to.toISOString()],
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

// ---------------------------------------------------------------------------------------------
// Cron jobs (src/cron/): run bookkeeping, reconciliation, healing, maintenance and /health.
// ---------------------------------------------------------------------------------------------

/**
 * Takes the lease on `job` for `holder` until now + `ttlSeconds` if it is free or expired (a lease
 * row, not an advisory lock: over stateless HTTP a session lock ends with its statement) and
 * records the run in the same statement: one row `{ id, acquired }`. When another holder has an unexpired lease the run is
 * recorded as finished with outcome `skipped` and `acquired` is false. One round trip instead of
 * two, on a job that runs every minute.
 */
export function beginJobRun(job: string, holder: string, ttlSeconds: number): SqlStatement {
  return {
    text: `WITH lease AS (
  INSERT INTO analytics_job_leases AS l (job, holder, expires_at)
  VALUES ($1, $2, now() + make_interval(secs => $3))
  ON CONFLICT (job) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
  WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder
  RETURNING holder
), run AS (
  SELECT EXISTS (SELECT 1 FROM lease) AS acquired
)
INSERT INTO analytics_job_runs (job, outcome, finished_at, counts)
SELECT $1,
  CASE WHEN run.acquired THEN 'running' ELSE 'skipped' END,
  CASE WHEN run.acquired THEN NULL ELSE now() END,
  CASE WHEN run.acquired THEN '{}'::jsonb ELSE '{"reason":"lease held by another run"}'::jsonb END
FROM run
RETURNING id::text, outcome = 'running' AS acquired`,
    values: [job, holder, ttlSeconds],
  };
}

/** Records how a run ended and gives the lease back, only if `holder` still has it, in one statement. */
export function endJobRun(
  id: string,
  job: string,
  holder: string,
  outcome: "ok" | "error",
  counts: Record<string, unknown>,
  error: string | null,
): SqlStatement {
  return {
    text: `WITH released AS (
  DELETE FROM analytics_job_leases WHERE job = $2 AND holder = $3
)
UPDATE analytics_job_runs SET finished_at = now(), outcome = $4, counts = $5::jsonb, error = $6
WHERE id = $1::bigint`,
    values: [id, job, holder, outcome, JSON.stringify(counts), error],
  };
}

/**
 * Per closed hour in `hours` (UTC hour starts), per event name: the raw count and the count in
 * `analytics_hourly` (summed over categories). Rows `{ hour, event_name, raw_count, rollup_count,
 * raw_floor }`; a name missing on one side has 0 there. `raw_floor` is `analytics_raw_floor()`:
 * hours below it have no raw data left and must never be healed from raw. Each hour is read as
 * its own index range (a join on the hour list), so a sparse list does not scan the gaps.
 */
export function reconcileCounts(hours: readonly Date[]): SqlStatement {
  return {
    text: `WITH hours AS (
  SELECT DISTINCT unnest($1::timestamptz[]) AS hour
), raw AS (
  SELECT h.hour, e.event_name, count(*) AS n
  FROM hours h
  JOIN analytics_events_ts e ON e.time >= h.hour AND e.time < h.hour + INTERVAL '1 hour'
  GROUP BY 1, 2
), rollup AS (
  SELECT r.bucket AS hour, r.event_name, sum(r.event_count) AS n
  FROM analytics_hourly r
  WHERE r.bucket = ANY ($1::timestamptz[])
  GROUP BY 1, 2
)
SELECT coalesce(raw.hour, rollup.hour) AS hour,
  coalesce(raw.event_name, rollup.event_name) AS event_name,
  coalesce(raw.n, 0)::bigint::text AS raw_count,
  coalesce(rollup.n, 0)::bigint::text AS rollup_count,
  analytics_raw_floor() AS raw_floor
FROM raw FULL JOIN rollup ON raw.hour = rollup.hour AND raw.event_name = rollup.event_name`,
    values: [`{${hours.map((h) => h.toISOString()).join(",")}}`],
  };
}

/**
 * Per closed UTC day in [from, to) that has raw rows or dimension rollup rows, per dimension in
 * `dimensions`: the day's raw row count and the dimension rollup's all-events total (event_name
 * = '', summed over values; a missing value is rolled up as '' so every row counts once per
 * dimension). Rows `{ day, dimension, raw_count, rollup_count, raw_floor }`; `raw_floor` as in
 * `reconcileCounts`. One statement: each day is one index range of the raw table.
 */
export function reconcileDimensionDays(from: Date, to: Date, dimensions: readonly string[]): SqlStatement {
  return {
    text: `WITH days AS (
  SELECT generate_series($1::timestamptz, $2::timestamptz - INTERVAL '1 day', INTERVAL '1 day') AS day
), raw AS (
  SELECT d.day, count(*) AS n
  FROM days d
  JOIN analytics_events_ts e ON e.time >= d.day AND e.time < d.day + INTERVAL '1 day'
  GROUP BY 1
), rollup AS (
  SELECT r.bucket AS day, r.dimension, sum(r.event_count) AS n
  FROM analytics_daily_dimensions r
  WHERE r.event_name = '' AND r.bucket >= $1::timestamptz AND r.bucket < $2::timestamptz
  GROUP BY 1, 2
)
SELECT d.day, x.dimension,
  coalesce(raw.n, 0)::bigint::text AS raw_count,
  coalesce(rollup.n, 0)::bigint::text AS rollup_count,
  analytics_raw_floor() AS raw_floor
FROM days d
CROSS JOIN unnest($3::text[]) AS x(dimension)
LEFT JOIN raw ON raw.day = d.day
LEFT JOIN rollup ON rollup.day = d.day AND rollup.dimension = x.dimension
WHERE raw.n IS NOT NULL OR EXISTS (SELECT 1 FROM rollup r WHERE r.day = d.day)
ORDER BY d.day, x.dimension`,
    values: [from.toISOString(), to.toISOString(), textArrayLiteral(dimensions)],
  };
}

/**
 * Recomputes the dimension rollup of the closed UTC days [from, to) from raw rows (delete and
 * insert in one procedure call): how the hourly job heals a day that disagrees with raw. The
 * caller keeps [from, to) above `analytics_raw_floor()`.
 */
export function refreshDimensionDays(from: Date, to: Date): SqlStatement {
  return {
    text: `CALL analytics_refresh_dimension_days($1::timestamptz, $2::timestamptz)`,
    values: [from.toISOString(), to.toISOString()],
  };
}

/** Rollup views in the `timescale` tier, with their bucket width in hours. */
export const CONTINUOUS_AGGREGATES = [
  { view: "analytics_hourly", hours: 1 },
  { view: "analytics_daily", hours: 24 },
  { view: "analytics_asset_popularity_ts", hours: 24 },
] as const;

/**
 * `timescale` tier: recomputes one continuous aggregate over [from, to) even where no invalidation
 * was logged (`force => true`, TimescaleDB ≥ 2.18), which is what healing a rollup that disagrees
 * with raw needs: a plain refresh only redoes invalidated ranges. [from, to) must be whole closed
 * buckets above `analytics_raw_floor()` (the caller checks). Send alone, in autocommit.
 * `withoutForce` is the fallback for older TimescaleDB (SQLSTATE 42883: no such signature).
 */
export function forceRefreshAggregate(view: string, from: Date, to: Date, withoutForce = false): SqlStatement {
  return {
    text: withoutForce
      ? `CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz)`
      : `CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz, force => true)`,
    values: [view, from.toISOString(), to.toISOString()],
  };
}

/**
 * Plain-table tiers: deletes the rollup rows of [from, to) (hourly) and of the days it meets
 * (daily, asset popularity), never below `analytics_raw_floor()`. Healing runs it and then
 * `refreshRollups` over the same range in ONE transaction, so a group that no longer exists in raw
 * (a phantom row) disappears and readers never see the bucket empty. Returns `{ deleted }`.
 */
export function deleteRollupRange(from: Date, to: Date): SqlStatement {
  return {
    text: `WITH f AS (
  SELECT analytics_raw_floor() AS floor_ts,
    date_bin('1 day', $1::timestamptz, ${BUCKET_ORIGIN}) AS d_from,
    date_bin('1 day', $2::timestamptz - INTERVAL '1 microsecond', ${BUCKET_ORIGIN}) + INTERVAL '1 day' AS d_to
), h AS (
  DELETE FROM analytics_hourly r USING f
  WHERE r.bucket >= $1::timestamptz AND r.bucket < $2::timestamptz AND r.bucket >= f.floor_ts
  RETURNING 1
), d AS (
  DELETE FROM analytics_daily r USING f
  WHERE r.bucket >= f.d_from AND r.bucket < f.d_to AND r.bucket >= f.floor_ts
  RETURNING 1
), a AS (
  DELETE FROM analytics_asset_popularity_ts r USING f
  WHERE r.bucket >= f.d_from AND r.bucket < f.d_to AND r.bucket >= f.floor_ts
  RETURNING 1
)
SELECT ((SELECT count(*) FROM h) + (SELECT count(*) FROM d) + (SELECT count(*) FROM a))::int AS deleted`,
    values: [from.toISOString(), to.toISOString()],
  };
}

/**
 * `timescale` tier: the TimescaleDB background jobs that serve this schema (refresh, compression
 * and retention policies) with their last outcome, from `timescaledb_information.job_stats`, and
 * when the daily cron last ran each in the foreground (`analytics_policy_runs`; job_stats never
 * shows those). Rows `{ job_id, proc_name, relation, schedule_seconds, last_run_status,
 * last_successful_finish, last_foreground_run, total_failures, stale }`; `stale` is true when
 * neither a background success nor a foreground run happened within two of its schedule
 * intervals before `now` (never run counts as stale).
 */
export function policyJobStatus(now: Date): SqlStatement {
  return {
    text: `SELECT j.job_id, j.proc_name, j.hypertable_name AS relation,
  extract(epoch FROM j.schedule_interval)::int AS schedule_seconds,
  s.last_run_status, s.last_successful_finish, p.finished_at AS last_foreground_run,
  coalesce(s.total_failures, 0)::int AS total_failures,
  coalesce(greatest(s.last_successful_finish, p.finished_at) < $1::timestamptz - 2 * j.schedule_interval, true) AS stale
FROM timescaledb_information.jobs j
LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
LEFT JOIN analytics_policy_runs p ON p.job_id = j.job_id
WHERE j.proc_name IN ('policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate')
  AND j.hypertable_name IN ('analytics_events_ts', 'analytics_hourly', 'analytics_daily', 'analytics_asset_popularity_ts')
ORDER BY j.job_id`,
    values: [now.toISOString()],
  };
}

/** Records that the daily cron ran policy job `jobId` in the foreground just now (see policyJobStatus). */
export function recordPolicyRun(jobId: number): SqlStatement {
  return {
    text: `INSERT INTO analytics_policy_runs (job_id, finished_at) VALUES ($1, now())
ON CONFLICT (job_id) DO UPDATE SET finished_at = EXCLUDED.finished_at`,
    values: [jobId],
  };
}

/**
 * Runs one TimescaleDB job in the foreground: the remedy for a policy whose background run did not
 * succeed (background jobs fail on PostgreSQL 15.20; the embedded dev database never runs them).
 * Send alone, in autocommit.
 */
export function runTimescaleJob(jobId: number): SqlStatement {
  return { text: `CALL run_job($1::integer)`, values: [jobId] };
}

/**
 * Deletes job-run history and check rows older than the given instants (the daily cron keeps the
 * two tables bounded). Returns `{ job_runs, checks }`: rows deleted from each.
 */
export function pruneCronHistory(jobRunsBefore: Date, checksBefore: Date): SqlStatement {
  return {
    text: `WITH r AS (
  DELETE FROM analytics_job_runs WHERE started_at < $1::timestamptz AND outcome <> 'running' RETURNING 1
), c AS (
  DELETE FROM analytics_checks WHERE checked_at < $2::timestamptz RETURNING 1
)
SELECT (SELECT count(*) FROM r)::int AS job_runs, (SELECT count(*) FROM c)::int AS checks`,
    values: [jobRunsBefore.toISOString(), checksBefore.toISOString()],
  };
}

/**
 * Everything `/health` reports from PostgreSQL, in ONE statement: the recorded tier, when it was
 * recorded (the migration time, a grace baseline for jobs that never ran yet), the database clock,
 * per job the last successful finish and the last error, and the newest reconciliation run (the
 * rows written by one `recordChecks` share `checked_at`), and the TimescaleDB policy jobs whose
 * last background run failed (`analytics_scheduler_failures()`, empty without TimescaleDB). One row
 * `{ tier, migrated_at, db_now, jobs, checks, scheduler_failures }`; `jobs` is
 * `{ [job]: { last_success, last_error } }` and `checks` is `{ last_hour, checked_at, compared,
 * drift }` (JSON, timestamps as ISO strings).
 */
export function healthStatus(jobs: readonly string[]): SqlStatement {
  return {
    text: `SELECT m.value AS tier, m.updated_at AS migrated_at, now() AS db_now,
  (SELECT json_object_agg(j.job, json_build_object(
      'last_success', (SELECT r.finished_at FROM analytics_job_runs r
                       WHERE r.job = j.job AND r.outcome = 'ok' ORDER BY r.started_at DESC LIMIT 1),
      'last_error', (SELECT json_build_object('at', r.finished_at, 'message', r.error) FROM analytics_job_runs r
                     WHERE r.job = j.job AND r.outcome = 'error' ORDER BY r.started_at DESC LIMIT 1)))
   FROM unnest($1::text[]) AS j(job)) AS jobs,
  (SELECT json_build_object('last_hour', max(c.hour), 'checked_at', max(c.checked_at),
      'compared', count(*), 'drift', count(*) FILTER (WHERE c.status = 'drift'))
   FROM analytics_checks c
   WHERE c.checked_at = (SELECT max(checked_at) FROM analytics_checks)) AS checks,
  analytics_scheduler_failures() AS scheduler_failures
FROM analytics_meta m WHERE m.key = 'tier'`,
    values: [`{${jobs.join(",")}}`],
  };
}

// The read API's statements live with their endpoints, in src/read/.
