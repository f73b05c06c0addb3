/**
 * The statements of historical imports (part of the SQL module; `sql.ts` holds the rest): the
 * `POST /api/v1/import` endpoint and the `npm run import` commands both store events through
 * `importEvents*`, and legacy aggregates through `importLegacy*`. Web-standard TypeScript only.
 */
import type { EventRow } from "../domain/event";
import { BUCKET_ORIGIN, DIMENSION_COLUMNS, INSERT_FRESH_ROWS, RAW_ROW_RECORD, type SqlStatement } from "./sql";


/**
 * Before an import statement, in its own statement: creates what the raw rows at `times` need
 * (daily partitions in the `postgres` tier) and returns one row `{ cutoff }`: the oldest time raw
 * retention keeps (ISO text). Events older than it are refused as `too_old`.
 */
export function prepareImport(times: readonly string[]): SqlStatement {
  return {
    text: `SELECT to_char(analytics_prepare_import($1::timestamptz[]) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cutoff`,
    values: [`{${times.join(",")}}`],
  };
}

/** The columns of an imported event, in the order of `json_to_recordset` and of the COPY stage. */
export const IMPORT_COLUMNS = [
  "event_id",
  "time",
  "event_name",
  "category",
  "user_id",
  "session_id",
  "properties",
  "device_info",
  "page_url",
  "referrer",
  "received_at",
  "client_time",
  "skew_ms",
  "flags",
  ...DIMENSION_COLUMNS,
] as const;

/**
 * Inserts imported events exactly once by `event_id`, like `INSERT_EVENTS` (same dedupe table,
 * same single statement), with two differences:
 * - the dedupe row is anchored so that it lives as long as the raw row: the daily cleanup deletes
 *   ids `dedupe_window` after their `received_at`, so an old event's id is stored with
 *   `received_at = greatest(received_at, time + raw_retention − dedupe_window)` and a re-import of
 *   the same file weeks later still finds it;
 * - every closed hour and day it touched is marked dirty, so the hourly job rebuilds those rollups.
 * Counters in Redis are never touched. Returns one row `{ inserted }`.
 */
function importEventsText(input: string): string {
  return `WITH input AS (
  ${input}
), keep AS MATERIALIZED (
  -- Materialised: inlined, the setting lookups would run once per row.
  SELECT analytics_setting('raw_retention') - analytics_setting('dedupe_window') AS span
), fresh AS (
  INSERT INTO analytics_event_ids (event_id, received_at)
  SELECT i.event_id, greatest(i.received_at, i.time + keep.span) FROM input i, keep ORDER BY i.event_id
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
), inserted AS (
  ${INSERT_FRESH_ROWS}
), dirty AS (
  INSERT INTO analytics_dirty_buckets (granularity, bucket)
  SELECT DISTINCT b.granularity, b.bucket
  FROM (SELECT DISTINCT date_bin('1 hour', time, ${BUCKET_ORIGIN}) AS hour FROM inserted) h
  CROSS JOIN LATERAL (VALUES
    ('hour', h.hour),
    ('day', date_bin('1 day', h.hour, ${BUCKET_ORIGIN}))) AS b(granularity, bucket)
  WHERE h.hour < date_bin('1 hour', now(), ${BUCKET_ORIGIN})
  ON CONFLICT (granularity, bucket) DO NOTHING
)
SELECT count(*)::int AS inserted FROM inserted`;
}

/** `importEventsText` over a batch sent as one JSON parameter (the import endpoint). */
export function importEvents(rows: readonly EventRow[]): SqlStatement {
  return {
    text: importEventsText(`SELECT DISTINCT ON (r.event_id) r.*
  FROM ROWS FROM (json_to_recordset($1::json) AS (${RAW_ROW_RECORD})) WITH ORDINALITY AS r
  ORDER BY r.event_id, r.ordinality`),
    values: [JSON.stringify(rows)],
  };
}

/**
 * The file import's first half of `importEvents`, for rows that then go into the raw table by
 * COPY (at COPY speed) in the same transaction: claims the event ids (anchored as in
 * `importEvents`) and returns `{ event_id }` for the ids that were new. Parameters: the ids, the
 * received_at and the event times, as three arrays in the same order.
 */
