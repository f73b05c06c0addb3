import { Budget, type BudgetLimits } from "./budget";
import { errorMessage } from "../error-text";
import { logEvent } from "../log";
import type { PostgresCronStore } from "../storage/cron-store";

/** What one run ended as; also the JSON log line (minus `level`). */
export interface RunSummary {
  job: string;
  outcome: "ok" | "error" | "skipped";
  ms: number;
  subrequests: number;
  run_id: string | null;
  error?: string;
  [count: string]: unknown;
}

export interface RunOptions {
  job: string;
  limits: BudgetLimits;
  /** Lease length: longer than the job can run, short enough that a crashed run frees it soon. */
  leaseSeconds: number;
  runs: PostgresCronStore;
  clock?: () => number;
}

/** A job run that failed after it was recorded and logged; `cause` is the original error. */
export class JobRunFailed extends Error {
  override readonly name = "JobRunFailed";
  constructor(
    readonly summary: RunSummary,
    cause: unknown,
  ) {
    super(`${summary.job} run ${summary.run_id} failed: ${summary.error ?? "unknown error"}`, { cause });
  }
}

/**
 * How a job hands its counts to the runner while it works: it passes its counts object to `track`
 * once, then updates it in place. The runner records what was tracked when the job fails, so a
 * failed run still shows its progress, and no error carries counts.
 */
export interface Progress {
  track<C extends object>(counts: C): C;
}

/** For a job run outside the runner (unit tests): tracks nothing. */
export const UNTRACKED: Progress = { track: (counts) => counts };

/**
 * Runs `work` as one recorded, leased, budgeted job run:
 * - takes the job's lease and inserts its `analytics_job_runs` row in one statement; when another
 *   run holds the lease, records `skipped` and returns without working (overlap-safe);
 * - gives `work` a Budget (wall time, subrequests) that already counts the bookkeeping statements;
 * - records the outcome and counts and releases the lease in one statement, also on failure;
 * - logs one line through logEvent: `{"level":"info","event":"job_run","job":"drain","outcome":"ok","events":14213,"ms":812,…}`.
 * A failure is thrown (as JobRunFailed) after it is recorded, so the Cron Trigger shows as failed too.
 */
export async function runLeased<C extends object>(options: RunOptions, work: (budget: Budget, progress: Progress) => Promise<C>): Promise<RunSummary> {
  const clock = options.clock ?? Date.now;
  const budget = new Budget(options.limits, clock);
  const holder = crypto.randomUUID();

  budget.spend();
  const { runId, acquired } = await options.runs.begin(options.job, holder, options.leaseSeconds);
  if (!acquired) {
    const summary: RunSummary = { job: options.job, outcome: "skipped", reason: "lease held by another run", ms: budget.elapsedMs(), subrequests: budget.subrequests, run_id: runId };
    logEvent("info", "job_run", summary);
    return summary;
  }

  let counts: object = {};
  const progress: Progress = {
    track: (tracked) => {
      counts = tracked;
      return tracked;
    },
  };
  let failure: unknown = null;
  try {
    counts = await work(budget, progress);
  } catch (error) {
    failure = error;
  }
  const outcome = failure === null ? "ok" : "error";
  const error = failure === null ? null : errorMessage(failure);
  budget.spend();
  const summary: RunSummary = {
    job: options.job,
    outcome,
    ...counts,
    ms: budget.elapsedMs(),
    subrequests: budget.subrequests,
    run_id: runId,
    ...(error ? { error } : {}),
  };
  try {
    await options.runs.end(runId, options.job, holder, outcome, { ...counts, ms: summary.ms, subrequests: summary.subrequests }, error);
  } catch (recordError) {
    // The lease expires on its own; the log line still tells what happened.
    summary.record_error = errorMessage(recordError);
  }
  if (failure !== null) {
    logEvent("error", "job_run", summary);
    throw new JobRunFailed(summary, failure);
  }
  logEvent("info", "job_run", summary);
  return summary;
}
