import { runJob } from "./jobs";

/**
 * The one place that maps each Cron Trigger in wrangler.toml to its job. A test checks that this
 * map and the `crons` list in wrangler.toml name exactly the same expressions.
 */
export const SCHEDULE = {
  "* * * * *": "drain",
  "0 * * * *": "hourly",
  "30 3 * * *": "daily",
} as const;

export type JobName = (typeof SCHEDULE)[keyof typeof SCHEDULE];

/**
 * Dispatches a Cron Trigger by its expression. An expression that is not in SCHEDULE is logged as
 * an error (a wrangler.toml edit without a matching job must not pass silently).
 */
export async function runScheduled(cron: string, env: Env, scheduledTime: number): Promise<JobName | null> {
  const job = (SCHEDULE as Record<string, JobName>)[cron];
  if (!job) {
    console.error(JSON.stringify({ level: "error", event: "unknown_cron", cron, known: Object.keys(SCHEDULE) }));
    return null;
  }
  await runJob(job, env, scheduledTime);
  return job;
}
