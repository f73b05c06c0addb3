/**
 * The migration-health questions of the read API (GET /api/v1/analytics/migration/*) and the
 * per-minute live series (GET /api/v1/analytics/realtime/minutes). Like the other read adapters,
 * each method is exactly one round trip: one SQL statement (answered as one JSON document) or one
 * Redis request.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import { RedisBufferStore, type BufferStats } from "./buffer-store";
import type { Sql } from "./clients";
import { MINUTE_TOTALS_SCRIPT } from "./lua/minute-totals";
import { minuteId, redisKeys, type RedisKeys } from "./redis-keys";
import { BUCKET_ORIGIN, type SqlStatement } from "./sql";

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Bucket widths of the migration endpoints, as PostgreSQL intervals. */
export const WIDTH_SQL = { hour: "1 hour", day: "24 hours" } as const;

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

/** At most this many drifting rows are listed. */
export const MAX_DRIFT_ROWS = 500;

/**
 * The hourly reconciliation per checked hour: from each (hour, scope)'s latest check, how many
 * scopes matched, drifted with the rollup healed, or drifted otherwise; and the drifting rows.
 */
export function consistencyStatement(from: Date, to: Date): SqlStatement {
  return {
    text: `WITH latest AS (
  SELECT DISTINCT ON (hour, scope) hour, scope, redis_count, raw_count, rollup_count, drift, status, action, checked_at
  FROM analytics_checks WHERE hour >= $1::timestamptz AND hour < $2::timestamptz
  ORDER BY hour, scope, checked_at DESC
)
SELECT jsonb_build_object(
  'hours', coalesce((SELECT jsonb_agg(h ORDER BY h.hour) FROM (
      SELECT ${iso("hour")} AS hour, count(*) AS compared,
        count(*) FILTER (WHERE status = 'match') AS matched,
        count(*) FILTER (WHERE status = 'drift' AND action = 'rollup_healed') AS healed,
        count(*) FILTER (WHERE status = 'drift' AND action IS DISTINCT FROM 'rollup_healed') AS drifting,
        ${iso("max(checked_at)")} AS checked_at
      FROM latest GROUP BY latest.hour) h), '[]'::jsonb),
  'drifting', coalesce((SELECT jsonb_agg(d ORDER BY d.hour, d.scope) FROM (
      SELECT ${iso("hour")} AS hour, scope, redis_count, raw_count, rollup_count, drift, action, ${iso("checked_at")} AS checked_at
      FROM latest WHERE status = 'drift' ORDER BY latest.hour, scope COLLATE "C" LIMIT ${MAX_DRIFT_ROWS + 1}) d), '[]'::jsonb)
) AS doc`,
    values: [from.toISOString(), to.toISOString()],
  };
}

/** The storage report of the recorded tier (migration 0009), with the tier. */
export const STORAGE_STATEMENT: SqlStatement = {
  text: `SELECT analytics_storage_report() || jsonb_build_object('tier', (SELECT value FROM analytics_meta WHERE key = 'tier')) AS doc`,
  values: [],
};

/** Cron runs per (bucket, job) and per job over the range, with each job's latest run and latest error. */
export function jobsStatement(from: Date, to: Date, width: keyof typeof WIDTH_SQL): SqlStatement {
  return {
    text: `WITH r AS (
  SELECT job, date_bin($3::interval, started_at, ${BUCKET_ORIGIN}) AS bucket, outcome, started_at, finished_at, error
  FROM analytics_job_runs WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz
)
SELECT jsonb_build_object(
  'points', coalesce((SELECT jsonb_agg(p ORDER BY p.bucket, p.job) FROM (
      SELECT ${iso("bucket")} AS bucket, job, count(*) AS runs,
        count(*) FILTER (WHERE outcome = 'error') AS errors
      FROM r GROUP BY bucket, job) p), '[]'::jsonb),
  'jobs', coalesce((SELECT jsonb_agg(j ORDER BY j.job) FROM (
      SELECT job, count(*) AS runs,
        count(*) FILTER (WHERE outcome = 'ok') AS ok,
        count(*) FILTER (WHERE outcome = 'error') AS errors,
        count(*) FILTER (WHERE outcome = 'skipped') AS skipped,
        count(*) FILTER (WHERE outcome = 'running') AS running,
        (SELECT jsonb_build_object('started_at', ${iso("x.started_at")}, 'outcome', x.outcome,
            'ms', CASE WHEN x.finished_at IS NULL THEN NULL ELSE round(extract(epoch FROM x.finished_at - x.started_at) * 1000) END)
          FROM r x WHERE x.job = r.job ORDER BY x.started_at DESC LIMIT 1) AS last_run,
        (SELECT jsonb_build_object('at', ${iso("x.started_at")}, 'message', x.error)
          FROM r x WHERE x.job = r.job AND x.outcome = 'error' ORDER BY x.started_at DESC LIMIT 1) AS last_error
      FROM r GROUP BY job) j), '[]'::jsonb)
) AS doc`,
    values: [from.toISOString(), to.toISOString(), WIDTH_SQL[width]],
  };
}

