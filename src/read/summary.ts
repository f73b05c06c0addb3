/**
 * GET /summary: events, unique users and unique sessions per bucket, event name and category, from
 * the rollups plus raw rows for the open bucket, in one statement.
 */
import * as z from "../zod";
import { BUCKET_ORIGIN, type SqlStatement } from "../storage/sql";
import { cacheControl } from "./cache";
import { readEndpoint } from "./endpoint";
import { completeFlag, count, importedFlag, intervalParam, isoTime, nameParam } from "./fields";
import { FROM_HELP, INTERVALS, TO_HELP, intervalRange, rangeOrThrow, timeParam, type Interval } from "./range";
import { ROLLUP, WIDTH, bounds, dirty, importedHourly, iso, num, type DriverRow, type OrNull, type ReadDatabase } from "./sql";

/**
 * Rows one `summary` answer may carry. 30 days hourly over a few hundred event names is ~200k rows
 * (~30 MB of JSON): too much for a dashboard and for a Worker's 128 MB. Past it the answer is cut
 * at a bucket boundary and says `truncated: true`; filter by event_name/category or use days.
 */
export const MAX_SUMMARY_ROWS = 10_000;

export const SummaryQuerySchema = z.strictObject({
  from: timeParam(FROM_HELP),
  to: timeParam(TO_HELP),
  interval: intervalParam,
  event_name: nameParam("Only this event name.").optional(),
  category: nameParam("Only this category.").optional(),
});
export type SummaryQuery = z.output<typeof SummaryQuerySchema>;

export const SummaryRowSchema = z
  .object({
    bucket: isoTime("Bucket start"),
    event_name: z.string(),
    category: z.string(),
    event_count: count("Events in the bucket."),
    unique_users: count("Distinct user ids in the bucket (exact; daily counts are per day, not sums of hours)."),
    unique_sessions: count("Distinct session ids in the bucket (exact)."),
    complete: completeFlag,
    imported: importedFlag,
  })
  .meta({ id: "SummaryRow" });
export type SummaryRow = z.output<typeof SummaryRowSchema>;

export const SummaryResponseSchema = z
  .object({
    interval: z.enum(INTERVALS),
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    complete: z.boolean().describe("Every bucket of the range is closed and clean (then the answer carries Cache-Control: private, max-age=…)."),
    truncated: z
      .boolean()
      .describe("More than MAX_SUMMARY_ROWS (10,000) rows matched: `rows` stops at the last whole bucket that fit. Narrow the range, filter, or use interval=day."),
    rows: z.array(SummaryRowSchema).describe("One row per non-empty (bucket, event_name, category), ordered by those."),
  })
  .meta({ id: "SummaryResponse" });
export type SummaryResponse = z.output<typeof SummaryResponseSchema>;

/** One row of `summary`: a SummaryRow as the driver returns it, plus `clean`. */
type SummarySqlRow = { clean: boolean } & OrNull<DriverRow<SummaryRow>>;

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
  // $1/$2 bound the rollup directly as well as through `b`: the planner sees parameter values,
  // not a CTE's columns, and needs them to walk the key in bucket order for `cut`.
  const rollupRows = `FROM ${ROLLUP[interval]} r, b
  WHERE r.bucket >= $1::timestamptz AND r.bucket < $2::timestamptz AND r.bucket < b.raw_from
    AND ($3::text IS NULL OR r.event_name = $3::text) AND ($4::text IS NULL OR r.category = $4::text)`;
  return {
    // `cut`: when the rollup alone has more than maxRows rows in the range, the bucket of its
    // (maxRows + 1)-th row. The answer's first maxRows + 1 rows all lie in buckets up to it (rows
    // are ordered by bucket first, and the other sources only add rows), so nothing past it is
    // read: a 30-day hourly range reads ~10k rollup rows instead of every one (~200k).
    text: `WITH ${bounds(w, ROLLUP[interval])}, ${dirty(interval)}, cut AS MATERIALIZED (
  SELECT r.bucket ${rollupRows}
  ORDER BY r.bucket OFFSET $5::integer LIMIT 1
), cur AS (
  SELECT r.bucket, r.event_name, r.category, r.event_count, r.unique_users, r.unique_sessions
  ${rollupRows}
    AND r.bucket <= coalesce((SELECT bucket FROM cut), 'infinity')
  UNION ALL
  SELECT date_bin(${w}, e.time, ${BUCKET_ORIGIN}), e.event_name, e.category,
         count(*), count(DISTINCT e.user_id), count(DISTINCT e.session_id)
  FROM analytics_events_ts e, b
  WHERE e.time >= greatest(b.from_ts, b.raw_from) AND e.time < b.to_ts
    AND ($3::text IS NULL OR e.event_name = $3::text) AND ($4::text IS NULL OR e.category = $4::text)
    AND NOT EXISTS (SELECT 1 FROM cut)
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

/** Rollup rows for [from, to); `clean` when the whole range is closed and free of dirty buckets. */
export async function readSummary(
  db: ReadDatabase,
  interval: Interval,
  from: Date,
  to: Date,
  filter: { eventName?: string | undefined; category?: string | undefined },
  maxRows: number,
): Promise<{ clean: boolean; truncated: boolean; rows: SummaryRow[] }> {
  const result = await db.rows<SummarySqlRow>(summary(interval, from, to, filter, maxRows));
  const rows: SummaryRow[] = [];
  for (const r of result) {
    if (r.bucket === null) continue;
    rows.push({
      bucket: r.bucket,
      event_name: r.event_name ?? "",
      category: r.category ?? "",
      event_count: num(r.event_count),
      unique_users: num(r.unique_users),
      unique_sessions: num(r.unique_sessions),
      complete: r.complete === true,
      ...(r.imported === true ? { imported: true as const } : {}),
    });
  }
  const truncated = rows.length > maxRows;
  if (truncated) {
    // Cut at a bucket boundary: a partial bucket would read as real (smaller) totals.
    const lastBucket = rows[maxRows]!.bucket;
    while (rows.length > 0 && rows[rows.length - 1]!.bucket === lastBucket) rows.pop();
  }
  return { clean: result[0]?.clean === true, truncated, rows };
}

export const summaryEndpoint = readEndpoint({
  path: "/summary",
  summary: "Events, unique users and unique sessions per bucket, event name and category",
  description:
    "Closed buckets from the rollups; the open bucket (and one that closed less than an hour ago) from raw rows in the same statement. Daily unique counts are counted per day, never summed from hours. Empty groups are omitted (see /series for a gap-filled series).",
  query: SummaryQuerySchema,
  ok: { description: "Rows ordered by bucket, event_name, category.", schema: SummaryResponseSchema, cached: true },
  async handle(query, stores, now) {
    const range = rangeOrThrow(query, intervalRange(query.interval), now);
    const filter = { eventName: query.event_name, category: query.category };
    const result = await readSummary(stores.postgres, query.interval, range.from, range.to, filter, MAX_SUMMARY_ROWS);
    return {
      cacheControl: cacheControl(result.clean, range, now),
      body: {
        interval: query.interval,
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        complete: result.clean,
        truncated: result.truncated,
        rows: result.rows,
      },
    };
  },
});
