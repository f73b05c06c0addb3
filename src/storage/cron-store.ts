import type { DimensionDayRow, DirtyBucket, EventSink, PolicyJob, ReconcileRow } from "../cron/ports";
import type { EventRow } from "../domain/event";
import type { Sql } from "./clients";
import { PostgresStore } from "./postgres-store";
import {
  CONTINUOUS_AGGREGATES,
  applyRetention,
  beginJobRun,
  claimDirtyBuckets,
  cleanupEventIds,
  compressChunks,
  deleteRollupRange,
  endJobRun,
  ensurePartitions,
  forceRefreshAggregate,
  healthStatus,
  markDirtyBuckets,
  policyJobStatus,
  pruneCronHistory,
  reconcileCounts,
  reconcileDimensionDays,
  recordChecks,
  refreshDimensionDays,
  recordPolicyRun,
  refreshRollups,
  runTimescaleJob,
  type CheckRow,
  type SqlStatement,
} from "./sql";
import { DatabaseNotMigrated, type Tier } from "./tier";
import { DIMENSIONS } from "../domain/dimensions";
import { HOUR_MS } from "../time";

/** SQLSTATE undefined_function: `refresh_continuous_aggregate(..., force)` before TimescaleDB 2.18. */
const UNDEFINED_FUNCTION = "42883";

/** Timestamps arrive as Date (driver parsers) or text; 'infinity' means no raw data at all. */
function toMs(value: unknown): number {
  // An 'infinity' timestamp may arrive as an Invalid Date from a driver's parser.
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? Infinity : value.getTime();
  if (value === "infinity" || value === Infinity) return Infinity;
  if (value === "-infinity" || value === -Infinity) return -Infinity;
  const ms = Date.parse(String(value));
  return Number.isNaN(ms) ? Infinity : ms;
}

