/**
 * The hourly job (rollups for closed and dirty buckets, then Redis vs raw vs rollup
 * reconciliation) through the Worker's real `scheduled` handler, in every storage tier. Expected
 * rollups are computed in TypeScript from the generated events, independently of the SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { DIMENSIONS } from "../../src/domain/dimensions";
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

/**
 * The check rows written by the newest hourly run: those of the closed hours, or those of the
 * dimension rollup's closed days (scope `dimension:<name>`), which the same run records.
 */
async function latestChecks(tier: TierName, kind: "hours" | "dimension days" = "hours"): Promise<CheckRow[]> {
  return (await sqlFor(tier).query(
    `SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS".000Z"') AS hour, scope, redis_count::int, raw_count::int,
       rollup_count::int, drift::int, status, action
     FROM analytics_checks WHERE checked_at = (SELECT max(checked_at) FROM analytics_checks)
       AND (scope LIKE 'dimension:%') = $1 ORDER BY hour, scope COLLATE "C"`,
    [kind === "dimension days"],
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

const PATHS = ["/", "/pricing", "/docs"];

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
      // The day-old events carry dimensions, for the dimension rollup's checks.
      ...makeEvents(120, lateHour + 5 * 60_000, 50 * 60_000, now).map((e, i) => ({ ...e, page_path: PATHS[i % PATHS.length]!, country: i % 4 === 0 ? null : "DE" })),
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

  /** The closed days of the reconciliation window with events, and how many each has. */
  const closedDays = () => {
    const openDay = Math.floor(hourNow / DAY) * DAY;
    const perDay = new Map<number, number>();
    for (const e of events) {
      const day = Math.floor(Date.parse(e.time) / DAY) * DAY;
      if (day < openDay) perDay.set(day, (perDay.get(day) ?? 0) + 1);
    }
    return [...perDay].sort((a, b) => a[0] - b[0]);
  };

  const pagePaths = async (day: number) => {
    const response = await createApp(createServices).request(
      `/api/v1/analytics/breakdown?dimension=page_path&from=${new Date(day).toISOString()}&to=${new Date(day + DAY).toISOString()}&limit=1000`,
      { headers: { authorization: `Bearer ${workerEnv.READ_TOKEN}` } },
      workerEnv,
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as { rows: Array<{ value: string | null; events: number }> };
    return body.rows.map((r) => [r.value, r.events]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  };

  const expectedPagePaths = (day: number) => {
    const counts = new Map<string | null, number>();
    for (const e of events) {
      if (Math.floor(Date.parse(e.time) / DAY) * DAY !== day) continue;
      counts.set(e.page_path ?? null, (counts.get(e.page_path ?? null) ?? 0) + 1);
    }
    return [...counts].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  };

  it("checks the dimension rollup of every closed day with events: one match per dimension, all events against raw", async () => {
    await fireCron(HOURLY, workerEnv, now);

    const expected = closedDays().flatMap(([day, n]) =>
      [...DIMENSIONS].sort().map((dimension) => ({
        hour: new Date(day).toISOString(),
        scope: `dimension:${dimension}`,
        redis_count: null,
        raw_count: n,
        rollup_count: n,
        drift: 0,
        status: "match",
        action: null,
      })),
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(await latestChecks(tier, "dimension days")).toEqual(expected);
    const run = (await jobRuns(tier, "hourly")).at(-1);
    expect(Number(run!.counts.days_checked)).toBe(closedDays().length);
  });

  it("detects a deleted or altered dimension rollup row as drift, recomputes the day, and the breakdown answers the events again", async () => {
    const day = Math.floor(lateHour / DAY) * DAY;
    const n = closedDays().find(([d]) => d === day)![1];
    const sql = sqlFor(tier);
    const bucket = new Date(day).toISOString();
    const deleted = (await sql.query(
      `DELETE FROM analytics_daily_dimensions WHERE bucket = $1 AND dimension = 'page_path' AND event_name = '' AND value = '/pricing' RETURNING event_count::int AS n`,
      [bucket],
    )) as Array<{ n: number }>;
    expect(deleted).toEqual([{ n: 40 }]);
    const altered = (await sql.query(
      `UPDATE analytics_daily_dimensions SET event_count = event_count + 5 WHERE bucket = $1 AND dimension = 'country' AND event_name = '' AND value = 'DE' RETURNING 1`,
      [bucket],
    )) as unknown[];
    expect(altered).toHaveLength(1);
    expect(await pagePaths(day)).not.toEqual(expectedPagePaths(day));

    await fireCron(HOURLY, workerEnv, now);

    expect((await latestChecks(tier, "dimension days")).filter((c) => c.status === "drift")).toEqual([
      { hour: bucket, scope: "dimension:country", redis_count: null, raw_count: n, rollup_count: n + 5, drift: 5, status: "drift", action: "rollup_healed" },
      { hour: bucket, scope: "dimension:page_path", redis_count: null, raw_count: n, rollup_count: n - 40, drift: 40, status: "drift", action: "rollup_healed" },
    ]);
    expect(await pagePaths(day)).toEqual(expectedPagePaths(day));
    const run = (await jobRuns(tier, "hourly")).at(-1);
    expect(Number(run!.counts.healed_days)).toBe(1);

    // /health counts the dimension drift of that run with the rest.
    const health = await createApp(createServices).request("/health", { headers: { authorization: `Bearer ${workerEnv.READ_TOKEN}` } }, workerEnv);
    const body = (await health.json()) as { checks: { drift: number } };
    const driftRows = [...(await latestChecks(tier)), ...(await latestChecks(tier, "dimension days"))].filter((c) => c.status === "drift");
    expect(body.checks.drift).toBe(driftRows.length);

    await fireCron(HOURLY, workerEnv, now);
    expect((await latestChecks(tier, "dimension days")).every((c) => c.status === "match")).toBe(true);
  });
});
