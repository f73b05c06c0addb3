/**
 * The hourly job (rollups for closed and dirty buckets, then Redis vs raw vs rollup
 * reconciliation) through the Worker's real `scheduled` handler, in every storage tier. Expected
 * rollups are computed in TypeScript from the generated events, independently of the SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import type { EventRow } from "../../src/domain/event";
import { createServices } from "../../src/services";
import {
  DAY,
  DRAIN,
  HOUR,
  HOURLY,
  TIER_NAMES,
  batches,
  bufferBatches,
  clearPrefix,
  countInRedis,
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

interface CheckRow {
  hour: string;
  scope: string;
  redis_count: number;
  raw_count: number;
  rollup_count: number;
  drift: number;
  status: string;
  action: string | null;
}

/** The check rows written by the newest hourly run. */
async function latestChecks(tier: TierName): Promise<CheckRow[]> {
  return (await sqlFor(tier).query(
    `SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS".000Z"') AS hour, scope, redis_count::int, raw_count::int,
       rollup_count::int, drift::int, status, action
     FROM analytics_checks WHERE checked_at = (SELECT max(checked_at) FROM analytics_checks) ORDER BY hour, scope`,
  )) as CheckRow[];
}

/** Makes one hourly rollup row wrong, as a bug or a bad manual edit would. */
async function corruptHourlyRow(tier: TierName, bucket: number, eventName: string, delta: number): Promise<void> {
  const sql = sqlFor(tier);
  let relation = "analytics_hourly";
  if (tier === "timescale") {
    // A continuous aggregate cannot be updated; its materialisation hypertable can.
    const [cagg] = (await sql.query(
      `SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) AS rel
       FROM timescaledb_information.continuous_aggregates WHERE view_name = 'analytics_hourly'`,
    )) as Array<{ rel: string }>;
    relation = cagg!.rel;
  }
  const updated = (await sql.query(
    `UPDATE ${relation} SET event_count = event_count + $3 WHERE bucket = $1 AND event_name = $2 RETURNING 1`,
    [new Date(bucket).toISOString(), eventName, delta],
  )) as unknown[];
  expect(updated.length).toBeGreaterThan(0);
}

