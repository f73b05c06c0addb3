import { OpenAPIHono, createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { AppEnv } from "../app";
import {
  BufferResponseSchema,
  ConsistencyQuerySchema,
  ConsistencyResponseSchema,
  EmptyQuerySchema,
  JobsQuerySchema,
  JobsResponseSchema,
  LatencyQuerySchema,
  LatencyResponseSchema,
  MIGRATION_DEFAULT_SPAN_MS,
  MIGRATION_RANGE_CAP_MS,
  MinutesQuerySchema,
  MinutesResponseSchema,
  StorageResponseSchema,
} from "../domain/migration-params";
import { readAuth } from "../read/auth";
import { errorResponse, invalidParameterHook } from "../read/errors";
import { INTERVAL_MS, rangeOrThrow, type Interval, type TimeRange } from "../read/range";
import { MAX_DRIFT_ROWS } from "../storage/migration-store";
import { storageUnavailable, unreachableStore } from "./store-errors";

const json = <T,>(schema: T) => ({ "application/json": { schema } });
const errorResponses = {
  400: errorResponse("A parameter is invalid; the message names it (`invalid_parameter`)."),
  401: errorResponse("Missing or wrong bearer token, or no READ_TOKEN configured."),
  503: errorResponse("Redis or PostgreSQL did not answer (`storage_unavailable`, `details.store`), or misconfigured."),
} as const;

function route<const R extends Omit<RouteConfig, "method" | "middleware" | "security" | "tags">>(config: R) {
  return createRoute({ ...config, method: "get" as const, middleware: readAuth, security: [{ readToken: [] }], tags: ["migration"] });
}

const minutesRoute = route({
  path: "/realtime/minutes",
  summary: "Events per minute over the last minutes, from the Redis minute counters",
  description: "The live panel's series: one point per UTC minute, oldest first, in one Redis request. Never cached.",
  request: { query: MinutesQuerySchema },
  responses: { 200: { description: "One point per minute.", content: json(MinutesResponseSchema) }, ...errorResponses },
});

const latencyRoute = route({
  path: "/migration/latency",
  summary: "Write and read latency measured by the worker: p50/p99 per bucket and metric",
  description:
    "The worker times its own Redis ingest step, its PostgreSQL inserts (request path and drain) and every read endpoint, and writes the measurements inside an insert statement it sends anyway (no extra round trip). Percentiles are over up to 100 sampled durations per minute and isolate; measurements reach the database within seconds of the next insert. One statement; never cached.",
  request: { query: LatencyQuerySchema },
  responses: { 200: { description: "Per metric over the range, and per bucket.", content: json(LatencyResponseSchema) }, ...errorResponses },
});

const consistencyRoute = route({
  path: "/migration/consistency",
  summary: "The hourly reconciliation per checked hour: match, healed or drift, with the drifting rows",
  description: "From the latest check of each (hour, scope) in `analytics_checks`. Hours, ≤ 31 days, default the last 24 h. One statement; never cached.",
  request: { query: ConsistencyQuerySchema },
  responses: { 200: { description: "Checked hours oldest first.", content: json(ConsistencyResponseSchema) }, ...errorResponses },
});

const bufferRoute = route({
  path: "/migration/buffer",
  summary: "Redis write-ahead buffer depth and dead letters",
  description: "One Redis request (XLEN of both streams and the oldest entry). Never cached.",
  request: { query: EmptyQuerySchema },
  responses: { 200: { description: "Buffer figures now.", content: json(BufferResponseSchema) }, ...errorResponses },
});

const storageRoute = route({
  path: "/migration/storage",
  summary: "Storage used per day and the compression ratio (or why there is none on this tier)",
  description: "Raw events per UTC day (partition or chunk, indexes included) and, in the `timescale` tier, compression before/after. One statement; never cached.",
  request: { query: EmptyQuerySchema },
  responses: { 200: { description: "Per day, oldest first.", content: json(StorageResponseSchema) }, ...errorResponses },
});

const jobsRoute = route({
  path: "/migration/jobs",
  summary: "Cron job runs and failures per bucket, with each job's latest run and error",
  description: "From `analytics_job_runs` (kept 30 days). ≤ 31 days, default the last 24 h (hour) or 30 days (day). One statement; never cached.",
  request: { query: JobsQuerySchema },
  responses: { 200: { description: "Per job over the range, and per bucket.", content: json(JobsResponseSchema) }, ...errorResponses },
});

/**
 * The dashboard's extra read routes, mounted at `/api/v1/analytics` beside `read` with the same
 * bearer auth, error shape and one round trip per answer.
 */
export const migration = new OpenAPIHono<AppEnv>({ defaultHook: invalidParameterHook });

/** The range of a migration question in `interval` buckets (≤ 31 days either way). */
function range(input: { from?: string | undefined; to?: string | undefined }, interval: Interval, capLabel: string): TimeRange {
  const rule = { widthMs: INTERVAL_MS[interval], defaultSpanMs: MIGRATION_DEFAULT_SPAN_MS[interval], maxSpanMs: MIGRATION_RANGE_CAP_MS, capLabel };
  return rangeOrThrow(input, rule, new Date());
}

/** Runs one store call; an unreachable store becomes 503 storage_unavailable. */
async function ask<T>(store: "redis" | "postgres", work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (unreachableStore(error) === null) throw error;
    throw storageUnavailable(store, error);
  }
}


