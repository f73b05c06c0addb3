import { logEvent } from "../log";
import { runJob } from "./jobs";
import { SCHEDULE, jobFor, type JobName } from "./triggers";

export { SCHEDULE, jobFor, type JobName } from "./triggers";

/**
 * Dispatches a Cron Trigger by its expression (the mapping is SCHEDULE in ./triggers.ts). An
 * expression that is not in SCHEDULE is logged as an error (a wrangler.toml edit without a
 * matching job must not pass silently).
 */
export async function runScheduled(cron: string, env: Env, scheduledTime: number): Promise<JobName | null> {
  const job = jobFor(cron);
  if (!job) {
    logEvent("error", "unknown_cron", { cron, known: Object.keys(SCHEDULE) });
    return null;
  }
  await runJob(job, env, scheduledTime);
  return job;
}
