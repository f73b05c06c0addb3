/**
 * The daily job (partitions ahead, retention, compression check, dedupe cleanup) through the
 * Worker's real `scheduled` handler, in every storage tier.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { createServices } from "../../src/services";
import type { EventRow } from "../../src/domain/event";
import { insertEvents } from "../../src/storage/sql";
import {
  DAILY,
  DAY,
  HOUR,
  HOURLY,
  TIER_NAMES,
  clearPrefix,
  cronEnv,
  expectedAssets,
  expectedRollup,
  fireCron,
  jobRuns,
  makeEvents,
  readAssets,
  readRollup,
  redisClient,
  resetTables,
  sqlFor,
  type TierName,
} from "./cron-support";

const redis = redisClient();
const ymd = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");

/** Partition for one UTC day (`postgres` tier), as analytics_ensure_partitions names them. */
async function createDayPartition(tier: TierName, day: number): Promise<void> {
  await sqlFor(tier).query(
    `CREATE TABLE IF NOT EXISTS analytics_events_ts_p${ymd(day)} PARTITION OF analytics_events_ts
     FOR VALUES FROM ('${new Date(day).toISOString()}') TO ('${new Date(day + DAY).toISOString()}')`,
  );
}

async function store(tier: TierName, rows: EventRow[]): Promise<void> {
  const statement = insertEvents(rows);
  await sqlFor(tier).query(statement.text, [...statement.values]);
}