describe.each(TIER_NAMES)("hourly job, tier %s", (tier) => {
  const prefix = `cron-hourly-${tier}:`;
  const workerEnv = cronEnv(tier, prefix);
  const now = Date.now();
  const hourNow = Math.floor(now / HOUR) * HOUR;
  // Three closed hours, and late events for an hour a day old.
  const hours = [hourNow - 3 * HOUR, hourNow - 2 * HOUR, hourNow - HOUR];
  const lateHour = hourNow - 25 * HOUR;
  let events: EventRow[] = [];
  const from = lateHour - DAY;
  const to = hourNow + DAY;

  const expectRollupsMatchEvents = async () => {
    expect(await readRollup(tier, "analytics_hourly", from, hourNow)).toEqual(expectedRollup(events, HOUR));
    expect(await readRollup(tier, "analytics_daily", from, to)).toEqual(expectedRollup(events, DAY));
    expect(await readAssets(tier, from, to)).toEqual(expectedAssets(events));
  };

  beforeAll(async () => {
    await resetTables(tier);
    await clearPrefix(redis, prefix);
    events = [
      ...makeEvents(300, hours[0]!, HOUR, now),
      ...makeEvents(500, hours[1]!, HOUR, now),
      ...makeEvents(700, hours[2]!, HOUR, now),
      ...makeEvents(120, lateHour + 5 * 60_000, 50 * 60_000, now),
    ];
    // What ingestion does: counters per hour in Redis, the batch in the buffer; then the drain.
    await countInRedis(redis, prefix, events);
    await bufferBatches(redis, prefix, batches(events, 40));
    await fireCron(DRAIN, workerEnv, now);
  });

  afterAll(async () => {
    await clearPrefix(redis, prefix);
  });

  it("brings every rollup up to date for the closed hours and the late (dirty) day-old hour", async () => {
    await fireCron(HOURLY, workerEnv, now);

    await expectRollupsMatchEvents();
    const [run] = await jobRuns(tier, "hourly");
    expect(run).toMatchObject({ outcome: "ok", error: null });
    expect(Number(run!.counts.dirty_claimed)).toBeGreaterThan(0);
    expect((await sqlFor(tier).query(`SELECT count(*)::int AS n FROM analytics_dirty_buckets`))[0]).toEqual({ n: 0 });
  });

  it("records a match for every closed hour Redis holds, per event name and in total", async () => {
    const checks = await latestChecks(tier);
    const checkedHours = [...new Set(checks.map((c) => c.hour))].sort();
    expect(checkedHours).toEqual([lateHour, ...hours].map((h) => new Date(h).toISOString()));
    expect(checks.every((c) => c.status === "match" && c.drift === 0 && c.action === null)).toBe(true);
    const totals = checks.filter((c) => c.scope === "*").map((c) => c.raw_count);
    expect(totals).toEqual([120, 300, 500, 700]);
    expect(new Set(checks.map((c) => c.scope))).toEqual(new Set(["*", "page_view", "click", "asset_generated", "signup"]));
  });

  it("records drift with the numbers when a rollup row is wrong, heals it from raw, and matches on the next run", async () => {
    const rawBefore = await sqlFor(tier).query(`SELECT count(*)::int AS n FROM analytics_events_ts`);
    const clicks = events.filter((e) => Date.parse(e.time) >= hours[1]! && Date.parse(e.time) < hours[2]! && e.event_name === "click").length;
    await corruptHourlyRow(tier, hours[1]!, "click", 7);

    await fireCron(HOURLY, workerEnv, now);

    const drifted = (await latestChecks(tier)).filter((c) => c.status === "drift");
    const hour = new Date(hours[1]!).toISOString();
    expect(drifted).toEqual([
      { hour, scope: "*", redis_count: 500, raw_count: 500, rollup_count: 507, drift: 7, status: "drift", action: "rollup_healed" },
      { hour, scope: "click", redis_count: clicks, raw_count: clicks, rollup_count: clicks + 7, drift: 7, status: "drift", action: "rollup_healed" },
    ]);
    await expectRollupsMatchEvents();
    // Raw data is never "fixed".
    expect(await sqlFor(tier).query(`SELECT count(*)::int AS n FROM analytics_events_ts`)).toEqual(rawBefore);

    const health = await createApp(createServices).request("/health", { headers: { authorization: `Bearer ${workerEnv.READ_TOKEN}` } }, workerEnv);
    const body = (await health.json()) as { status: string; checks: { drift: number }; problems: string[] };
    expect(body.checks.drift).toBe(2);
    expect(body.status).toBe("degraded");

    await fireCron(HOURLY, workerEnv, now);
    expect((await latestChecks(tier)).every((c) => c.status === "match")).toBe(true);
  });

  it("changes nothing when run twice", async () => {
    const snapshot = async () => [
      await readRollup(tier, "analytics_hourly", from, to),
      await readRollup(tier, "analytics_daily", from, to),
      await readAssets(tier, from, to),
    ];
    await fireCron(HOURLY, workerEnv, now);
    const first = await snapshot();
    const firstChecks = await latestChecks(tier);
    await fireCron(HOURLY, workerEnv, now);
    expect(await snapshot()).toEqual(first);
    expect(await latestChecks(tier)).toEqual(firstChecks);
    await expectRollupsMatchEvents();
  });

  it("reports Redis counters that differ from raw as drift without touching raw or rollups", async () => {
    // A partial resend counted twice in Redis: Redis is higher than the truth.
    const hour = hours[2]!;
    const resent = events.filter((e) => Date.parse(e.time) >= hour && Date.parse(e.time) < hour + HOUR).slice(0, 4);
    await countInRedis(redis, prefix, resent);

    await fireCron(HOURLY, workerEnv, now);

    const drifted = (await latestChecks(tier)).filter((c) => c.status === "drift");
    expect(drifted.find((c) => c.scope === "*")).toMatchObject({
      hour: new Date(hour).toISOString(),
      redis_count: 704,
      raw_count: 700,
      rollup_count: 700,
      drift: 4,
      action: "redis_differs",
    });
    await expectRollupsMatchEvents();
  });
});