migration.openapi(minutesRoute, async (c) => {
  const { minutes } = c.req.valid("query");
  const now = new Date();
  const points = await ask("redis", () => c.var.services.migration.redis.minuteTotals(now, minutes));
  c.header("Cache-Control", "no-store");
  return c.json({ minutes, from: points[0]!.minute, to: now.toISOString(), points }, 200);
});

migration.openapi(latencyRoute, async (c) => {
  const query = c.req.valid("query");
  const r = range(query, query.interval, "migration/latency");
  const rows = await ask("postgres", () => c.var.services.migration.postgres.latency(r.from, r.to, query.interval));
  c.header("Cache-Control", "no-store");
  return c.json(
    {
      interval: query.interval,
      from: r.from.toISOString(),
      to: r.to.toISOString(),
      metrics: rows.filter((p) => p.bucket === null).map(({ metric, count, p50, p99 }) => ({ metric, count, p50, p99 })),
      points: rows.filter((p) => p.bucket !== null).map((p) => ({ ...p, bucket: p.bucket! })),
    },
    200,
  );
});

migration.openapi(consistencyRoute, async (c) => {
  const r = range(c.req.valid("query"), "hour", "migration/consistency");
  const doc = await ask("postgres", () => c.var.services.migration.postgres.consistency(r.from, r.to));
  c.header("Cache-Control", "no-store");
  return c.json(
    {
      from: r.from.toISOString(),
      to: r.to.toISOString(),
      hours: doc.hours.map((h) => ({ ...h, state: h.drifting > 0 ? ("drift" as const) : h.healed > 0 ? ("healed" as const) : ("match" as const) })),
      drifting: doc.drifting.slice(0, MAX_DRIFT_ROWS),
      truncated: doc.drifting.length > MAX_DRIFT_ROWS,
    },
    200,
  );
});

migration.openapi(bufferRoute, async (c) => {
  const stats = await ask("redis", () => c.var.services.migration.redis.bufferStats());
  c.header("Cache-Control", "no-store");
  const age = stats.oldest_ms === null ? 0 : Math.max(0, Math.round((Date.now() - stats.oldest_ms) / 1000));
  return c.json({ pending: stats.pending, dead_letter: stats.dead_letter, oldest_age_seconds: age }, 200);
});

migration.openapi(storageRoute, async (c) => {
  const doc = await ask("postgres", () => c.var.services.migration.postgres.storage());
  c.header("Cache-Control", "no-store");
  const compression = doc.compression
    ? {
        available: true as const,
        compressed_days: Number(doc.compression.chunks),
        before_bytes: Number(doc.compression.before_bytes),
        after_bytes: Number(doc.compression.after_bytes),
        ratio: Number(doc.compression.after_bytes) > 0 ? Math.round((Number(doc.compression.before_bytes) / Number(doc.compression.after_bytes)) * 100) / 100 : null,
      }
    : {
        available: false as const,
        reason:
          doc.tier === "postgres"
            ? "Not available on this tier: plain PostgreSQL has no chunk compression."
            : "Not available on this tier: the Apache edition of TimescaleDB (Neon, Supabase) has no compression.",
      };
  return c.json({ tier: doc.tier, database_bytes: Number(doc.database_bytes), days: doc.days, compression }, 200);
});

migration.openapi(jobsRoute, async (c) => {
  const query = c.req.valid("query");
  const r = range(query, query.interval, "migration/jobs");
  const doc = await ask("postgres", () => c.var.services.migration.postgres.jobs(r.from, r.to, query.interval));
  c.header("Cache-Control", "no-store");
  return c.json({ interval: query.interval, from: r.from.toISOString(), to: r.to.toISOString(), ...doc }, 200);
});
