import { errorMessage } from "../error-text";
import { logEvent } from "../log";
import { createServices, type Services } from "../services";
import type { RedisBufferStore } from "../storage/buffer-store";
import type { PostgresCronStore } from "../storage/cron-store";
import type { Tier } from "../storage/tier";
import { countCalls, type Budget, type BudgetLimits } from "./budget";
import { runDaily } from "./daily";
import { drainBuffer } from "./drain";
import { runHourly } from "./hourly";
import type { JobName } from "./triggers";
import { JobRunFailed, runLeased, type Progress, type RunSummary } from "./runner";

interface JobContext {
  buffer: RedisBufferStore;
  store: PostgresCronStore;
  budget: Budget;
  now: Date;
  progress: Progress;
}

interface JobSpec {
  /**
   * Wall time and subrequests per run. The drain runs every minute: it stops starting chunks after
   * 20 s (Workers give sub-hourly crons 30 s of CPU on the paid plan) and stays under the paid
   * plan's 1,000 subrequests. Hourly and daily crons may run up to 15 minutes of wall time.
   */
  limits: BudgetLimits;
  /** Longer than a run can last; short enough that a crashed run blocks at most one next run. */
  leaseSeconds: number;
  run(context: JobContext): Promise<object>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Each job's budget, lease and body, wired to the narrow ports. */
export const JOBS: Record<JobName, JobSpec> = {
  drain: {
    limits: { wallMs: 20_000, subrequests: 900 },
    leaseSeconds: 55,
    run: ({ buffer, store, budget, now, progress }) => drainBuffer({ buffer, events: store, budget, now, progress }),
  },
  hourly: {
    limits: { wallMs: 10 * 60_000, subrequests: 900 },
    leaseSeconds: 14 * 60,
    run: ({ buffer, store, budget, now, progress }) => runHourly({ buffer, counters: buffer, rollups: store, budget, now, sleep, progress }),
  },
  daily: {
    limits: { wallMs: 12 * 60_000, subrequests: 900 },
    leaseSeconds: 14 * 60,
    run: ({ store, budget, now, progress }) => runDaily({ store, budget, now, progress }),
  },
};

const tiers = new WeakMap<Services, Tier>();

/** ANALYTICS_DB_TIER, or the tier the migrations recorded (read once per isolate and env). */
async function resolveTier(services: Services, budget: Budget): Promise<Tier> {
  const forced = services.config.ANALYTICS_DB_TIER;
  if (forced !== "auto") return forced;
  const known = tiers.get(services);
  if (known) return known;
  budget.spend();
  const tier = await services.cron.readTier();
  tiers.set(services, tier);
  return tier;
}

/**
 * Runs one scheduled job against the real services: leased, budgeted, recorded in
 * `analytics_job_runs`, one JSON log line (see `runLeased`). `scheduledTime` is the job's `now`
 * (the hourly job closes the hour before it; the daily job computes retention from it).
 */
export async function runJob(job: JobName, env: Env, scheduledTime: number): Promise<RunSummary> {
  const spec = JOBS[job];
  try {
    const services = createServices(env);
    return await runLeased(
      { job, limits: spec.limits, leaseSeconds: spec.leaseSeconds, runs: services.cron.runs },
      async (budget, progress) => {
        const tier = await resolveTier(services, budget);
        return spec.run({
          buffer: countCalls(services.cron.buffer, budget),
          store: countCalls(services.cron.store(tier), budget),
          budget,
          now: new Date(scheduledTime),
          progress,
        });
      },
    );
  } catch (error) {
    if (!(error instanceof JobRunFailed)) {
      // Failed before a run could be recorded (configuration, PostgreSQL unreachable).
      logEvent("error", "job_run", { job, outcome: "error", error: errorMessage(error) });
    }
    throw error;
  }
}
