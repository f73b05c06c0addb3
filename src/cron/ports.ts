/**
 * The narrow ports the scheduled jobs depend on. Each method is ONE round trip (one Redis request
 * or one PostgreSQL statement, except where noted), so a job can count its subrequests by counting
 * calls (see `countCalls`). Adapters over the real clients: `src/storage/buffer-store.ts` (Redis)
 * and `src/storage/cron-store.ts` (PostgreSQL).
 */
import type { EventRow } from "../domain/event";
import type { CheckRow } from "../storage/sql";

/** One entry of the write-ahead buffer stream, decoded. */
export type BufferEntry =
  | { id: string; rows: EventRow[] }
  /** Not a buffer entry this code can read: `raw` is what the stream held, `error` why it failed. */
  | { id: string; invalid: string; raw: string };

export interface DeadLetter {
  /** The buffer entry it came from. */
  id: string;
  /** A buffer entry (`{"v":1,"rows":[…]}`): the refused row alone, or an unreadable entry as it was. */
  raw: string;
  /** `SQLSTATE: message` from PostgreSQL, or why the entry could not be read. */
  error: string;
  /** PostgreSQL's SQLSTATE, or null when the entry never reached PostgreSQL (unreadable). */
  sqlstate: string | null;
}

/** The Redis side of the drain: the buffer stream and the dead-letter stream. */
export interface BufferPort {
  /** Up to `count` entries in stream order, strictly after `afterId` (from the head when null). */
  read(afterId: string | null, count: number): Promise<BufferEntry[]>;
  /** Deletes stored entries from the buffer. */
  remove(ids: readonly string[]): Promise<void>;
  /** Adds dead letters and deletes the entries they came from out of the buffer, atomically (one MULTI). */
  deadLetter(entries: readonly DeadLetter[]): Promise<void>;
  /** Epoch ms of the oldest pending entry (the millisecond part of its id), or null when empty. */
  oldestPendingMs(): Promise<number | null>;
}

/** The PostgreSQL side of the drain. */
export interface EventSink {
  /** `INSERT_EVENTS`: stores rows exactly once by event_id; resolves to how many were new. */
  insert(rows: readonly EventRow[]): Promise<number>;
  /** Creates missing daily partitions (`postgres` tier; resolves to 0 elsewhere without a round trip). */
  ensurePartitions(now: Date): Promise<number>;
}

/** Redis hour counters, as the ingest script writes them. */
export interface HourCounts {
  total: number;
  /** event_name → count. */
  byEvent: Map<string, number>;
  /**
   * Events counted under the overflow bucket: their names came after the hour's cap of distinct
   * names (REDIS_MAX_EVENT_NAMES_PER_HOUR), so none of them is in `byEvent`. 0 when absent.
   */
  otherEvents?: number;
}

export interface CounterReader {
  /** The counters of each hour (by UTC hour start) that Redis still holds; absent hours are left out. */
  hourCounts(hours: readonly Date[]): Promise<Map<number, HourCounts>>;
}

export interface DirtyBucket {
  granularity: "hour" | "day";
  /** ISO-8601 bucket start. */
  bucket: string;
}

export interface ReconcileRow {
  hour: Date;
  event_name: string;
  raw_count: number;
  rollup_count: number;
  /** `analytics_raw_floor()`: the start of the oldest raw data still stored. */
  raw_floor: Date;
}

/** The PostgreSQL side of the hourly job. */
export interface RollupStore {
  claimDirtyBuckets(limit: number): Promise<DirtyBucket[]>;
  markDirtyBuckets(buckets: readonly DirtyBucket[]): Promise<void>;
  /** `CALL analytics_refresh_rollups(from, to)` (continuous aggregates or upserts, per tier). */
  refreshRollups(from: Date, to: Date): Promise<void>;
  reconcileCounts(hours: readonly Date[]): Promise<ReconcileRow[]>;
  /**
   * Recomputes the rollups of the closed hour [from, to) (and the day containing it, if closed)
   * from raw, even where they look fresh. One round trip in the plain-table tiers (a transaction);
   * in `timescale` one forced refresh per aggregate.
   */
  healHour(from: Date, to: Date, now: Date): Promise<void>;
  recordChecks(checks: readonly CheckRow[]): Promise<void>;
}

export interface PolicyJob {
  job_id: number;
  proc_name: string;
  relation: string;
  last_run_status: string | null;
  stale: boolean;
}

/** The PostgreSQL side of the daily job. */
export interface MaintenanceStore {
  /** Partition upkeep (`postgres` tier); 0 elsewhere without a round trip. */
  ensurePartitions(now: Date): Promise<number>;
  /** `CALL analytics_apply_retention(now)`: the procedure's report. */
  applyRetention(now: Date): Promise<Record<string, number>>;
  /** Compresses chunks past `compress_after` (`timescale` tier); null elsewhere without a round trip. */
  compressChunks(now: Date): Promise<number | null>;
  /** The TimescaleDB policy jobs of this schema (`timescale` tier); null elsewhere without a round trip. */
  policyJobs(now: Date): Promise<PolicyJob[] | null>;
  /** `CALL run_job(id)`, then records the foreground run (analytics_policy_runs). */
  runPolicyJob(jobId: number): Promise<void>;
  cleanupEventIds(now: Date): Promise<number>;
  pruneHistory(jobRunsBefore: Date, checksBefore: Date): Promise<{ job_runs: number; checks: number }>;
}

/** Run bookkeeping: the lease and the `analytics_job_runs` row, in one statement each way. */
export interface JobRunStore {
  begin(job: string, holder: string, ttlSeconds: number): Promise<{ runId: string; acquired: boolean }>;
  end(runId: string, job: string, holder: string, outcome: "ok" | "error", counts: Record<string, unknown>, error: string | null): Promise<void>;
}
