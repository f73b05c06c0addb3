/**
 * What the read API's statements share. Each endpoint (src/read/<endpoint>.ts) holds its own
 * statement and sends exactly ONE, as a single autocommit query over the Neon HTTP driver.
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
import type { Sql } from "../storage/clients";
import { BUCKET_ORIGIN, type SqlStatement } from "../storage/sql";
import type { Interval } from "./range";

/** The read API's PostgreSQL side: one statement in, its rows out. Built once per env (src/services.ts). */
export class ReadDatabase {
  constructor(private readonly sql: Sql) {}

  /** Sends `statement` (one round trip) and returns its rows as the driver gives them. */
  async rows<T>(statement: SqlStatement): Promise<T[]> {
    return (await this.sql.query(statement.text, [...statement.values])) as T[];
  }
}

/**
 * A row of `T` as the driver returns it: bigint columns arrive as strings (counts stay far below
 * 2^53, so `num` turns them back), booleans stay booleans (a literal `true` flag is a boolean
 * column), and no column is optional.
 */
export type DriverRow<T> = { [K in keyof T]-?: Column<Exclude<T[K], undefined>> };
type Column<V> = V extends number ? string | number : V extends boolean ? boolean : V;
/** Every column may be null: the single row of an empty answer (`FROM b LEFT JOIN … ON true`). */
export type OrNull<T> = { [K in keyof T]: T[K] | null };

/** A bigint column as a number (null → 0). */
export const num = (value: string | number | null | undefined): number => Number(value ?? 0);
/** A nullable bigint column as a number or null. */
export const numOrNull = (value: string | number | null | undefined): number | null => (value === null || value === undefined ? null : Number(value));

export const WIDTH: Record<Interval, string> = { hour: `INTERVAL '1 hour'`, day: `INTERVAL '24 hours'` };
export const ROLLUP: Record<Interval, string> = { hour: "analytics_hourly", day: "analytics_daily" };
/** How long after a bucket closes it is still read from raw rows (the cron's grace period). */
const RAW_GRACE = `INTERVAL '1 hour'`;

export const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The bounds CTE `b`: `from_ts`, `to_ts` (from $1, $2), `open_bucket` (start of the current
 * bucket, by the database clock) and `raw_from` (the raw horizon, see the module comment).
 */
export function bounds(width: string, rollup: string): string {
  return `b AS MATERIALIZED (
  SELECT $1::timestamptz AS from_ts, $2::timestamptz AS to_ts,
    date_bin(${width}, now(), ${BUCKET_ORIGIN}) AS open_bucket,
    least(date_bin(${width}, now() - ${RAW_GRACE}, ${BUCKET_ORIGIN}),
          coalesce((SELECT max(bucket) FROM ${rollup}) + ${width}, '-infinity')) AS raw_from
)`;
}

/** The CTE `dirty`: buckets of `granularity` in [from_ts, to_ts) with late events not re-rolled up. */
export function dirty(granularity: Interval): string {
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
export function importedHourly(width: string, nameFilter: string): string {
  return `SELECT date_bin(${width}, i.bucket, ${BUCKET_ORIGIN}) AS bucket, i.event_name, i.category,
         sum(i.event_count) AS event_count, sum(i.unique_users) AS unique_users, sum(i.unique_sessions) AS unique_sessions, true AS imported
  FROM analytics_imported_hourly i, b
  WHERE i.bucket >= b.from_ts AND i.bucket < b.to_ts AND ${nameFilter}
  GROUP BY 1, 2, 3`;
}
