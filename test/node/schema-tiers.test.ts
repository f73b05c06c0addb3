/**
 * The whole migration set on each storage tier, against real servers: the tests' PostgreSQL 15
 * (`postgres`), and for `timescale` and `timescale-apache` a real TimescaleDB when
 * TEST_TIMESCALE_URL / TEST_TIMESCALE_APACHE_URL is set, else the embedded TimescaleDB (the Apache
 * tier forced onto its code path). Every statement comes from src/storage/sql.ts; every
 * expected value is computed in TypeScript from the fixture.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../scripts/lib/migrator";
import * as q from "../../src/storage/sql";
import { EVENTS_BY_NAME_LAST_7_DAYS, popularAssetTypes } from "../support/plan-queries";
import { STORAGE_STATEMENT, type StorageDoc } from "../../src/read/migration/storage";
import type { Tier } from "../../src/storage/tier";
import type { EventRow } from "../../src/domain/event";
import { createTestDatabase } from "../support/postgres";
import { openTimescale } from "../support/timescale";
import {
  buildFixture,
  compareRows,
  dayOf,
  expectedAssetPopularity,
  expectedDaily,
  expectedHourly,
  expectedPopularAssetTypes,
  hourOf,
} from "../support/event-fixtures";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Target {
  tier: Tier;
  /** Migrates a fresh database for the tier and returns a URL plus its cleanup. */
  open(): Promise<{ url: string; close(): Promise<void> }>;
}

const targets: Target[] = [
  {
    tier: "postgres",
    async open() {
      const db = await createTestDatabase("eaw_schema");
      return { url: db.url, close: () => db.drop() };
    },
  },
  // TEST_TIMESCALE_URL / TEST_TIMESCALE_APACHE_URL: a real TimescaleDB; else the embedded one.
  ...(["timescale", "timescale-apache"] as const).map((tier) => ({
    tier,
    async open() {
      const target = await openTimescale(tier, `schema_${tier}`);
      return { url: target.url, close: () => target.close() };
    },
  })),
];

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));

