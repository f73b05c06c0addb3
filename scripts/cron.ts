/**
 * `npm run cron -- drain | hourly | daily | "<cron expression>"`: runs one Cron Trigger now on the
 * worker of a running `npm run dev` and prints the job's summary, read back from
 * `analytics_job_runs` through the stack's own Neon bridge (the worker's `/__scheduled` answers an
 * empty 200 whatever happened). An expression that no job answers to is reported as such.
 *
 * Exit code: 0 ok or skipped (another run held the lease), 1 the job failed, 2 a usage error, an
 * unknown cron expression, or no `npm run dev` running.
 */
import { neon, neonConfig } from "@neondatabase/serverless";
import { readDevState } from "./lib/dev-state";
import { JOB_NAMES, SCHEDULE, jobFor, type JobName } from "../src/cron/triggers";

interface RunRow {
  id: string;
  job: string;
  outcome: string;
  started_at: string;
  finished_at: string | null;
  counts: Record<string, unknown>;
  error: string | null;
}

function fail(message: string): never {
  console.error(`[cron] ${message}`);
  process.exit(2);
}

const argument = process.argv.slice(2).join(" ").trim();
const expressionOf = Object.fromEntries(Object.entries(SCHEDULE).map(([cron, job]) => [job, cron])) as Record<JobName, string>;
const known = JOB_NAMES.map((job) => `${job} ("${expressionOf[job]}")`).join(", ");
if (!argument) fail(`usage: npm run cron -- <job or cron expression>; jobs: ${known}`);
const isExpression = argument.split(/\s+/).length === 5;
if (!isExpression && !(JOB_NAMES as string[]).includes(argument)) fail(`unknown job "${argument}"; jobs: ${known}`);
const expression = isExpression ? argument : expressionOf[argument as JobName];
const job = jobFor(expression);

const state = readDevState();
if (!state) fail("npm run dev is not running: start it first (this command triggers jobs on its worker).");

neonConfig.fetchEndpoint = state.neonUrl;
const sql = neon(state.databaseUrl);
const latestId = async () => ((await sql`SELECT coalesce(max(id), 0)::text AS id FROM analytics_job_runs`)[0] as { id: string }).id;

const before = await latestId();
const started = Date.now();
const response = await fetch(`${state.baseUrl}/__scheduled?cron=${encodeURIComponent(expression)}`);
const text = await response.text();
if (!response.ok) {
  console.error(`[cron] the worker answered ${response.status} to "${expression}": ${text.slice(0, 500)}`);
  process.exit(1);
}

if (!job) {
  const after = await latestId();
  console.error(
    `[cron] unknown cron expression "${expression}": the worker ran no job for it (it logs unknown_cron; ` +
      `${after === before ? "no run was recorded" : "yet a run was recorded meanwhile"}). Cron Triggers: ${known}.`,
  );
  process.exit(2);
}

// /__scheduled answers once the handler has finished; the run row was written before that.
let run: RunRow | undefined;
for (let attempt = 0; attempt < 50 && !run; attempt++) {
  const rows = (await sql`
    SELECT id::text, job, outcome, started_at, finished_at, counts, error FROM analytics_job_runs
    WHERE job = ${job} AND id > ${before}::bigint ORDER BY id DESC LIMIT 1`) as RunRow[];
  run = rows[0];
  if (!run || run.outcome === "running") {
    run = undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
}
if (!run) {
  console.error(`[cron] ${job}: the worker answered but recorded no finished run within 10 s; see the npm run dev terminal.`);
  process.exit(1);
}
const ms = run.finished_at ? Date.parse(run.finished_at) - Date.parse(run.started_at) : Date.now() - started;
console.log(JSON.stringify({ job: run.job, outcome: run.outcome, run_id: run.id, ms, ...run.counts, error: run.error ?? undefined }));
process.exit(run.outcome === "error" ? 1 : 0);
