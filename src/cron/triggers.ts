/**
 * The Cron Triggers and their jobs, as plain data (no runtime imports, so Node-side tests and
 * /health can read it without loading the jobs).
 */

/** The scheduled jobs and how often each runs. /health calls a job stale when it has not succeeded within two of its periods. */
export const JOB_PERIOD_SECONDS = {
  drain: 60,
  hourly: 3_600,
  daily: 86_400,
} as const;

export type JobName = keyof typeof JOB_PERIOD_SECONDS;

export const JOB_NAMES = Object.keys(JOB_PERIOD_SECONDS) as JobName[];

/**
 * The one place that maps each Cron Trigger in wrangler.toml to its job. A test checks that this
 * map and the `crons` list in wrangler.toml name exactly the same expressions.
 */
export const SCHEDULE = {
  "* * * * *": "drain",
  "0 * * * *": "hourly",
  "30 3 * * *": "daily",
} as const satisfies Record<string, JobName>;

/** The job a Cron Trigger expression runs, or null when SCHEDULE does not know it. */
export function jobFor(cron: string): JobName | null {
  return (SCHEDULE as Record<string, JobName>)[cron] ?? null;
}
