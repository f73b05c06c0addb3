/**
 * GET /migration/jobs: cron job runs and failures per bucket from `analytics_job_runs`, with each
 * job's latest run and latest error, in one statement.
 */
import * as z from "../../zod";
import { BUCKET_ORIGIN, type SqlStatement } from "../../storage/sql";
import { NO_STORE } from "../cache";
import { readEndpoint } from "../endpoint";
import { INTERVALS } from "../range";
import { iso } from "../sql";
import { MIGRATION_ERRORS, WIDTH_SQL, count, intervalParam, isoTime, migrationRange, rangeParams, readDoc } from "./common";

export const JobsQuerySchema = z.strictObject({ ...rangeParams, interval: intervalParam });

export const JobsResponseSchema = z
  .object({
    interval: z.enum(INTERVALS),
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    jobs: z.array(
      z.object({
        job: z.string(),
        runs: count("Runs started in the range."),
        ok: count("Runs that succeeded."),
        errors: count("Runs that failed."),
        skipped: count("Runs that found the lease held by another run."),
        running: count("Runs not finished (or that died without recording their end)."),
        last_run: z.object({ started_at: isoTime("Start"), outcome: z.string(), ms: z.number().nullable() }).nullable(),
        last_error: z.object({ at: isoTime("Start of the failed run"), message: z.string().nullable() }).nullable(),
      }),
    ),
    points: z.array(z.object({ bucket: isoTime("Bucket start"), job: z.string(), runs: count("Runs started."), errors: count("Runs that failed.") })),
  })
  .meta({ id: "JobsResponse" });
export type JobsResponse = z.output<typeof JobsResponseSchema>;

/** The statement's document: the answer's `jobs` and `points`. */
type JobsDoc = Pick<JobsResponse, "jobs" | "points">;

/** Cron runs per (bucket, job) and per job over the range, with each job's latest run and latest error. */
export function jobsStatement(from: Date, to: Date, width: keyof typeof WIDTH_SQL): SqlStatement {
  return {
    text: `WITH r AS (
  SELECT job, date_bin($3::interval, started_at, ${BUCKET_ORIGIN}) AS bucket, outcome, started_at, finished_at, error
  FROM analytics_job_runs WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz
)
SELECT jsonb_build_object(
  'points', coalesce((SELECT jsonb_agg(p ORDER BY p.bucket, p.job) FROM (
      SELECT ${iso("bucket")} AS bucket, job, count(*) AS runs,
        count(*) FILTER (WHERE outcome = 'error') AS errors
      FROM r GROUP BY bucket, job) p), '[]'::jsonb),
  'jobs', coalesce((SELECT jsonb_agg(j ORDER BY j.job) FROM (
      SELECT job, count(*) AS runs,
        count(*) FILTER (WHERE outcome = 'ok') AS ok,
        count(*) FILTER (WHERE outcome = 'error') AS errors,
        count(*) FILTER (WHERE outcome = 'skipped') AS skipped,
        count(*) FILTER (WHERE outcome = 'running') AS running,
        (SELECT jsonb_build_object('started_at', ${iso("x.started_at")}, 'outcome', x.outcome,
            'ms', CASE WHEN x.finished_at IS NULL THEN NULL ELSE round(extract(epoch FROM x.finished_at - x.started_at) * 1000) END)
          FROM r x WHERE x.job = r.job ORDER BY x.started_at DESC LIMIT 1) AS last_run,
        (SELECT jsonb_build_object('at', ${iso("x.started_at")}, 'message', x.error)
          FROM r x WHERE x.job = r.job AND x.outcome = 'error' ORDER BY x.started_at DESC LIMIT 1) AS last_error
      FROM r GROUP BY job) j), '[]'::jsonb)
) AS doc`,
    values: [from.toISOString(), to.toISOString(), WIDTH_SQL[width]],
  };
}

export const jobsEndpoint = readEndpoint({
  path: "/migration/jobs",
  tag: "migration",
  errors: MIGRATION_ERRORS,
  store: "postgres",
  summary: "Cron job runs and failures per bucket, with each job's latest run and error",
  description: "From `analytics_job_runs` (kept 30 days). ≤ 31 days, default the last 24 h (hour) or 30 days (day). One statement; never cached.",
  query: JobsQuerySchema,
  ok: { description: "Per job over the range, and per bucket.", schema: JobsResponseSchema, cached: false },
  async handle(query, stores, now) {
    const r = migrationRange(query, query.interval, "migration/jobs", now);
    const doc = await readDoc<JobsDoc>(stores.postgres, jobsStatement(r.from, r.to, query.interval));
    return { cacheControl: NO_STORE, body: { interval: query.interval, from: r.from.toISOString(), to: r.to.toISOString(), ...doc } };
  },
});
