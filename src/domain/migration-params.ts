/**
 * Parameters and answers of the migration-health endpoints (GET /api/v1/analytics/migration/*) and
 * of the per-minute live series (GET /api/v1/analytics/realtime/minutes), as zod schemas: they
 * validate the requests and generate `/openapi.json`, like the read endpoints in src/read/.
 */
import { z } from "../zod";
import { DAY_MS, HOUR_MS } from "../time";
import { MAX_REALTIME_MINUTES } from "../read/realtime";
import { INTERVALS, timeParam as rangeTimeParam } from "../read/range";

/** Latency rows are kept 30 days; every migration range is capped at 31 days of hours or days. */
export const MIGRATION_RANGE_CAP_MS = 31 * DAY_MS;
export const MIGRATION_DEFAULT_SPAN_MS = { hour: 24 * HOUR_MS, day: 30 * DAY_MS } as const;

const TIME_ERROR = "must be an ISO-8601 UTC date-time with a timezone (2026-11-26T07:00:00Z) or a date (2026-11-26, midnight UTC)";
const timeParam = (what: string) => rangeTimeParam(what, TIME_ERROR);

const rangeParams = {
  from: timeParam("Start, inclusive; aligned down to the bucket. Default: 24 h (hour) or 30 days (day) before `to`."),
  to: timeParam("End, exclusive; aligned up to the bucket. Default: the end of the current bucket."),
};

const intervalParam = z
  .enum(INTERVALS, { error: "must be hour or day" })
  .default("hour")
  .describe("Bucket width: `hour` or `day`; the range is at most 31 days either way.");

export const LatencyQuerySchema = z.strictObject({ ...rangeParams, interval: intervalParam });
export const JobsQuerySchema = z.strictObject({ ...rangeParams, interval: intervalParam });
export const ConsistencyQuerySchema = z.strictObject(rangeParams);
export const EmptyQuerySchema = z.strictObject({});
export const MinutesQuerySchema = z.strictObject({
  minutes: z.coerce
    .number({ error: "must be a whole number" })
    .int({ error: "must be a whole number" })
    .min(1, { error: "must be at least 1" })
    .max(MAX_REALTIME_MINUTES, { error: `must be at most ${MAX_REALTIME_MINUTES}` })
    .default(MAX_REALTIME_MINUTES)
    .describe("Minutes ending with the current one (≤ 60: minute counters live 2 h)."),
});

const isoTime = (what: string) => z.string().describe(`${what} (ISO-8601, UTC).`);
const count = (what: string) => z.number().int().min(0).describe(what);
const ms = (what: string) => z.number().nullable().describe(`${what}, milliseconds (null without samples).`);

export const MinutesResponseSchema = z
  .object({
    minutes: z.number().int(),
    from: isoTime("Start of the first minute"),
    to: isoTime("Now"),
    points: z.array(z.object({ minute: isoTime("Minute start"), event_count: count("Events counted in Redis for the minute (by event time).") })),
  })
  .meta({ id: "RealtimeMinutesResponse" });
export type MinutesResponse = z.output<typeof MinutesResponseSchema>;

const latencyFigure = {
  metric: z
    .string()
    .describe("`redis_ingest` (the ingest request's Redis step), `postgres_insert` (a request's own insert), `drain_insert` (a drain statement), or `read:<path>` (a read endpoint, whole request)."),
  count: count("Measurements."),
  p50: ms("Median of the sampled durations"),
  p99: ms("99th percentile of the sampled durations"),
};

export const LatencyResponseSchema = z
  .object({
    interval: z.enum(INTERVALS),
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    metrics: z.array(z.object(latencyFigure)).describe("Each metric over the whole range, by name."),
    points: z.array(z.object({ bucket: isoTime("Bucket start"), ...latencyFigure })).describe("Per bucket and metric; buckets without measurements are absent."),
  })
  .meta({ id: "LatencyResponse" });
