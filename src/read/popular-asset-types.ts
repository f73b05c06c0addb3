/**
 * GET /popular-asset-types: the most generated asset types over whole days (what the legacy
 * get_popular_asset_types() answered), from the daily rollup plus raw rows, in one statement.
 */
import { DAY_MS } from "../time";
import * as z from "../zod";
import { BUCKET_ORIGIN, type SqlStatement } from "../storage/sql";
import { cacheControl } from "./cache";
import { readEndpoint } from "./endpoint";
import { count, importedFlag, intParam, isoTime } from "./fields";
import { FROM_HELP, TO_HELP, rangeOrThrow, timeParam, type RangeRule } from "./range";
import { WIDTH, bounds, dirty, num, type DriverRow, type OrNull, type ReadDatabase } from "./sql";

/** Whole days, at most 5 years (the daily rollup's retention), by default the last 7 days. */
export const POPULAR_RANGE: RangeRule = { widthMs: DAY_MS, defaultSpanMs: 7 * DAY_MS, maxSpanMs: 1_827 * DAY_MS, capLabel: "popular-asset-types" };

export const PopularQuerySchema = z.strictObject({
  from: timeParam(`${FROM_HELP.replace("the bucket boundary", "midnight UTC")} Default span: 7 days.`),
  to: timeParam(TO_HELP.replace("the bucket boundary", "midnight UTC").replace("bucket", "day")),
  limit: intParam(1, 100, "How many asset types, most generated first.").default(10),
});
export type PopularQuery = z.output<typeof PopularQuerySchema>;

export const PopularRowSchema = z.object({
  asset_type: z.string(),
  generation_count: count("asset_generated events naming this asset_type."),
  unique_creators: count(
    "Sum over the days of each day's distinct creators (exact for one day; a creator active on k days counts k times), as get_popular_asset_types() answered.",
  ),
  imported: importedFlag,
});
export type PopularRow = z.output<typeof PopularRowSchema>;

export const PopularResponseSchema = z
  .object({
    from: isoTime("Aligned start (midnight), inclusive"),
    to: isoTime("Aligned end (midnight), exclusive"),
    complete: z.boolean().describe("Every day of the range is closed and clean."),
    rows: z.array(PopularRowSchema).describe("Most generated first, then by asset_type."),
  })
  .meta({ id: "PopularAssetTypesResponse" });
export type PopularResponse = z.output<typeof PopularResponseSchema>;

/** One row of `popularAssetTypesWithOpenDay`; `asset_type` is null in the single row of an empty answer. */
type PopularSqlRow = { clean: boolean } & OrNull<DriverRow<PopularRow>>;

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

/** The `limit` most generated asset types of [from, to); `clean` as in `readSummary`. */
export async function readPopularAssetTypes(db: ReadDatabase, from: Date, to: Date, limit: number): Promise<{ clean: boolean; rows: PopularRow[] }> {
  const result = await db.rows<PopularSqlRow>(popularAssetTypesWithOpenDay(from, to, limit));
  const rows = result
    .filter((r) => r.asset_type !== null)
    .map((r) => ({
      asset_type: r.asset_type!,
      generation_count: num(r.generation_count),
      unique_creators: num(r.unique_creators),
      ...(r.imported === true ? { imported: true as const } : {}),
    }));
  return { clean: result[0]?.clean === true, rows };
}

export const popularAssetTypesEndpoint = readEndpoint({
  path: "/popular-asset-types",
  summary: "Most generated asset types (what the legacy get_popular_asset_types() answered)",
  description: "From the daily asset-popularity rollup, with today from raw rows. Range ≤ 5 years, default the last 7 days.",
  query: PopularQuerySchema,
  ok: { description: "Most generated first.", schema: PopularResponseSchema, cached: true },
  async handle(query, stores, now) {
    const range = rangeOrThrow(query, POPULAR_RANGE, now);
    const result = await readPopularAssetTypes(stores.postgres, range.from, range.to, query.limit);
    return {
      cacheControl: cacheControl(result.clean, range, now),
      body: { from: range.from.toISOString(), to: range.to.toISOString(), complete: result.clean, rows: result.rows },
    };
  },
});
