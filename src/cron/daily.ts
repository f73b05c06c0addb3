import type { Budget } from "./budget";
import type { PostgresCronStore } from "../storage/cron-store";
import { UNTRACKED, type Progress } from "./runner";
import { DAY_MS } from "../time";
import { messageOf } from "../error-text";

export const DAILY_LIMITS = {
  /** `analytics_job_runs` rows are kept this long (the drain alone writes 1,440 a day). */
  jobRunHistoryDays: 30,
  /** `analytics_checks` rows are kept this long. */
  checkHistoryDays: 90,
} as const;

export interface DailyCounts {
  partitions_created: number;
  retention: Record<string, number>;
  compressed_chunks: number | null;
  /** `timescale` tier: policy jobs of this schema, those found stale, those run in the foreground. */
  policy_jobs: number | null;
  policy_jobs_stale: number;
  policy_jobs_run: number;
  /** Policy jobs whose last background run failed (the scheduler is failing; /health says so). */
  policy_jobs_failing_in_background: number;
  compression_policy: boolean | null;
  event_ids_deleted: number;
  job_runs_pruned: number;
  checks_pruned: number;
}

interface Deps {
  store: PostgresCronStore;
  budget: Budget;
  now: Date;
  progress?: Progress;
}

/** Thrown at the end of a daily run that did its work but found something a human must fix. */
export class MaintenanceProblem extends Error {
  override readonly name = "MaintenanceProblem";
}

/**
 * The daily job, in an order that never refreshes over a dropped range:
 * 1. partitions for the coming days (`postgres` tier), before anything can need them;
 * 2. retention: `analytics_apply_retention` brings the rollups up to date over the range it is
 *    about to drop, then drops raw chunks/partitions and expired rollup buckets (rollup refreshes
 *    are clamped to the oldest raw data left, so dropped ranges are never recomputed);
 * 3. compression (`timescale` tier): compresses what the policy should have (counting only the
 *    chunks this run compressed), then runs in the foreground (`CALL run_job`) every policy job
 *    that is due: neither a background success (`job_stats`) nor a foreground run of ours
 *    (recorded in `analytics_policy_runs`, which job_stats never shows) within two of its
 *    intervals — background jobs fail on PostgreSQL 15.20 and never run in the embedded database;
 * 4. dedupe state past the dedupe window, and old run/check history.
 * A missing compression policy is reported as an error after the rest is done.
 */
export async function runDaily({ store, budget, now, progress = UNTRACKED }: Deps): Promise<DailyCounts> {
  const counts: DailyCounts = progress.track({
    partitions_created: await store.ensurePartitions(now),
    retention: await store.applyRetention(now),
    compressed_chunks: await store.compressChunks(now),
    policy_jobs: null,
    policy_jobs_stale: 0,
    policy_jobs_run: 0,
    policy_jobs_failing_in_background: 0,
    compression_policy: null,
    event_ids_deleted: 0,
    job_runs_pruned: 0,
    checks_pruned: 0,
  });

  const jobs = await store.policyJobs(now);
  const problems: string[] = [];
  if (jobs !== null) {
    counts.policy_jobs = jobs.length;
    counts.compression_policy = jobs.some((j) => j.proc_name === "policy_compression" && j.relation === "analytics_events_ts");
    if (!counts.compression_policy) problems.push("no compression policy on analytics_events_ts (run SELECT analytics_apply_policies())");
    counts.policy_jobs_failing_in_background = jobs.filter((j) => j.last_run_status === "Failed").length;
    const stale = jobs.filter((j) => j.stale);
    counts.policy_jobs_stale = stale.length;
    for (const job of stale) {
      if (budget.exhausted(4)) break;
      try {
        await store.runPolicyJob(job.job_id);
        counts.policy_jobs_run += 1;
      } catch (error) {
        problems.push(`run_job(${job.job_id}) ${job.proc_name} on ${job.relation}: ${messageOf(error)}`);
      }
    }
  }

  counts.event_ids_deleted = await store.cleanupEventIds(now);
  const pruned = await store.pruneHistory(
    new Date(now.getTime() - DAILY_LIMITS.jobRunHistoryDays * DAY_MS),
    new Date(now.getTime() - DAILY_LIMITS.checkHistoryDays * DAY_MS),
  );
  counts.job_runs_pruned = pruned.job_runs;
  counts.checks_pruned = pruned.checks;

  if (problems.length > 0) throw new MaintenanceProblem(problems.join("; "));
  return counts;
}