describe.each(targets)("tier $tier", ({ tier, open }) => {
  const now = new Date();
  const fixture = buildFixture(now);
  /** Events that must be stored; grows as tests insert late events. */
  const stored: EventRow[] = [...fixture.unique];
  let server: { url: string; close(): Promise<void> };
  let client: pg.Client;

  const run = async <R extends pg.QueryResultRow>(s: q.SqlStatement) => (await client.query<R>(s.text, [...s.values])).rows;
  const refresh = (from: Date, to: Date) => run(q.refreshRollups(from, to));

  const recentFrom = new Date(now.getTime() - 4 * DAY);
  const readHourly = async (from = new Date(0)) =>
    (
      await client.query(
        `SELECT bucket, event_name, category, event_count::int, unique_users::int, unique_sessions::int
         FROM analytics_hourly WHERE bucket >= $1`,
        [from],
      )
    ).rows
      .map((r) => ({ ...r, bucket: iso(r.bucket) }))
      .sort(compareRows);
  const readDaily = async (from = new Date(0)) =>
    (
      await client.query(
        `SELECT bucket, event_name, category, event_count::int, unique_users::int, unique_sessions::int
         FROM analytics_daily WHERE bucket >= $1`,
        [from],
      )
    ).rows
      .map((r) => ({ ...r, bucket: iso(r.bucket) }))
      .sort(compareRows);
  const readAssets = async (from = new Date(0)) =>
    (
      await client.query(
        `SELECT bucket, asset_type, generation_count::int, unique_creators::int
         FROM analytics_asset_popularity_ts WHERE bucket >= $1`,
        [from],
      )
    ).rows
      .map((r) => ({ ...r, bucket: iso(r.bucket) }))
      .sort(compareRows);
  const since = (from: Date) => stored.filter((e) => Date.parse(e.time) >= from.getTime());
  const dayStart = (d: Date) => new Date(Date.parse(dayOf(d.toISOString())));

  const expectRollupsMatch = async (from: Date, events: readonly EventRow[]) => {
    expect(await readHourly(from)).toEqual(expectedHourly(events.filter((e) => Date.parse(hourOf(e.time)) >= from.getTime())));
    expect(await readDaily(from)).toEqual(expectedDaily(events.filter((e) => Date.parse(dayOf(e.time)) >= from.getTime())));
    expect(await readAssets(from)).toEqual(
      expectedAssetPopularity(events.filter((e) => Date.parse(dayOf(e.time)) >= from.getTime())),
    );
  };

  beforeAll(async () => {
    server = await open();
    const result = await migrate({ databaseUrl: server.url, tier: tier === "postgres" ? "auto" : tier });
    expect(result.tier).toBe(tier);
    client = new pg.Client(server.url);
    await client.connect();
    if (tier === "postgres") {
      // The fixture's 100-day-old events need their partitions (ingest never accepts such events).
      await client.query(`SELECT analytics_ensure_partitions($1)`, [new Date(now.getTime() - 100 * DAY)]);
    }
  }, 60_000);

  afterAll(async () => {
    await client?.end();
    await server?.close();
  });

  it("records the tier, readable with one query", async () => {
    expect(await run({ text: q.READ_TIER, values: [] })).toEqual([{ tier }]);
  });

  it("uses only the features of its tier", async () => {
    const kind = (await client.query(`SELECT relkind FROM pg_class WHERE oid = 'analytics_events_ts'::regclass`)).rows[0]?.relkind;
    if (tier === "postgres") {
      expect(kind).toBe("p");
      return;
    }
    const dims = await client.query(
      `SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'analytics_events_ts'`,
    );
    expect(dims.rows.map((r) => r.time_interval)).toEqual([{ days: 1 }]);
    const caggs = await client.query(
      `SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates ORDER BY view_name`,
    );
    const jobs = await client.query(
      `SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs WHERE proc_schema = '_timescaledb_functions' AND job_id >= 1000 ORDER BY proc_name, hypertable_name`,
    );
    if (tier === "timescale-apache") {
      // Nothing that needs the TSL license: no caggs, no compression, no policies.
      expect(caggs.rows).toEqual([]);
      expect(jobs.rows).toEqual([]);
      const compression = await client.query(
        `SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'analytics_events_ts'`,
      );
      expect(compression.rows).toEqual([{ compression_enabled: false }]);
      return;
    }
    expect(caggs.rows).toEqual([
      { view_name: "analytics_asset_popularity_ts", materialized_only: true },
      { view_name: "analytics_daily", materialized_only: true },
      { view_name: "analytics_hourly", materialized_only: true },
    ]);
    const procs = jobs.rows.map((r) => r.proc_name as string);
    expect(procs.filter((p) => p === "policy_refresh_continuous_aggregate")).toHaveLength(3);
    expect(procs.filter((p) => p === "policy_retention")).toHaveLength(4);
    expect(procs.filter((p) => p === "policy_compression")).toHaveLength(1);
    const retention = Object.fromEntries(
      jobs.rows.filter((r) => r.proc_name === "policy_retention").map((r) => [r.hypertable_name, r.config.drop_after]),
    );
    expect(Object.values(retention).sort()).toEqual(["1 year", "5 years", "5 years", "90 days"]);
  });

  it("inserts every event exactly once, whatever time a retry carries", async () => {
    const inserted: number[] = [];
    for (const batch of fixture.batches) inserted.push((await run<{ inserted: number }>(q.insertEvents(batch)))[0]!.inserted);
    const firstBatches = fixture.batches.slice(0, -1);
    expect(inserted).toEqual([...firstBatches.map((b) => b.length), 0]);
    // Sending everything again inserts nothing.
    for (const batch of fixture.batches) expect(await run(q.insertEvents(batch))).toEqual([{ inserted: 0 }]);

    const rows = (await client.query(`SELECT event_id, time, flags, properties, skew_ms::int FROM analytics_events_ts`)).rows;
    const byId = new Map(rows.map((r) => [r.event_id as string, r]));
    expect(rows).toHaveLength(fixture.unique.length);
    for (const e of fixture.unique) {
      const r = byId.get(e.event_id);
      expect(iso(r?.time)).toBe(e.time);
      expect(r?.flags).toEqual(e.flags);
      expect(r?.properties).toEqual(e.properties);
      expect(r?.skew_ms).toBe(e.skew_ms);
    }
  });

  it("marks the closed hours and days of inserted events dirty, and claims them once", async () => {
    const expected = new Set([
      ...stored.map((e) => `hour ${hourOf(e.time)}`),
      ...stored.map((e) => `day ${dayOf(e.time)}`),
    ]);
    const claimed = await run<{ granularity: string; bucket: Date }>(q.claimDirtyBuckets(10_000));
    expect(new Set(claimed.map((r) => `${r.granularity} ${iso(r.bucket)}`))).toEqual(expected);
    expect(claimed).toHaveLength(expected.size);
    expect(await run(q.claimDirtyBuckets(10_000))).toEqual([]);
  });

  it("brings the rollups up to date, equal to values computed from the events, idempotently", async () => {
    await refresh(recentFrom, now);
    await expectRollupsMatch(dayStart(recentFrom), since(dayStart(recentFrom)));
    await refresh(recentFrom, now);
    await expectRollupsMatch(dayStart(recentFrom), since(dayStart(recentFrom)));
  });

  it("reports popular asset types over a range", async () => {
    for (const [from, to, limit] of [
      [recentFrom, now, 10],
      [recentFrom, now, 2],
      [new Date(now.getTime() - DAY), now, 10],
    ] as const) {
      expect(await run(popularAssetTypes(from, to, limit))).toEqual(
        expectedPopularAssetTypes(stored, from, to, limit).map((r) => ({
          ...r,
          generation_count: String(r.generation_count),
          unique_creators: String(r.unique_creators),
        })),
      );
    }
  });

  it("runs the plan's Phase 3 query", async () => {
    const rows = (await client.query(EVENTS_BY_NAME_LAST_7_DAYS)).rows;
    const expected = new Map<string, number>();
    for (const e of since(new Date(now.getTime() - 7 * DAY))) expected.set(e.event_name, (expected.get(e.event_name) ?? 0) + 1);
    expect(new Map(rows.map((r) => [r.event_name, Number(r.count)]))).toEqual(expected);
  });

  it("rolls up a late event through its dirty buckets", async () => {
    const late: EventRow = {
      ...fixture.unique[0]!,
      event_id: "00000000-0000-4000-a000-00000000000a",
      time: new Date(now.getTime() - 30 * HOUR).toISOString(),
      event_name: "asset_generated",
      category: "creation",
      user_id: "late-user",
      properties: { asset_type: "image" },
    };
    expect(await run(q.insertEvents([late]))).toEqual([{ inserted: 1 }]);
    stored.push(late);
    const claimed = await run<{ granularity: "hour" | "day"; bucket: Date }>(q.claimDirtyBuckets(100));
    expect(claimed.map((r) => `${r.granularity} ${iso(r.bucket)}`).sort()).toEqual(
      [`day ${dayOf(late.time)}`, `hour ${hourOf(late.time)}`].sort(),
    );
    for (const b of claimed) {
      const start = b.bucket;
      await refresh(start, new Date(start.getTime() + (b.granularity === "hour" ? HOUR : DAY)));
    }
    await expectRollupsMatch(dayStart(recentFrom), since(dayStart(recentFrom)));
  });

  if (tier === "timescale") {
    it("compresses old chunks and still reads the rollups and raw rows correctly", async () => {
      // Pretend it is 6 days later: chunks older than 1 day (compress_after 7 days) get compressed.
      const [{ compressed } = { compressed: 0 }] = await run<{ compressed: number }>(
        q.compressChunks(tier, new Date(now.getTime() + 6 * DAY))!,
      );
      expect(compressed).toBeGreaterThan(0);
      const chunks = await client.query(
        `SELECT count(*) FILTER (WHERE is_compressed)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'analytics_events_ts'`,
      );
      expect(chunks.rows[0].n).toBe(compressed);
      // A late event into a compressed chunk, then a refresh that reads compressed data.
      const late: EventRow = { ...stored.at(-1)!, event_id: "00000000-0000-4000-a000-00000000000b", time: new Date(now.getTime() - 50 * HOUR).toISOString() };
      expect(await run(q.insertEvents([late]))).toEqual([{ inserted: 1 }]);
      stored.push(late);
      await run(q.claimDirtyBuckets(100));
      await refresh(recentFrom, now);
      await expectRollupsMatch(dayStart(recentFrom), since(dayStart(recentFrom)));
      const count = await client.query(`SELECT count(*)::int AS n FROM analytics_events_ts`);
      expect(count.rows[0].n).toBe(stored.length);
    });
  }

  it("reports storage per day, and the compression ratio only where chunks are compressed", async () => {
    const [{ doc }] = (await client.query<{ doc: StorageDoc }>(STORAGE_STATEMENT.text)).rows as [{ doc: StorageDoc }];
    expect(doc.tier).toBe(tier);
    expect(doc.database_bytes).toBeGreaterThan(0);
    const days = new Set(stored.map((e) => e.time.slice(0, 10)));
    for (const day of days) expect(doc.days.find((d) => d.day === day)?.bytes, day).toBeGreaterThan(0);
    if (tier === "timescale") {
      expect(doc.compression!.chunks).toBeGreaterThan(0);
      expect(doc.compression!.before_bytes).toBeGreaterThan(doc.compression!.after_bytes);
      expect(doc.days.filter((d) => d.compressed)).toHaveLength(doc.compression!.chunks);
    } else {
      expect(doc.compression).toBeNull();
      expect(doc.days.every((d) => !d.compressed)).toBe(true);
    }
  });

  it("retention drops old raw data and keeps every rollup, even when refreshed again", async () => {
    // The old events were never rolled up: retention brings the rollups up to date before dropping.
    const [{ report } = { report: {} }] = await run<{ report: Record<string, number> }>(q.applyRetention(now));
    expect(Object.values(report).some((n) => n > 0)).toBe(true);
    const raw = await client.query(`SELECT count(*)::int AS n, min(time) AS oldest FROM analytics_events_ts`);
    expect(raw.rows[0].n).toBe(stored.length - fixture.old.length);
    expect(Date.parse(raw.rows[0].oldest)).toBeGreaterThan(now.getTime() - 90 * DAY);
    await expectRollupsMatch(new Date(0), stored);
    // A refresh over the dropped range must not delete rollup history.
    await refresh(new Date(now.getTime() - 200 * DAY), now);
    await expectRollupsMatch(new Date(0), stored);
    // Retention again is a no-op.
    await run(q.applyRetention(now));
    await expectRollupsMatch(new Date(0), stored);
  });

  it("cleans up dedupe rows older than the dedupe window", async () => {
    // Dedupe rows are kept for 8 days after receipt; the old events were received 100 days ago.
    expect(await run(q.cleanupEventIds(now))).toEqual([{ deleted: String(fixture.old.length) }]);
    const total = (await client.query(`SELECT count(*)::int AS n FROM analytics_event_ids`)).rows[0].n;
    expect(total).toBe(stored.length - fixture.old.length);
    expect(await run(q.cleanupEventIds(new Date(now.getTime() + 9 * DAY)))).toEqual([{ deleted: String(total) }]);
  });
});
