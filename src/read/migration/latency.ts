/**
 * GET /migration/latency: write and read latency measured by the worker itself (src/metrics), p50
 * and p99 per bucket and metric and over the whole range, in one statement.
 */
import * as z from "../../zod";
import { BUCKET_ORIGIN, type SqlStatement } from "../../storage/sql";
import { NO_STORE } from "../cache";
import { readEndpoint } from "../endpoint";
import { INTERVALS } from "../range";
import { iso } from "../sql";
import { MIGRATION_ERRORS, WIDTH_SQL, count, intervalParam, isoTime, migrationRange, ms, rangeParams, readDoc } from "./common";

export const LatencyQuerySchema = z.strictObject({ ...rangeParams, interval: intervalParam });

const latencyFigure = {
  metric: z
    .string()
    .describe("`redis_ingest` (the ingest request's Redis step), `postgres_insert` (a request's own insert), `drain_insert` (a drain statement), or `read:<path>` (a read endpoint, whole request)."),
  count: count("Measurements."),
  p50: ms("Median of the sampled durations"),
  p99: ms("99th percentile of the sampled durations"),
};
const LatencyFigureSchema = z.object(latencyFigure);

export const LatencyResponseSchema = z
  .object({
    interval: z.enum(INTERVALS),
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    metrics: z.array(LatencyFigureSchema).describe("Each metric over the whole range, by name."),
    points: z.array(z.object({ bucket: isoTime("Bucket start"), ...latencyFigure })).describe("Per bucket and metric; buckets without measurements are absent."),
  })
  .meta({ id: "LatencyResponse" });
export type LatencyResponse = z.output<typeof LatencyResponseSchema>;

/** One element of the statement's document: a figure per (bucket, metric), or per metric when `bucket` is null. */
type LatencyRow = z.output<typeof LatencyFigureSchema> & { bucket: string | null };

/**
 * p50 and p99 of the sampled durations of `analytics_latency` per (bucket, metric) and per metric
 * over the whole range (rows with a null bucket), with the number of measurements. One JSON array.
 */
export function latencyStatement(from: Date, to: Date, width: keyof typeof WIDTH_SQL): SqlStatement {
  return {
    text: `WITH r AS (
  SELECT date_bin($3::interval, l.minute, ${BUCKET_ORIGIN}) AS bucket, l.metric, l.count, l.samples
  FROM analytics_latency l WHERE l.minute >= $1::timestamptz AND l.minute < $2::timestamptz
), counts AS (
  SELECT bucket, metric, sum(count)::bigint AS n FROM r GROUP BY GROUPING SETS ((bucket, metric), (metric))
), pct AS (
  SELECT r.bucket, r.metric, percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY s.v) AS p
  FROM r CROSS JOIN LATERAL unnest(r.samples) AS s(v)
  GROUP BY GROUPING SETS ((r.bucket, r.metric), (r.metric))
)
SELECT coalesce(jsonb_agg(jsonb_build_object(
    'bucket', CASE WHEN c.bucket IS NULL THEN NULL ELSE ${iso("c.bucket")} END, 'metric', c.metric, 'count', c.n,
    'p50', round(p.p[1]::numeric, 2), 'p99', round(p.p[2]::numeric, 2))
  ORDER BY c.bucket NULLS FIRST, c.metric COLLATE "C"), '[]'::jsonb) AS doc
FROM counts c JOIN pct p ON p.metric = c.metric AND p.bucket IS NOT DISTINCT FROM c.bucket`,
    values: [from.toISOString(), to.toISOString(), WIDTH_SQL[width]],
  };
}

export const latencyEndpoint = readEndpoint({
  path: "/migration/latency",
  tag: "migration",
  errors: MIGRATION_ERRORS,
  store: "postgres",
  summary: "Write and read latency measured by the worker: p50/p99 per bucket and metric",
  description:
    "The worker times its own Redis ingest step, its PostgreSQL inserts (request path and drain) and every read endpoint, and writes the measurements inside an insert statement it sends anyway (no extra round trip). Percentiles are over up to 100 sampled durations per minute and isolate; measurements reach the database within seconds of the next insert. One statement; never cached.",
  query: LatencyQuerySchema,
  ok: { description: "Per metric over the range, and per bucket.", schema: LatencyResponseSchema, cached: false },
  async handle(query, stores, now) {
    const r = migrationRange(query, query.interval, "migration/latency", now);
    const rows = await readDoc<LatencyRow[]>(stores.postgres, latencyStatement(r.from, r.to, query.interval));
    return {
      cacheControl: NO_STORE,
      body: {
        interval: query.interval,
        from: r.from.toISOString(),
        to: r.to.toISOString(),
        metrics: rows.filter((p) => p.bucket === null).map(({ metric, count, p50, p99 }) => ({ metric, count, p50, p99 })),
        points: rows.filter((p) => p.bucket !== null).map((p) => ({ ...p, bucket: p.bucket! })),
      },
    };
  },
});
