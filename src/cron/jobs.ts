import type { JobName } from "./schedule";

/** Runs one scheduled job. (The drain, hourly and daily jobs land with the cron issue.) */
export async function runJob(job: JobName, _env: Env, scheduledTime: number): Promise<void> {
  console.log(JSON.stringify({ job, scheduled_time: new Date(scheduledTime).toISOString(), outcome: "noop" }));
}
