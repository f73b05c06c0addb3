import { SELF, createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import worker from "../../src/index";
import { createApp } from "../../src/app";
import { SCHEDULE } from "../../src/cron/schedule";
import { redisKeys } from "../../src/storage/redis-keys";
import { createServices } from "../../src/services";
import { clearPrefix, redisClient } from "./cron-support";
import { control, testSql } from "./support";

interface HealthBody {
  status: string;
  redis: { ok: boolean; latency_ms: number };
  postgres: { ok: boolean; latency_ms: number; tier: string | null };
  buffer: { pending: number; dead_letter: number; oldest_age_seconds: number } | null;
  jobs: Record<"drain" | "hourly" | "daily", { last_success: string | null; last_error: { at: string; message: string } | null }> | null;
  checks: { last_hour: string | null; drift: number; compared: number } | null;
  problems: string[];
}

const sql = () => testSql();

/**
 * A healthy cron state: each job succeeded just now, the latest check matched, no buffered entry
 * is old. (Other test files leave job runs and checks of their own in the shared database.)
 */
async function healthyCronState(): Promise<void> {
  const db = sql();
  await db.query(`TRUNCATE analytics_job_runs, analytics_checks`);
  await db.query(`INSERT INTO analytics_job_runs (job, finished_at, outcome) VALUES ('drain', now(), 'ok'), ('hourly', now(), 'ok'), ('daily', now(), 'ok')`);
  await db.query(
    `INSERT INTO analytics_checks (hour, scope, redis_count, raw_count, rollup_count, drift, status)
     VALUES (date_trunc('hour', now()) - interval '1 hour', '*', 3, 3, 3, 0, 'match')`,
  );
  const keys = redisKeys(env.REDIS_KEY_PREFIX);
  await redisClient().del(keys.buffer, keys.deadLetter, keys.directInsertFailure);
}

/** The operator view: /health with the read token. */
const OPERATOR = { authorization: `Bearer ${env.READ_TOKEN}` };

async function health(): Promise<{ status: number; body: HealthBody }> {
  const response = await SELF.fetch("http://worker/health", { headers: OPERATOR });
  return { status: response.status, body: (await response.json()) as HealthBody };
}

describe("GET /health", () => {
  beforeEach(healthyCronState);
  afterEach(async () => {
    await control("redis/start");
    await control("postgres/start");
  });

  it("answers 200 with both stores up and reports the migrated tier", async () => {
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body.status).toBe("ok");
    expect(body.redis.ok).toBe(true);
    expect(body.postgres).toMatchObject({ ok: true, tier: inject("stack").tier });
    expect(body.postgres.tier).toBe("postgres");
    expect(body.redis.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it("answers 503 degraded with redis.ok false while Redis is stopped, and 200 again after it returns", async () => {
    await control("redis/stop");
    const started = Date.now();
    const down = await health();
    const elapsed = Date.now() - started;
    expect(down.status).toBe(503);
    expect(down.body.status).toBe("degraded");
    expect(down.body.redis.ok).toBe(false);
    expect(down.body.postgres.ok).toBe(true);
    // "not a hang": the probe is bounded well under 5 s.
    expect(elapsed).toBeLessThan(5_000);

    await control("redis/start");
    expect((await health()).status).toBe(200);
  });

  it("answers 503 degraded when PostgreSQL is unreachable", async () => {
    await control("postgres/stop");
    const { status, body } = await health();
    expect(status).toBe(503);
    expect(body.postgres.ok).toBe(false);
    expect(body.redis.ok).toBe(true);
  });

  it("answers 503 down with both stores unreachable, never a 500", async () => {
    await control("redis/stop");
    await control("postgres/stop");
    const { status, body } = await health();
    expect(status).toBe(503);
    expect(body.status).toBe("down");
  });

  it("answers 503 with a machine code naming the bad variables when configuration is invalid", async () => {
    const { createApp } = await import("../../src/app");
    const { createServices } = await import("../../src/services");
    const app = createApp(createServices);
    const response = await app.request("/health", {}, { ...env, DATABASE_URL: "mysql://nope", UPSTASH_REDIS_REST_TOKEN: "" });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("service_misconfigured");
    expect(body.error.message).toContain("DATABASE_URL");
    expect(body.error.message).toContain("UPSTASH_REDIS_REST_TOKEN");
  });
});

describe("GET /health: the cron side", () => {
  const PREFIX = "health-cron:";
  const cronEnv = { ...env, REDIS_KEY_PREFIX: PREFIX } as Env;
  const app = createApp(createServices);
  const get = async () => {
    const response = await app.request("/health", { headers: OPERATOR }, cronEnv);
    return { status: response.status, body: (await response.json()) as HealthBody };
  };
  beforeEach(async () => {
    await healthyCronState();
    await clearPrefix(redisClient(), PREFIX);
  });

  it("reports the buffer, each job's last success and error, and the latest check", async () => {
    const redis = redisClient();
    await redis.xadd(redisKeys(PREFIX).buffer, "*", { b: "{}" });
    await redis.xadd(redisKeys(PREFIX).deadLetter, "*", { id: "1-0", error: "x" });
    await sql().query(`INSERT INTO analytics_job_runs (job, finished_at, outcome, error) VALUES ('daily', now(), 'error', 'boom')`);

    const { status, body } = await get();

    expect(status).toBe(200);
    // A dead letter is a row that was acknowledged and is not stored: degraded until replayed or dropped.
    expect(body.status).toBe("degraded");
    expect(body.buffer).toMatchObject({ pending: 1, dead_letter: 1 });
    expect(body.buffer!.oldest_age_seconds).toBeLessThan(60);
    expect(body.jobs!.drain.last_success).not.toBeNull();
    expect(body.jobs!.drain.last_error).toBeNull();
    expect(body.jobs!.daily.last_error).toMatchObject({ message: "boom" });
    expect(body.checks).toMatchObject({ drift: 0, compared: 1 });
    expect(body.checks!.last_hour).not.toBeNull();
    expect(body.problems).toEqual([expect.stringMatching(/^dead_letters: 1 rows or entries could not be stored; see `npm run dead-letters -- list`$/)]);
  });

  it("is degraded when the oldest buffered entry has waited more than 5 minutes", async () => {
    await redisClient().xadd(redisKeys(PREFIX).buffer, `${Date.now() - 6 * 60_000}-0`, { b: "{}" });
    const { status, body } = await get();
    expect(status).toBe(200);
    expect(body.status).toBe("degraded");
    expect(body.problems.join()).toMatch(/^buffer: oldest entry has waited 3\d\d s/);
  });

  it("is degraded when a job has not succeeded in two of its periods", async () => {
    await sql().query(`UPDATE analytics_job_runs SET finished_at = now() - interval '3 minutes' WHERE job = 'drain'`);
    const { status, body } = await get();
    expect(status).toBe(200);
    expect(body.status).toBe("degraded");
    expect(body.problems).toEqual([expect.stringMatching(/^jobs\.drain: no successful run in the last 120 s/)]);
  });

  it("is degraded when the latest reconciliation drifted, and ok again once a later one matches", async () => {
    const db = sql();
    await db.query(
      `INSERT INTO analytics_checks (hour, scope, redis_count, raw_count, rollup_count, drift, status, action, checked_at)
       VALUES (date_trunc('hour', now()) - interval '1 hour', '*', 9, 7, 7, 2, 'drift', 'redis_differs', now() + interval '1 second')`,
    );
    let { status, body } = await get();
    expect(status).toBe(200);
    expect(body.status).toBe("degraded");
    expect(body.checks).toMatchObject({ drift: 1 });
    await db.query(
      `INSERT INTO analytics_checks (hour, scope, redis_count, raw_count, rollup_count, drift, status, checked_at)
       VALUES (date_trunc('hour', now()) - interval '1 hour', '*', 7, 7, 7, 0, 'match', now() + interval '2 seconds')`,
    );
    ({ status, body } = await get());
    expect(status).toBe(200);
    expect(body.status).toBe("ok");
    expect(body.checks).toMatchObject({ drift: 0 });
  });
});

describe("scheduled handler", () => {
  it("dispatches every configured cron expression without throwing", async () => {
    for (const cron of Object.keys(SCHEDULE)) {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ cron, scheduledTime: Date.now() }), env, ctx);
      await waitOnExecutionContext(ctx);
    }
  });

  it("logs an unknown schedule as an error instead of ignoring it", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "*/7 * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("unknown_cron"));
    errors.mockRestore();
  });
});