export type LatencyResponse = z.output<typeof LatencyResponseSchema>;

export const ConsistencyResponseSchema = z
  .object({
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    hours: z
      .array(
        z.object({
          hour: isoTime("Checked hour"),
          state: z.enum(["match", "healed", "drift"]).describe("`drift` when a scope still drifts, `healed` when every drift had its rollup rebuilt, else `match`."),
          compared: count("Scopes compared (the total plus each event name), from each scope's latest check."),
          matched: count("Scopes whose Redis, raw and rollup counts agreed."),
          healed: count("Scopes that drifted and had their rollup rebuilt from raw rows (action rollup_healed)."),
          drifting: count("Scopes that drifted otherwise (redis_differs, raw_dropped_not_healed, heal_deferred)."),
          checked_at: isoTime("Latest check of the hour"),
        }),
      )
      .describe("One entry per checked hour, oldest first."),
    drifting: z
      .array(
        z.object({
          hour: isoTime("Checked hour"),
          scope: z.string(),
          redis_count: z.number().int().nullable(),
          raw_count: z.number().int(),
          rollup_count: z.number().int(),
          drift: z.number().int(),
          action: z.string().nullable(),
          checked_at: isoTime("When compared"),
        }),
      )
      .describe("The latest check of every drifting (hour, scope), healed ones included; at most 500."),
    truncated: z.boolean().describe("More than 500 drifting rows."),
  })
  .meta({ id: "ConsistencyResponse" });
export type ConsistencyResponse = z.output<typeof ConsistencyResponseSchema>;

export const BufferResponseSchema = z
  .object({
    pending: count("Batches waiting in the Redis write-ahead buffer."),
    dead_letter: count("Entries in the dead-letter stream."),
    oldest_age_seconds: count("Age of the oldest pending batch (0 when empty)."),
  })
  .meta({ id: "BufferResponse" });
export type BufferResponse = z.output<typeof BufferResponseSchema>;

export const StorageResponseSchema = z
  .object({
    tier: z.string().nullable().describe("The storage tier the migrations recorded."),
    database_bytes: count("pg_database_size of the database."),
    days: z
      .array(z.object({ day: z.string().describe("UTC day (YYYY-MM-DD)."), bytes: count("Raw events of the day: table, indexes and TOAST (compressed size when compressed)."), compressed: z.boolean() }))
      .describe("Days up to today, oldest first."),
    compression: z
      .union([
        z.object({
          available: z.literal(true),
          compressed_days: count("Compressed chunks (days)."),
          before_bytes: count("Their size before compression."),
          after_bytes: count("Their size after compression."),
          ratio: z.number().nullable().describe("before / after; null until a chunk is compressed."),
        }),
        z.object({ available: z.literal(false), reason: z.string() }),
      ])
      .describe("Compression figures, or why there are none on this tier."),
  })
  .meta({ id: "StorageResponse" });
export type StorageResponse = z.output<typeof StorageResponseSchema>;

export const JobsResponseSchema = z
  .object({
    interval: z.enum(INTERVALS),
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    jobs: z.array(
      z.object({
        job: z.string(),
        runs: count("Runs started in the range."),
        ok: count("Runs that succeeded."),
        errors: count("Runs that failed."),
        skipped: count("Runs that found the lease held by another run."),
        running: count("Runs not finished (or that died without recording their end)."),
        last_run: z.object({ started_at: isoTime("Start"), outcome: z.string(), ms: z.number().nullable() }).nullable(),
        last_error: z.object({ at: isoTime("Start of the failed run"), message: z.string().nullable() }).nullable(),
      }),
    ),
    points: z.array(z.object({ bucket: isoTime("Bucket start"), job: z.string(), runs: count("Runs started."), errors: count("Runs that failed.") })),
  })
  .meta({ id: "JobsResponse" });
export type JobsResponse = z.output<typeof JobsResponseSchema>;
