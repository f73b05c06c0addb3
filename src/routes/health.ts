import { Hono } from "hono";
import type { AppEnv } from "../app";
import { problemFor } from "../config";
import { carriesReadToken } from "../read/auth";
import { errorSummary } from "../error-text";
import { JOB_PERIOD_SECONDS, type JobName } from "../cron/triggers";
import type { PostgresStatus } from "../services";
import type { BufferStats } from "../storage/buffer-store";

/** Longest a probe may take: /health must answer well within 5 s even when a server hangs. */
export const PROBE_TIMEOUT_MS = 2_000;

/** The buffer is lagging (status `degraded`) when its oldest entry has waited longer than this. */
export const BUFFER_MAX_AGE_SECONDS = 5 * 60;

/** A job is stale (status `degraded`) when it has not succeeded within this many of its periods. */
export const JOB_STALE_PERIODS = 2;

export interface ProbeResult {
  ok: boolean;
  latency_ms: number;
  error?: string;
}

async function probe<T>(run: () => Promise<T>): Promise<ProbeResult & { value?: T }> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | null = null;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    });
    const value = await Promise.race([run(), timeout]);
    return { ok: true, latency_ms: Math.round(performance.now() - started), value };
  } catch (error) {
    return { ok: false, latency_ms: Math.round(performance.now() - started), error: errorSummary(error) };
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/**
 * What the cron side adds to /health, and the problems that make the status `degraded`:
 * the buffer's oldest entry older than BUFFER_MAX_AGE_SECONDS, dead letters waiting, a direct
 * insert failed within DIRECT_INSERT_FAILURE_SECONDS, TimescaleDB policy jobs whose last background
 * run failed, a job without a success in
 * JOB_STALE_PERIODS of its periods (counted from the migration for a job that never ran), or a
 * latest reconciliation with drift.
 */
export function cronHealth(buffer: BufferStats | null, pg: PostgresStatus | null, nowMs: number) {
  const problems: string[] = [];
  let bufferBody = null;
  if (buffer) {
    const age = buffer.oldest_ms === null ? 0 : Math.max(0, Math.round((nowMs - buffer.oldest_ms) / 1000));
    bufferBody = { pending: buffer.pending, dead_letter: buffer.dead_letter, oldest_age_seconds: age };
    if (age > BUFFER_MAX_AGE_SECONDS) problems.push(`buffer: oldest entry has waited ${age} s (limit ${BUFFER_MAX_AGE_SECONDS} s)`);
    if (buffer.dead_letter > 0) {
      problems.push(`dead_letters: ${buffer.dead_letter} rows or entries could not be stored; see \`npm run dead-letters -- list\``);
    }
    const failure = buffer.direct_insert_failure;
    if (failure) problems.push(`direct_insert: failing (last at ${failure.at}: ${failure.error}); the minute drain stores the buffered batches`);
  }
  let jobs = null;
  let checks = null;
  if (pg) {
    jobs = pg.jobs;
    for (const [job, period] of Object.entries(JOB_PERIOD_SECONDS) as Array<[JobName, number]>) {
      const since = pg.jobs[job]?.last_success ?? pg.migrated_at;
      const limitMs = JOB_STALE_PERIODS * period * 1000;
      if (since !== null && nowMs - Date.parse(since) > limitMs) {
        problems.push(`jobs.${job}: no successful run in the last ${JOB_STALE_PERIODS * period} s`);
      }
    }
    checks = { last_hour: pg.checks.last_hour, checked_at: pg.checks.checked_at, compared: pg.checks.compared, drift: pg.checks.drift };
    if (pg.checks.drift > 0) problems.push(`checks: ${pg.checks.drift} of ${pg.checks.compared} comparisons drifted in the latest reconciliation`);
    const failing = pg.scheduler_failures ?? [];
    if (failing.length > 0) {
      const list = failing.map((f) => `job ${f.job_id} ${f.proc_name} on ${f.relation}`).join(", ");
      problems.push(`timescaledb_scheduler: ${failing.length} policy job(s) failed in the background (${list}); the daily job runs them in the foreground`);
    }
  }
  return { buffer: bufferBody, jobs, checks, problems };
}

/**
 * `GET /health`: one Redis request (the buffer figures) and one PostgreSQL statement (tier, job
 * status, latest check), concurrently. The HTTP status says whether the Worker can take events:
 * 200 when both stores answer and a write key is configured, 503 otherwise. The body's `status`
 * says more: `ok`, `degraded` (a store down, or a problem listed in `problems`: a variable that
 * disables a feature, a lagging buffer, a stale job, a drifted check — only a missing write key
 * makes that a 503) or `down` (both stores unreachable). Never a 500.
 *
 * Two views. Anyone gets the status, which stores answer, and the configuration problems (they
 * name variables, never values, and must be readable when the read token itself is the problem).
 * With `Authorization: Bearer <READ_TOKEN>` the operator also gets latencies, the tier, the path
 * to PostgreSQL (`driver`), the stores' error texts, the buffer, the jobs, the checks and every
 * problem. Error texts are never public: they can name hosts, ports and relations.
 */
export const health = new Hono<AppEnv>().get("/", async (c) => {
  const { probes, config } = c.var.services;
  const [redis, postgres] = await Promise.all([probe(() => probes.redis()), probe(() => probes.postgres())]);
  const upCount = Number(redis.ok) + Number(postgres.ok);
  const pgStatus = postgres.value ?? null;
  const cron = cronHealth(redis.value ?? null, pgStatus, Date.now());
  const configProblems = config.problems.map((problem) => problem.message);
  const problems = [...configProblems, ...cron.problems];
  const status = upCount === 0 ? "down" : upCount === 1 || problems.length > 0 ? "degraded" : "ok";
  const canIngest = upCount === 2 && !problemFor(config, "ingest");
  c.header("Cache-Control", "no-store");
  if (!(await carriesReadToken(config, c.req.header("authorization")))) {
    return c.json({ status, redis: { ok: redis.ok }, postgres: { ok: postgres.ok }, problems: configProblems }, canIngest ? 200 : 503);
  }
  const tier = pgStatus ? pgStatus.tier : null;
  const body = {
    status,
    redis: { ok: redis.ok, latency_ms: redis.latency_ms, ...(redis.error ? { error: redis.error } : {}) },
    postgres: {
      ok: postgres.ok,
      latency_ms: postgres.latency_ms,
      tier,
      // Which way the Worker reaches PostgreSQL (DB_DRIVER): neon-http or hyperdrive.
      driver: config.DB_DRIVER,
      ...(postgres.error ? { error: postgres.error } : {}),
    },
    buffer: cron.buffer,
    jobs: cron.jobs,
    checks: cron.checks,
    problems,
  };
  return c.json(body, canIngest ? 200 : 503);
});
