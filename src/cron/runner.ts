import { Budget, type BudgetLimits } from "./budget";
import type { JobRunStore } from "./ports";

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
  runs: JobRunStore;
  clock?: () => number;
  log?: (line: string) => void;
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

/** Attaches the counts gathered so far to an error, so a failed run still records its progress. */
export function withCounts(error: unknown, counts: object): unknown {
  if (error instanceof Error) return Object.assign(error, { counts });
  return Object.assign(new Error(String(error)), { counts });
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // Never record or log a connection string.
  return text.replace(/postgres(ql)?:\/\/\S+/g, "postgres://…").slice(0, 1_000);
}

/**
 * Runs `work` as one recorded, leased, budgeted job run:
 * - takes the job's lease and inserts its `analytics_job_runs` row in one statement; when another
 *   run holds the lease, records `skipped` and returns without working (overlap-safe);
 * - gives `work` a Budget (wall time, subrequests) that already counts the bookkeeping statements;
 * - records the outcome and counts and releases the lease in one statement, also on failure;
 * - logs one JSON line: `{"job":"drain","outcome":"ok","events":14213,"ms":812,…}`.
 * A failure is thrown (as JobRunFailed) after it is recorded, so the Cron Trigger shows as failed too.
 */
export async function runLeased<C extends object>(options: RunOptions, work: (budget: Budget) => Promise<C>): Promise<RunSummary> {
  const clock = options.clock ?? Date.now;
  const log = options.log ?? ((line: string) => console.log(line));
  const budget = new Budget(options.limits, clock);
  const holder = crypto.randomUUID();

  budget.spend();
  const { runId, acquired } = await options.runs.begin(options.job, holder, options.leaseSeconds);
  if (!acquired) {
    const summary: RunSummary = { job: options.job, outcome: "skipped", reason: "lease held by another run", ms: budget.elapsedMs(), subrequests: budget.subrequests, run_id: runId };
    log(JSON.stringify(summary));
    return summary;
  }

  let counts: object = {};
  let failure: unknown = null;
  try {
    counts = await work(budget);
  } catch (error) {
    failure = error;
    counts = (error as { counts?: object } | null)?.counts ?? {};
  }
  const outcome = failure === null ? "ok" : "error";
  const error = failure === null ? null : errorText(failure);
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
    summary.record_error = errorText(recordError);
  }
  if (failure === null) log(JSON.stringify(summary));
  else console.error(JSON.stringify({ level: "error", ...summary }));
  if (failure !== null) throw new JobRunFailed(summary, failure);
  return summary;
}
