/**
 * GET /series: a gap-filled series for one event name, with an optional trailing moving average
 * and percentiles of a numeric property (from raw rows), in one statement.
 */
import { DAY_MS } from "../time";
import * as z from "../zod";
import { BUCKET_ORIGIN, type SqlStatement } from "../storage/sql";
import { cacheControl } from "./cache";
import { readEndpoint } from "./endpoint";
import { completeFlag, count, importedFlag, intParam, intervalParam, isoTime, nameParam } from "./fields";
import { FROM_HELP, INTERVALS, INTERVAL_MS, TO_HELP, intervalRange, rangeOrThrow, timeParam, type Interval } from "./range";
import { ROLLUP, WIDTH, bounds, dirty, importedHourly, iso, num, type DriverRow, type ReadDatabase } from "./sql";

/** Percentiles read raw rows, so they get the shortest cap, the moving-average lead-in included. */
export const RAW_RANGE_CAP_MS = 7 * DAY_MS;
/** Longest moving-average window, in buckets. */
export const MAX_MOVING_AVERAGE = 168;
/** At most this many percentiles per request. */
export const MAX_PERCENTILES = 10;
/** Up to 10 comma-separated percentiles in [0, 100], e.g. `50,95,99` or `99.9`. */
const PERCENTILE_LIST = /^(100|\d{1,2}(\.\d{1,3})?)(,(100|\d{1,2}(\.\d{1,3})?))*$/;

export const SeriesQuerySchema = z
  .strictObject({
    event_name: nameParam("The event name to chart (summed over its categories). Required."),
    from: timeParam(FROM_HELP),
    to: timeParam(TO_HELP),
    interval: intervalParam,
    moving_average: intParam(
      1,
      MAX_MOVING_AVERAGE,
      "Trailing moving average of event_count over N buckets. Every point averages exactly N buckets: the N-1 buckets before `from` are read too.",
    ).optional(),
    percentiles: z
      .string()
      .regex(PERCENTILE_LIST, { error: "must be comma-separated numbers between 0 and 100, e.g. 50,95,99" })
      .transform((list) => [...new Set(list.split(",").map(Number))])
      .refine((list) => list.length <= MAX_PERCENTILES, { error: `must list at most ${MAX_PERCENTILES} percentiles` })
      .optional()
      .describe(
        "Percentiles (0-100, comma-separated) of the numeric property `property` per bucket, from raw rows: the range (plus moving-average lead-in) must be ≤ 7 days. Non-numeric values are ignored.",
      ),
    property: nameParam("Name of the numeric property (top-level key of `properties`) for `percentiles`.").optional(),
  })
  .superRefine((query, ctx) => {
    if (query.percentiles && !query.property) {
      ctx.addIssue({ code: "custom", path: ["property"], message: "is required with percentiles" });
    }
    if (query.property && !query.percentiles) {
      ctx.addIssue({ code: "custom", path: ["percentiles"], message: "is required with property" });
    }
  });
export type SeriesQuery = z.output<typeof SeriesQuerySchema>;

export const SeriesPointSchema = z
  .object({
    bucket: isoTime("Bucket start"),
    event_count: count("Events in the bucket (0 for an empty bucket)."),
    moving_average: z.number().optional().describe("Mean event_count over this bucket and the N-1 before it (with moving_average=N)."),
    percentiles: z
      .record(z.string(), z.number().nullable())
      .optional()
      .describe("Keyed `p50`, `p99.9`, …; null when the bucket has no numeric value (with percentiles)."),
    complete: completeFlag,
    imported: importedFlag,
  })
  .meta({ id: "SeriesPoint" });
export type SeriesPoint = z.output<typeof SeriesPointSchema>;

export const SeriesResponseSchema = z
  .object({
    event_name: z.string(),
    interval: z.enum(INTERVALS),
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    moving_average: z.number().int().nullable(),
    property: z.string().nullable(),
    percentiles: z.array(z.number()).nullable(),
    complete: z.boolean(),
    points: z.array(SeriesPointSchema).describe("Every bucket of [from, to), gap-filled with zeros."),
  })
  .meta({ id: "SeriesResponse" });
export type SeriesResponse = z.output<typeof SeriesResponseSchema>;