export function claimImportedIds(rows: readonly Pick<EventRow, "event_id" | "received_at" | "time">[]): SqlStatement {
  return {
    text: `WITH keep AS MATERIALIZED (
  SELECT analytics_setting('raw_retention') - analytics_setting('dedupe_window') AS span
)
INSERT INTO analytics_event_ids (event_id, received_at)
SELECT x.event_id, greatest(x.received_at, x.time + keep.span)
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS x(event_id, received_at, time), keep
ORDER BY x.event_id
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id::text`,
    values: [`{${rows.map((r) => r.event_id).join(",")}}`, `{${rows.map((r) => r.received_at).join(",")}}`, `{${rows.map((r) => r.time).join(",")}}`],
  };
}

/** The raw table's columns, in the order the file import COPYs them. */
export const COPY_EVENTS = `COPY analytics_events_ts (${IMPORT_COLUMNS.join(", ")}) FROM STDIN`;

/**
 * Marks the closed hours (and their days) that received the given event times dirty, so the hourly
 * job rebuilds their rollups (the second half of `importEvents`, after the COPY).
 */
export function markImportedDirty(times: readonly string[]): SqlStatement {
  return {
    text: `INSERT INTO analytics_dirty_buckets (granularity, bucket)
SELECT DISTINCT b.granularity, b.bucket
FROM (SELECT DISTINCT date_bin('1 hour', t, ${BUCKET_ORIGIN}) AS hour FROM unnest($1::timestamptz[]) AS t) h
CROSS JOIN LATERAL (VALUES ('hour', h.hour), ('day', date_bin('1 day', h.hour, ${BUCKET_ORIGIN}))) AS b(granularity, bucket)
WHERE h.hour < date_bin('1 hour', now(), ${BUCKET_ORIGIN})
ON CONFLICT (granularity, bucket) DO NOTHING`,
    values: [`{${[...new Set(times.map((t) => t.slice(0, 13)))].map((h) => `${h}:00:00Z`).join(",")}}`],
  };
}

/** One legacy hourly count, as `importLegacyHourly` takes it. */
export interface LegacyHourlyRow {
  bucket: string;
  event_name: string;
  category: string;
  event_count: number;
  unique_users: number;
}

/** One legacy daily asset-popularity row, as `importLegacyAssetPopularity` takes it. */
export interface LegacyAssetRow {
  bucket: string;
  asset_type: string;
  generation_count: number;
  unique_creators: number;
}

/**
 * Stores legacy hourly counts as imported aggregates, only for hours that have neither raw events
 * nor rollup rows (the periods the new system does not know), each row once (`ON CONFLICT DO
 * NOTHING`: a second run stores nothing). One row `{ stored, covered }`: rows stored, and input
 * rows skipped because the new system has data for their hour.
 */
export function importLegacyHourly(rows: readonly LegacyHourlyRow[], source: string): SqlStatement {
  return {
    text: `WITH input AS (
  SELECT date_bin('1 hour', r.bucket, ${BUCKET_ORIGIN}) AS bucket, r.event_name, r.category,
    sum(r.event_count)::bigint AS event_count, sum(coalesce(r.unique_users, 0))::bigint AS unique_users
  FROM json_to_recordset($1::json) AS r(bucket timestamptz, event_name text, category text, event_count bigint, unique_users bigint)
  GROUP BY 1, 2, 3
), hours AS (
  SELECT DISTINCT bucket FROM input
), covered AS (
  SELECT h.bucket FROM hours h
  WHERE EXISTS (SELECT 1 FROM analytics_events_ts e WHERE e.time >= h.bucket AND e.time < h.bucket + INTERVAL '1 hour')
     OR EXISTS (SELECT 1 FROM analytics_hourly r WHERE r.bucket = h.bucket)
), stored AS (
  INSERT INTO analytics_imported_hourly (bucket, event_name, category, event_count, unique_users, source)
  SELECT i.bucket, i.event_name, i.category, i.event_count, i.unique_users, $2
  FROM input i WHERE i.bucket NOT IN (SELECT bucket FROM covered)
  ON CONFLICT (bucket, event_name, category) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM stored)::int AS stored,
  (SELECT count(*) FROM input WHERE bucket IN (SELECT bucket FROM covered))::int AS covered`,
    values: [JSON.stringify(rows), source],
  };
}