export interface LatencyPoint {
  bucket: string | null;
  metric: string;
  count: number;
  p50: number | null;
  p99: number | null;
}

export interface ConsistencyDoc {
  hours: Array<{ hour: string; compared: number; matched: number; healed: number; drifting: number; checked_at: string }>;
  drifting: Array<{
    hour: string;
    scope: string;
    redis_count: number | null;
    raw_count: number;
    rollup_count: number;
    drift: number;
    action: string | null;
    checked_at: string;
  }>;
}

export interface StorageDoc {
  tier: string | null;
  database_bytes: number;
  compression: { chunks: number; before_bytes: number; after_bytes: number } | null;
  days: Array<{ day: string; bytes: number; compressed: boolean }>;
}

export interface JobsDoc {
  points: Array<{ bucket: string; job: string; runs: number; errors: number }>;
  jobs: Array<{
    job: string;
    runs: number;
    ok: number;
    errors: number;
    skipped: number;
    running: number;
    last_run: { started_at: string; outcome: string; ms: number | null } | null;
    last_error: { at: string; message: string | null } | null;
  }>;
}

/** The driver may hand jsonb back parsed or as text. */
function parseDoc<T>(value: unknown): T {
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}

/** PostgreSQL side of the migration-health endpoints. */
export class MigrationReadStore {
  constructor(private readonly sql: Sql) {}

  private async doc<T>(statement: SqlStatement): Promise<T> {
    const rows = (await this.sql.query(statement.text, [...statement.values])) as Array<{ doc: unknown }>;
    return parseDoc<T>(rows[0]?.doc);
  }

  latency(from: Date, to: Date, width: keyof typeof WIDTH_SQL): Promise<LatencyPoint[]> {
    return this.doc<LatencyPoint[]>(latencyStatement(from, to, width));
  }

  consistency(from: Date, to: Date): Promise<ConsistencyDoc> {
    return this.doc<ConsistencyDoc>(consistencyStatement(from, to));
  }

  storage(): Promise<StorageDoc> {
    return this.doc<StorageDoc>(STORAGE_STATEMENT);
  }

  jobs(from: Date, to: Date, width: keyof typeof WIDTH_SQL): Promise<JobsDoc> {
    return this.doc<JobsDoc>(jobsStatement(from, to, width));
  }
}

/** Redis side: the per-minute totals of the live panel and the buffer figures. */
export class RedisMigrationStore {
  private readonly keys: RedisKeys;
  private readonly script;
  private readonly buffer: RedisBufferStore;

  constructor(redis: Redis, prefix: string) {
    this.keys = redisKeys(prefix);
    this.script = redis.createScript<number[]>(MINUTE_TOTALS_SCRIPT);
    this.buffer = new RedisBufferStore(redis, prefix);
  }

  /** Events per UTC minute for the `minutes` minutes ending with the one holding `now`, oldest first. */
  async minuteTotals(now: Date, minutes: number): Promise<Array<{ minute: string; event_count: number }>> {
    const current = Math.floor(now.getTime() / 60_000) * 60_000;
    const starts: number[] = [];
    for (let i = minutes - 1; i >= 0; i--) starts.push(current - i * 60_000);
    const totals = await this.script.exec(
      starts.map((ms) => this.keys.minuteCounters(minuteId(new Date(ms)))),
      [],
    );
    return starts.map((ms, i) => ({ minute: new Date(ms).toISOString(), event_count: Number(totals[i] ?? 0) }));
  }

  /** XLEN of the buffer and the dead-letter stream and the oldest pending entry: one pipeline. */
  bufferStats(): Promise<BufferStats> {
    return this.buffer.stats();
  }
}