/** One bucket as read: the point's stored figures, before the moving average and percentile keys. */
export type SeriesRow = Pick<SeriesPoint, "bucket" | "event_count" | "complete"> & {
  /** In the order of the requested fractions; null without percentiles or numeric values. */
  percentiles: (number | null)[] | null;
  /** True when imported legacy counts contributed to the bucket. */
  imported: boolean;
};
/** One bucket of `series` as the driver returns it (`percentiles`: `float8[]` as JSON, only with percentiles). */
type SeriesSqlRow = DriverRow<Omit<SeriesRow, "percentiles">> & { percentiles?: SeriesRow["percentiles"] };

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

/**
 * Trailing moving average over `window` values: out[i] = mean(values[i-window+1 .. i]). The first
 * `window - 1` values have no full window; callers pass those lead-in values in front and drop
 * them from the output (`lead` tells how many), so every reported point averages exactly `window`
 * buckets.
 *
 * @example movingAverage([1, 2, 3, 4], 2, 1) // [1.5, 2.5, 3.5]
 */
export function movingAverage(values: readonly number[], window: number, lead: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    if (i >= window) sum -= values[i - window]!;
    if (i >= lead) out.push(sum / Math.min(window, i + 1));
  }
  return out;
}

/** Key of one percentile in a series point: 50 → "p50", 99.9 → "p99.9". */
export const percentileKey = (p: number): string => `p${p}`;

/** One row per bucket of [from, to), gap-filled. */
export async function readSeries(
  db: ReadDatabase,
  interval: Interval,
  from: Date,
  to: Date,
  eventName: string,
  percentiles?: { fractions: readonly number[]; property: string },
): Promise<SeriesRow[]> {
  const result = await db.rows<SeriesSqlRow>(series(interval, from, to, eventName, percentiles));
  return result.map((r) => ({
    bucket: r.bucket,
    event_count: num(r.event_count),
    percentiles: percentiles ? (r.percentiles ?? null) : null,
    complete: r.complete === true,
    imported: r.imported === true,
  }));
}

export const seriesEndpoint = readEndpoint({
  path: "/series",
  summary: "A gap-filled series for one event name, with an optional moving average and percentiles",
  description:
    "Every bucket of [from, to) appears (0 when empty). `moving_average=N`: trailing mean over N buckets, each point over exactly N buckets (the N-1 before `from` are read). `percentiles=50,95,99&property=NAME`: percentile_cont of the JSON-number property per bucket, from raw rows (range incl. lead-in ≤ 7 days).",
  query: SeriesQuerySchema,
  ok: { description: "One point per bucket.", schema: SeriesResponseSchema, cached: true },
  async handle(query, stores, now) {
    const widthMs = INTERVAL_MS[query.interval];
    const window = query.moving_average ?? 1;
    const leadInMs = (window - 1) * widthMs;
    const raw = query.percentiles !== undefined && query.property !== undefined;
    const rule = intervalRange(query.interval);
    const range = rangeOrThrow(query, raw ? { ...rule, maxSpanMs: RAW_RANGE_CAP_MS, leadInMs, capLabel: "percentiles (raw rows)" } : rule, now);
    const readFrom = new Date(range.from.getTime() - leadInMs);
    const rows = await readSeries(
      stores.postgres,
      query.interval,
      readFrom,
      range.to,
      query.event_name,
      raw ? { fractions: query.percentiles!.map((p) => p / 100), property: query.property! } : undefined,
    );
    const lead = rows.length - Math.round((range.to.getTime() - range.from.getTime()) / widthMs);
    const averages = query.moving_average ? movingAverage(rows.map((r) => r.event_count), window, lead) : null;
    const points = rows.slice(lead).map((r, i) => ({
      bucket: r.bucket,
      event_count: r.event_count,
      ...(averages ? { moving_average: averages[i]! } : {}),
      ...(raw
        ? { percentiles: Object.fromEntries(query.percentiles!.map((p, k) => [percentileKey(p), r.percentiles?.[k] ?? null])) }
        : {}),
      complete: r.complete,
      ...(r.imported ? { imported: true as const } : {}),
    }));
    const clean = points.every((p) => p.complete);
    return {
      cacheControl: cacheControl(clean, range, now),
      body: {
        event_name: query.event_name,
        interval: query.interval,
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        moving_average: query.moving_average ?? null,
        property: raw ? query.property! : null,
        percentiles: raw ? query.percentiles! : null,
        complete: clean,
        points,
      },
    };
  },
});