describe.each(TIER_NAMES)("daily job, tier %s", (tier) => {
  const prefix = `cron-daily-${tier}:`;
  const workerEnv = cronEnv(tier, prefix);
  const now = Date.now();
  const today = Math.floor(now / DAY) * DAY;
  // Past the 90-day raw retention (rollups must outlive it), and recent enough to keep.
  const oldDay = today - 100 * DAY;
  const old = makeEvents(400, oldDay + 2 * HOUR, 10 * HOUR, oldDay + 12 * HOUR);
  const recent = makeEvents(300, today - 2 * DAY + HOUR, 5 * HOUR, today - 2 * DAY + 6 * HOUR);
  const sql = sqlFor(tier);
  let futureDropped = 0;

  beforeAll(async () => {
    await resetTables(tier);
    await clearPrefix(redis, prefix);
    if (tier === "postgres") {
      await createDayPartition(tier, oldDay);
      // Remove the partitions ahead, so the job has to create them again.
      const ahead = (await sql.query(
        `SELECT partition::text AS name FROM analytics_event_partitions WHERE day_start > $1`,
        [new Date(today + DAY).toISOString()],
      )) as Array<{ name: string }>;
      for (const { name } of ahead) await sql.query(`DROP TABLE ${name}`);
      futureDropped = ahead.length;
    }
    await store(tier, old);
    await store(tier, recent);
  });

  afterAll(async () => {
    await clearPrefix(redis, prefix);
  });

  it("drops raw data past the retention but keeps its rollups, and keeps recent data", async () => {
    await fireCron(DAILY, workerEnv, now);

    const [run] = await jobRuns(tier, "daily");
    expect(run).toMatchObject({ outcome: "ok", error: null });
    const raw = (await sql.query(
      `SELECT count(*) FILTER (WHERE time < $1)::int AS old, count(*) FILTER (WHERE time >= $1)::int AS recent FROM analytics_events_ts`,
      [new Date(today - 90 * DAY).toISOString()],
    )) as Array<{ old: number; recent: number }>;
    expect(raw[0]).toEqual({ old: 0, recent: 300 });

    expect(await readRollup(tier, "analytics_hourly", oldDay, oldDay + DAY)).toEqual(expectedRollup(old, HOUR));
    expect(await readRollup(tier, "analytics_daily", oldDay, oldDay + DAY)).toEqual(expectedRollup(old, DAY));
    expect(await readAssets(tier, oldDay, oldDay + DAY)).toEqual(expectedAssets(old));
  });

  it("deletes dedupe state past the dedupe window only", async () => {
    const ids = (await sql.query(
      `SELECT count(*) FILTER (WHERE event_id = ANY($1::uuid[]))::int AS old,
              count(*) FILTER (WHERE event_id = ANY($2::uuid[]))::int AS recent FROM analytics_event_ids`,
      [`{${old.map((e) => e.event_id).join(",")}}`, `{${recent.map((e) => e.event_id).join(",")}}`],
    )) as Array<{ old: number; recent: number }>;
    expect(ids[0]).toEqual({ old: 0, recent: 300 });
    const [run] = await jobRuns(tier, "daily");
    expect(run!.counts.event_ids_deleted).toBe(400);
  });

  it("never recomputes rollups over the dropped range, even when it is marked dirty", async () => {
    await sql.query(`INSERT INTO analytics_dirty_buckets (granularity, bucket) VALUES ('day', $1), ('hour', $2) ON CONFLICT DO NOTHING`, [
      new Date(oldDay).toISOString(),
      new Date(oldDay + 3 * HOUR).toISOString(),
    ]);
    await fireCron(HOURLY, workerEnv, now);
    expect(await readRollup(tier, "analytics_daily", oldDay, oldDay + DAY)).toEqual(expectedRollup(old, DAY));
    expect(await readRollup(tier, "analytics_hourly", oldDay, oldDay + DAY)).toEqual(expectedRollup(old, HOUR));
  });

  it("changes nothing when run twice", async () => {
    const before = [
      await sql.query(`SELECT count(*)::int AS n FROM analytics_events_ts`),
      await readRollup(tier, "analytics_daily", oldDay, today + DAY),
    ];
    await fireCron(DAILY, workerEnv, now);
    expect([
      await sql.query(`SELECT count(*)::int AS n FROM analytics_events_ts`),
      await readRollup(tier, "analytics_daily", oldDay, today + DAY),
    ]).toEqual(before);
    expect((await jobRuns(tier, "daily")).map((r) => r.outcome)).toEqual(["ok", "ok"]);
  });

  if (tier === "postgres") {
    it("creates the partitions for the coming days", async () => {
      const [first] = await jobRuns(tier, "daily");
      expect(futureDropped).toBeGreaterThan(0);
      expect(first!.counts.partitions_created).toBe(futureDropped);
      const ahead = (await sql.query(`SELECT day_start FROM analytics_event_partitions WHERE day_start > $1 ORDER BY 1`, [
        new Date(today).toISOString(),
      ])) as Array<{ day_start: unknown }>;
      // partitions_ahead is 7 days: tomorrow through today + 7.
      expect(ahead.map((r) => new Date(String(r.day_start instanceof Date ? r.day_start.toISOString() : r.day_start)).getTime())).toEqual(
        Array.from({ length: 7 }, (_, i) => today + (i + 1) * DAY),
      );
    });
  }

  if (tier === "timescale") {
    it("checks the compression policy and runs the policy jobs the scheduler did not", async () => {
      const [first] = await jobRuns(tier, "daily");
      expect(first!.counts).toMatchObject({ compression_policy: true });
      // The embedded database never runs background jobs: every policy is stale and run in the foreground.
      expect(Number(first!.counts.policy_jobs)).toBeGreaterThan(0);
      expect(first!.counts.policy_jobs_run).toBe(first!.counts.policy_jobs_stale);
      // The second run (same day) finds the foreground runs it recorded: nothing is due again.
      const second = (await jobRuns(tier, "daily"))[1]!;
      expect(second.counts).toMatchObject({ policy_jobs_stale: 0, policy_jobs_run: 0 });
      const recorded = (await sql.query(`SELECT count(*)::int AS n FROM analytics_policy_runs`)) as Array<{ n: number }>;
      expect(recorded[0]!.n).toBe(Number(first!.counts.policy_jobs_run));
    });

    it("counts only the chunks a run compressed, not those compressed before", async () => {
      // A day of events 20 days ago: older than compress_after (7 days), inside the raw retention.
      await store(tier, makeEvents(50, today - 20 * DAY + HOUR, HOUR, today - 20 * DAY + 2 * HOUR));
      await fireCron(DAILY, workerEnv, now);
      await fireCron(DAILY, workerEnv, now);
      const runs = await jobRuns(tier, "daily");
      expect(runs.slice(-2).map((r) => r.counts.compressed_chunks)).toEqual([1, 0]);
    });

    it("says in /health which policy jobs the scheduler fails, while they fail", async () => {
      const [job] = (await sql.query(
        `SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'analytics_events_ts'`,
      )) as Array<{ job_id: number }>;
      await sql.query(`INSERT INTO analytics_job_runs (job, finished_at, outcome) VALUES ('drain', now(), 'ok'), ('hourly', now(), 'ok')`);
      // What the scheduler records for a failed background run (on PostgreSQL 15.20 every one fails
      // with SQLSTATE 24000); the embedded database never runs its scheduler, so it is written here.
      await sql.query(
        `INSERT INTO _timescaledb_internal.bgw_job_stat (job_id, last_start, last_finish, next_start, last_successful_finish,
           last_run_success, total_runs, total_duration, total_duration_failures, total_successes, total_failures, total_crashes,
           consecutive_failures, consecutive_crashes, flags)
         VALUES ($1, now() - interval '1 minute', now(), now() + interval '1 hour', '-infinity', false, 1, '1 second', '1 second', 0, 1, 0, 1, 0, 0)`,
        [job!.job_id],
      );
      const health = async () =>
        (await (await createApp(createServices).request("/health", { headers: { authorization: `Bearer ${workerEnv.READ_TOKEN}` } }, workerEnv)).json()) as { status: string; problems: string[] };
      try {
        const failing = await health();
        expect(failing.status).toBe("degraded");
        expect(failing.problems).toContainEqual(
          `timescaledb_scheduler: 1 policy job(s) failed in the background (job ${job!.job_id} policy_compression on analytics_events_ts); the daily job runs them in the foreground`,
        );
      } finally {
        await sql.query(`DELETE FROM _timescaledb_internal.bgw_job_stat WHERE job_id = $1`, [job!.job_id]);
      }
      expect((await health()).problems.filter((p) => p.startsWith("timescaledb_scheduler"))).toEqual([]);
    });
  }
});