/**
 * Stores legacy daily asset popularity as imported aggregates, only for days without raw events
 * and without daily rollup rows. One row `{ stored, covered }` (see `importLegacyHourly`).
 */
export function importLegacyAssetPopularity(rows: readonly LegacyAssetRow[], source: string): SqlStatement {
  return {
    text: `WITH input AS (
  SELECT date_bin('1 day', r.bucket, ${BUCKET_ORIGIN}) AS bucket, r.asset_type,
    sum(r.generation_count)::bigint AS generation_count, sum(coalesce(r.unique_creators, 0))::bigint AS unique_creators
  FROM json_to_recordset($1::json) AS r(bucket timestamptz, asset_type text, generation_count bigint, unique_creators bigint)
  GROUP BY 1, 2
), days AS (
  SELECT DISTINCT bucket FROM input
), covered AS (
  SELECT d.bucket FROM days d
  WHERE EXISTS (SELECT 1 FROM analytics_events_ts e WHERE e.time >= d.bucket AND e.time < d.bucket + INTERVAL '1 day')
     OR EXISTS (SELECT 1 FROM analytics_daily r WHERE r.bucket = d.bucket)
), stored AS (
  INSERT INTO analytics_imported_asset_popularity (bucket, asset_type, generation_count, unique_creators, source)
  SELECT i.bucket, i.asset_type, i.generation_count, i.unique_creators, $2
  FROM input i WHERE i.bucket NOT IN (SELECT bucket FROM covered)
  ON CONFLICT (bucket, asset_type) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM stored)::int AS stored,
  (SELECT count(*) FROM input WHERE bucket IN (SELECT bucket FROM covered))::int AS covered`,
    values: [JSON.stringify(rows), source],
  };
}

/** Where an earlier import of `source` stopped: rows `{ position, stored, duplicates, rejected, finished }` (none before). */
export function readImportProgress(source: string): SqlStatement {
  return {
    text: `SELECT position::text, stored::text, duplicates::text, rejected::text, finished FROM analytics_import_progress WHERE source = $1`,
    values: [source],
  };
}

/** Records how far an import of `source` got (totals, not increments); run in the chunk's transaction. */
export function saveImportProgress(
  source: string,
  p: { position: number; stored: number; duplicates: number; rejected: number; finished: boolean },
): SqlStatement {
  return {
    text: `INSERT INTO analytics_import_progress AS p (source, position, stored, duplicates, rejected, finished, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position, stored = EXCLUDED.stored,
  duplicates = EXCLUDED.duplicates, rejected = EXCLUDED.rejected, finished = EXCLUDED.finished, updated_at = now()`,
    values: [source, p.position, p.stored, p.duplicates, p.rejected, p.finished],
  };
}

/**
 * Phase 3 comparison, the new side: per (hour, event_name, category) of [from, to), events and
 * distinct users from raw rows plus imported legacy aggregates. Rows `{ hour, event_name,
 * category, event_count, unique_users }` (hour as ISO text, counts as float8).
 */
export function compareNewSide(from: Date, to: Date): SqlStatement {
  return {
    text: `SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS hour, event_name, category,
  sum(event_count)::float8 AS event_count, sum(unique_users)::float8 AS unique_users
FROM (
  SELECT date_bin('1 hour', time, ${BUCKET_ORIGIN}) AS hour, event_name, category, count(*) AS event_count, count(DISTINCT user_id) AS unique_users
  FROM analytics_events_ts WHERE time >= $1::timestamptz AND time < $2::timestamptz
  GROUP BY 1, 2, 3
  UNION ALL
  SELECT bucket, event_name, category, event_count, unique_users
  FROM analytics_imported_hourly WHERE bucket >= $1::timestamptz AND bucket < $2::timestamptz
) x
GROUP BY 1, 2, 3`,
    values: [from.toISOString(), to.toISOString()],
  };
}