function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const ms = toMs(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** What /health reads from PostgreSQL, in one statement. */
export interface HealthStatus {
  tier: string | null;
  migrated_at: string | null;
  db_now: string | null;
  jobs: Record<string, { last_success: string | null; last_error: { at: string | null; message: string | null } | null }>;
  checks: { last_hour: string | null; checked_at: string | null; compared: number; drift: number };
  /** TimescaleDB policy jobs of this schema whose last background run failed. */
  scheduler_failures: SchedulerFailure[];
}

export interface SchedulerFailure {
  job_id: number;
  proc_name: string;
  relation: string;
  last_run_started_at: string | null;
  total_failures: number;
}

/**
 * PostgreSQL adapter for the cron jobs over the Neon HTTP driver. One method, one round trip
 * (statement or non-interactive transaction), except `healHour` in `timescale` (one forced
 * refresh per aggregate, each alone in autocommit as TimescaleDB requires).
 */
export class PostgresCronStore implements EventSink {
  private readonly events: PostgresStore;

  constructor(
    private readonly sql: Sql,
    private readonly tier: Tier,
  ) {
    this.events = new PostgresStore(sql);
  }

  private async run<R>(statement: SqlStatement): Promise<R[]> {
    return (await this.sql.query(statement.text, [...statement.values])) as R[];
  }

  // Run bookkeeping (the runner): the lease and the `analytics_job_runs` row, one statement each way.
  async begin(job: string, holder: string, ttlSeconds: number) {
    const rows = await this.run<{ id: string; acquired: boolean }>(beginJobRun(job, holder, ttlSeconds));
    const row = rows[0];
    if (!row) throw new Error(`could not record a run of ${job}`);
    return { runId: String(row.id), acquired: row.acquired === true };
  }

  async end(runId: string, job: string, holder: string, outcome: "ok" | "error", counts: Record<string, unknown>, error: string | null) {
    await this.run(endJobRun(runId, job, holder, outcome, counts, error));
  }

  // EventSink (the drain)
  insert(rows: readonly EventRow[]): Promise<number> {
    return this.events.insertEvents(rows);
  }

  async ensurePartitions(now: Date): Promise<number> {
    const statement = ensurePartitions(this.tier, now);
    if (!statement) return 0;
    const rows = await this.run<{ created: number }>(statement);
    return Number(rows[0]?.created ?? 0);
  }

  // The hourly job
  async claimDirtyBuckets(limit: number): Promise<DirtyBucket[]> {
    const rows = await this.run<{ granularity: "hour" | "day"; bucket: unknown }>(claimDirtyBuckets(limit));
    return rows.map((r) => ({ granularity: r.granularity, bucket: iso(r.bucket) ?? String(r.bucket) }));
  }

  async markDirtyBuckets(buckets: readonly DirtyBucket[]): Promise<void> {
    if (buckets.length > 0) await this.run(markDirtyBuckets(buckets));
  }

  /** `CALL analytics_refresh_rollups(from, to)` (continuous aggregates or upserts, per tier). */
  async refreshRollups(from: Date, to: Date): Promise<void> {
    // Sent alone in every tier (autocommit): required in `timescale`, harmless elsewhere.
    await this.run(refreshRollups(from, to));
  }

  async reconcileCounts(hours: readonly Date[]): Promise<ReconcileRow[]> {
    if (hours.length === 0) return [];
    const rows = await this.run<{ hour: unknown; event_name: string; raw_count: string; rollup_count: string; raw_floor: unknown }>(
      reconcileCounts(hours),
    );
    return rows.map((r) => ({
      hour: new Date(toMs(r.hour)),
      event_name: r.event_name,
      raw_count: Number(r.raw_count),
      rollup_count: Number(r.rollup_count),
      raw_floor: new Date(toMs(r.raw_floor)),
    }));
  }

  /** The dimension rollup's all-events total per dimension vs the raw count, per closed day in [from, to) that holds data. */
  async reconcileDimensionDays(from: Date, to: Date): Promise<DimensionDayRow[]> {
    const rows = await this.run<{ day: unknown; dimension: string; raw_count: string; rollup_count: string; raw_floor: unknown }>(
      reconcileDimensionDays(from, to, DIMENSIONS),
    );
    return rows.map((r) => ({
      day: new Date(toMs(r.day)),
      dimension: r.dimension,
      raw_count: Number(r.raw_count),
      rollup_count: Number(r.rollup_count),
      raw_floor: new Date(toMs(r.raw_floor)),
    }));
  }

  /** Recomputes the dimension rollup of the closed days [from, to) from raw (one procedure call, every tier). */
  async healDimensionDays(from: Date, to: Date): Promise<void> {
    await this.run(refreshDimensionDays(from, to));
  }

  /**
   * Recomputes the rollups of the closed hour [from, to) (and the day containing it, if closed)
   * from raw, even where they look fresh. One round trip in the plain-table tiers (a transaction);
   * in `timescale` one forced refresh per aggregate.
   */
  async healHour(from: Date, to: Date, now: Date): Promise<void> {
    if (this.tier !== "timescale") {
      const del = deleteRollupRange(from, to);
      const refresh = refreshRollups(from, to);
      await this.sql.transaction([this.sql.query(del.text, [...del.values]), this.sql.query(refresh.text, [...refresh.values])]);
      return;
    }
    for (const { view, hours } of CONTINUOUS_AGGREGATES) {
      const width = hours * HOUR_MS;
      const start = Math.floor(from.getTime() / width) * width;
      const end = Math.ceil(to.getTime() / width) * width;
      // Never materialise an open bucket: real-time aggregation serves it.
      if (end > now.getTime()) continue;
      await this.forceRefresh(view, new Date(start), new Date(end));
    }
  }

  private async forceRefresh(view: string, from: Date, to: Date): Promise<void> {
    try {
      await this.run(forceRefreshAggregate(view, from, to));
    } catch (error) {
      if ((error as { code?: string }).code !== UNDEFINED_FUNCTION) throw error;
      await this.run(forceRefreshAggregate(view, from, to, true));
    }
  }

  async recordChecks(checks: readonly CheckRow[]): Promise<void> {
    if (checks.length > 0) await this.run(recordChecks(checks));
  }

  // The daily job
  /** `CALL analytics_apply_retention(now)`: the procedure's report. */
  async applyRetention(now: Date): Promise<Record<string, number>> {
    const rows = await this.run<{ report: Record<string, number> | string | null }>(applyRetention(now));
    const report = rows[0]?.report ?? {};
    return typeof report === "string" ? (JSON.parse(report) as Record<string, number>) : report;
  }

  /** Compresses chunks past `compress_after` (`timescale` tier); null elsewhere without a round trip. */
  async compressChunks(now: Date): Promise<number | null> {
    const statement = compressChunks(this.tier, now);
    if (!statement) return null;
    const rows = await this.run<{ compressed: number }>(statement);
    return Number(rows[0]?.compressed ?? 0);
  }

  /** The TimescaleDB policy jobs of this schema (`timescale` tier); null elsewhere without a round trip. */
  async policyJobs(now: Date): Promise<PolicyJob[] | null> {
    if (this.tier !== "timescale") return null;
    const rows = await this.run<PolicyJob>(policyJobStatus(now));
    return rows.map((r) => ({ ...r, job_id: Number(r.job_id) }));
  }

  /** `CALL run_job(id)`, then records the foreground run (analytics_policy_runs). */
  async runPolicyJob(jobId: number): Promise<void> {
    // Two statements: run_job must be sent alone, in autocommit.
    await this.run(runTimescaleJob(jobId));
    await this.run(recordPolicyRun(jobId));
  }

  async cleanupEventIds(now: Date): Promise<number> {
    const rows = await this.run<{ deleted: number | string }>(cleanupEventIds(now));
    return Number(rows[0]?.deleted ?? 0);
  }

  async pruneHistory(jobRunsBefore: Date, checksBefore: Date) {
    const rows = await this.run<{ job_runs: number; checks: number }>(pruneCronHistory(jobRunsBefore, checksBefore));
    return { job_runs: Number(rows[0]?.job_runs ?? 0), checks: Number(rows[0]?.checks ?? 0) };
  }
}

/** /health's one statement: tier, job status and the latest reconciliation. */
export async function readHealthStatus(sql: Sql, jobs: readonly string[]): Promise<HealthStatus> {
  const statement = healthStatus(jobs);
  const rows = (await sql.query(statement.text, [...statement.values])) as Array<{
    tier: string | null;
    migrated_at: unknown;
    db_now: unknown;
    jobs: HealthStatus["jobs"] | null;
    checks: { last_hour: unknown; checked_at: unknown; compared: number; drift: number } | null;
    scheduler_failures: SchedulerFailure[] | string | null;
  }>;
  const row = rows[0];
  if (!row) throw new DatabaseNotMigrated();
  const jobStatus: HealthStatus["jobs"] = {};
  for (const job of jobs) {
    const j = row.jobs?.[job];
    jobStatus[job] = {
      last_success: iso(j?.last_success),
      last_error: j?.last_error ? { at: iso(j.last_error.at), message: j.last_error.message ?? null } : null,
    };
  }
  return {
    tier: row.tier,
    migrated_at: iso(row.migrated_at),
    db_now: iso(row.db_now),
    jobs: jobStatus,
    checks: {
      last_hour: iso(row.checks?.last_hour),
      checked_at: iso(row.checks?.checked_at),
      compared: Number(row.checks?.compared ?? 0),
      drift: Number(row.checks?.drift ?? 0),
    },
    scheduler_failures: typeof row.scheduler_failures === "string" ? (JSON.parse(row.scheduler_failures) as SchedulerFailure[]) : (row.scheduler_failures ?? []),
  };
}
