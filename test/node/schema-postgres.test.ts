/**
 * What only the `postgres` tier on the machine's PostgreSQL 15 can show: daily partitions and their
 * upkeep, and the insert statement under real concurrency (two connections).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../scripts/lib/migrator";
import * as q from "../../src/storage/sql";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { buildFixture } from "../support/event-fixtures";
import type { EventRow } from "../../src/domain/event";

const DAY = 86_400_000;
const dayName = (d: Date) => `analytics_events_ts_p${d.toISOString().slice(0, 10).replaceAll("-", "")}`;

describe("postgres tier", () => {
  let db: TestDatabase;
  let a: pg.Client;
  let b: pg.Client;
  const now = new Date();

  beforeAll(async () => {
    db = await createTestDatabase("eaw_pgtier");
    await migrate({ databaseUrl: db.url });
    a = new pg.Client(db.url);
    b = new pg.Client(db.url);
    await Promise.all([a.connect(), b.connect()]);
  });
  afterAll(async () => {
    await Promise.all([a?.end(), b?.end()]);
    await db?.drop();
  });

  const partitions = async () =>
    (await a.query(`SELECT partition::text AS name FROM analytics_event_partitions ORDER BY day_start`)).rows.map((r) => r.name);

  it("creates daily partitions covering the ingest window and a week ahead", async () => {
    const names = await partitions();
    for (let d = -8; d <= 7; d++) expect(names).toContain(dayName(new Date(now.getTime() + d * DAY)));
    // Idempotent, and safe to run concurrently.
    const [r1, r2] = await Promise.all([a.query(q.ensurePartitions("postgres", now)!.text, [now]), b.query(q.ensurePartitions("postgres", now)!.text, [now])]);
    expect([r1.rows[0].created, r2.rows[0].created]).toEqual([0, 0]);
  });

  it("refuses an event with no partition without keeping its dedupe row, and takes it after upkeep", async () => {
    const [event] = buildFixture(now, 7).unique;
    const future = { ...event!, time: new Date(now.getTime() + 20 * DAY).toISOString() };
    await expect(a.query(q.INSERT_EVENTS, q.insertEventsValues([future]))).rejects.toMatchObject({ code: q.NO_PARTITION_SQLSTATE });
    const ids = await a.query(`SELECT count(*)::int AS n FROM analytics_event_ids WHERE event_id = $1`, [future.event_id]);
    expect(ids.rows[0].n).toBe(0);
    const upkeep = q.ensurePartitions("postgres", new Date(now.getTime() + 14 * DAY))!;
    expect((await a.query(upkeep.text, [...upkeep.values])).rows[0].created).toBeGreaterThan(0);
    expect((await a.query(q.INSERT_EVENTS, q.insertEventsValues([future]))).rows).toEqual([{ inserted: 1 }]);
  });

  it("inserts overlapping batches sent concurrently exactly once", async () => {
    const events = buildFixture(now, 99).unique.filter((e) => Date.parse(e.time) > now.getTime() - 7 * DAY);
    // Two writers send the same events in opposite orders and overlapping batches.
    const forward: EventRow[][] = [];
    const backward: EventRow[][] = [];
    for (let i = 0; i < events.length; i += 40) forward.push(events.slice(i, i + 60));
    const reversed = [...events].reverse();
    for (let i = 0; i < reversed.length; i += 30) backward.push(reversed.slice(i, i + 45));
    const send = async (c: pg.Client, batches: typeof forward) => {
      let n = 0;
      for (const batch of batches) n += (await c.query(q.INSERT_EVENTS, q.insertEventsValues(batch))).rows[0].inserted;
      return n;
    };
    const [na, nb] = await Promise.all([send(a, forward), send(b, backward)]);
    expect(na + nb).toBe(events.length);
    const stored = await a.query(
      `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM analytics_events_ts WHERE event_id = ANY($1::uuid[])`,
      [events.map((e) => e.event_id)],
    );
    expect(stored.rows[0]).toEqual({ n: events.length, d: events.length });
  });
});
