/**
 * The minute drain through the Worker's real `scheduled` handler, against the real Redis and
 * PostgreSQL (`postgres` tier) of the local stack.
 */
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { createServices } from "../../src/services";
import { insertEvents } from "../../src/storage/sql";
import { redisKeys } from "../../src/storage/redis-keys";
import {
  DRAIN,
  batches,
  bufferBatches,
  bufferRaw,
  clearPrefix,
  cronEnv,
  fireCron,
  jobRuns,
  makeEvents,
  redisClient,
  resetTables,
  sqlFor,
  storedEventIds,
} from "./cron-support";

const PREFIX = "cron-drain:";
const keys = redisKeys(PREFIX);
const redis = redisClient();
const workerEnv = cronEnv("postgres", PREFIX);
const sql = sqlFor("postgres");

beforeEach(async () => {
  await resetTables("postgres");
  await clearPrefix(redis, PREFIX);
});

afterAll(async () => {
  await clearPrefix(redis, PREFIX);
});

/** The JSON summary lines the drain logged while `run` ran. */
async function drainLogLines(run: () => Promise<void>): Promise<Array<Record<string, unknown>>> {
  const log = vi.spyOn(console, "log");
  try {
    await run();
    return log.mock.calls
      .map((call) => {
        try {
          return JSON.parse(String(call[0])) as Record<string, unknown>;
        } catch {
          return null;
        }
      })
      .filter((line): line is Record<string, unknown> => line?.job === "drain");
  } finally {
    log.mockRestore();
  }
}

describe("drain (every minute)", () => {
  it("stores 10,000 buffered events exactly once, some already in PostgreSQL, and empties the buffer", async () => {
    const now = Date.now();
    const events = makeEvents(10_000, now - 40 * 60_000, 30 * 60_000, now);
    // 1,000 were already stored (the direct path got there first); one of them with another time,
    // as a retry with a different sent_at would carry.
    const already = events.slice(0, 1_000).map((e, i) => (i === 0 ? { ...e, time: new Date(Date.parse(e.time) + 1_000).toISOString() } : e));
    const pre = insertEvents(already);
    await sql.query(pre.text, [...pre.values]);
    await bufferBatches(redis, PREFIX, batches(events, 50));
    expect(await redis.xlen(keys.buffer)).toBe(200);

    const lines = await drainLogLines(() => fireCron(DRAIN, workerEnv));

    const stored = await storedEventIds("postgres");
    expect(stored.size).toBe(10_000);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    expect(events.every((e) => stored.has(e.event_id))).toBe(true);
    // The first stored copy wins: the retried event keeps the time it was first stored with.
    const [first] = (await sql.query(`SELECT time FROM analytics_events_ts WHERE event_id = $1`, [events[0]!.event_id])) as Array<{ time: unknown }>;
    expect(new Date(String(first!.time instanceof Date ? first!.time.toISOString() : first!.time)).toISOString()).toBe(already[0]!.time);
    expect(await redis.xlen(keys.buffer)).toBe(0);

    const [run] = await jobRuns("postgres", "drain");
    expect(run).toMatchObject({ outcome: "ok", error: null, counts: { entries: 200, events: 10_000, inserted: 9_000, dead_lettered: 0 } });
    // A handful of large statements (2,000 rows each), not one per batch: 200 batches, 5 statements.
    expect(Number(run!.counts.statements)).toBeLessThanOrEqual(5);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ job: "drain", outcome: "ok", events: 10_000, inserted: 9_000 });
    expect(typeof lines[0]!.ms).toBe("number");
  });

  it("changes nothing when run again", async () => {
    const events = makeEvents(2_000, Date.now() - 20 * 60_000, 10 * 60_000);
    await bufferBatches(redis, PREFIX, batches(events, 50));
    await fireCron(DRAIN, workerEnv);
    const before = await sql.query(`SELECT event_id, time, event_name FROM analytics_events_ts ORDER BY event_id`);

    await fireCron(DRAIN, workerEnv);

    expect(await sql.query(`SELECT event_id, time, event_name FROM analytics_events_ts ORDER BY event_id`)).toEqual(before);
    const runs = await jobRuns("postgres", "drain");
    expect(runs.map((r) => r.outcome)).toEqual(["ok", "ok"]);
    expect(runs[1]!.counts).toMatchObject({ entries: 0, events: 0, inserted: 0 });
  });

  it("stores an entry that was stored before but not deleted (a crash between insert and delete) only once", async () => {
    const events = makeEvents(500, Date.now() - 10 * 60_000, 5 * 60_000);
    const list = batches(events, 50);
    await bufferBatches(redis, PREFIX, list);
    // The first two batches reached PostgreSQL but their XDEL never happened.
    const pre = insertEvents([...list[0]!, ...list[1]!]);
    await sql.query(pre.text, [...pre.values]);

    await fireCron(DRAIN, workerEnv);

    const stored = await storedEventIds("postgres");
    expect(stored.size).toBe(500);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    expect(await redis.xlen(keys.buffer)).toBe(0);
  });

  it("dead-letters an unreadable entry and the one row PostgreSQL refuses, stores the rest, and /health reports them", async () => {
    const events = makeEvents(1_000, Date.now() - 10 * 60_000, 5 * 60_000);
    const list = batches(events, 50);
    await bufferBatches(redis, PREFIX, list.slice(0, 10));
    const unreadable = await bufferRaw(redis, PREFIX, "{not json");
    const badRows = makeEvents(3, Date.now() - 60_000, 1_000).map((e, i) => (i === 1 ? { ...e, event_id: "not-a-uuid" } : e));
    const uninsertable = await bufferRaw(redis, PREFIX, JSON.stringify({ v: 1, rows: badRows }));
    await bufferBatches(redis, PREFIX, list.slice(10));

    await fireCron(DRAIN, workerEnv);

    // Everything good is stored at once, the refused entry's two good rows included.
    const stored = await storedEventIds("postgres");
    expect(stored.size).toBe(1_002);
    expect(stored.has(badRows[0]!.event_id) && stored.has(badRows[2]!.event_id)).toBe(true);
    expect(await redis.xlen(keys.buffer)).toBe(0);
    // The unreadable entry whole, the refused row alone, each with its error.
    const dead = Object.values(await redis.xrange<Record<string, unknown>>(keys.deadLetter, "-", "+"));
    expect(dead.map((f) => String(f.id))).toEqual([unreadable, uninsertable]);
    expect(String(dead[0]!.error)).toContain("unreadable entry");
    expect(String(dead[1]!.error)).toMatch(/^22P02: .*uuid/);
    expect(dead[1]!.sqlstate).toBe("22P02");
    expect(dead[1]!.b).toEqual({ v: 1, rows: [badRows[1]] });

    const runs = await jobRuns("postgres", "drain");
    expect(runs.map((r) => [r.outcome, r.counts.rows_refused, r.counts.dead_lettered])).toEqual([["ok", 1, 2]]);

    const response = await createApp(createServices).request("/health", { headers: { authorization: `Bearer ${workerEnv.READ_TOKEN}` } }, workerEnv);
    const body = (await response.json()) as { status: string; buffer: { pending: number; dead_letter: number }; problems: string[] };
    expect(body.buffer).toMatchObject({ pending: 0, dead_letter: 2 });
    expect(body.status).toBe("degraded");
    expect(body.problems).toContainEqual(expect.stringMatching(/^dead_letters: 2 /));
  });

  it("skips without touching the buffer while another run holds the lease", async () => {
    await sql.query(`INSERT INTO analytics_job_leases (job, holder, expires_at) VALUES ('drain', 'someone-else', now() + interval '1 minute')`);
    await bufferBatches(redis, PREFIX, batches(makeEvents(100, Date.now() - 60_000, 30_000), 50));

    await fireCron(DRAIN, workerEnv);

    expect(await redis.xlen(keys.buffer)).toBe(2);
    expect((await storedEventIds("postgres")).size).toBe(0);
    expect((await jobRuns("postgres", "drain")).map((r) => r.outcome)).toEqual(["skipped"]);

    // An expired lease is taken over.
    await sql.query(`UPDATE analytics_job_leases SET expires_at = now() - interval '1 second' WHERE job = 'drain'`);
    await fireCron(DRAIN, workerEnv);
    expect(await redis.xlen(keys.buffer)).toBe(0);
    expect((await storedEventIds("postgres")).size).toBe(100);
    expect((await sql.query(`SELECT count(*)::int AS n FROM analytics_job_leases WHERE job = 'drain'`))[0]).toEqual({ n: 0 });
  });

  it("records a failed run, keeps the buffer and does not blame the entries when PostgreSQL rejects every statement", async () => {
    // The insert fails for a reason that is not the data (42P01: a table is missing).
    await bufferBatches(redis, PREFIX, batches(makeEvents(100, Date.now() - 60_000, 30_000), 50));
    await sql.query(`ALTER TABLE analytics_event_ids RENAME TO analytics_event_ids_away`);
    try {
      await expect(fireCron(DRAIN, workerEnv)).rejects.toThrow(/drain run \d+ failed/);
    } finally {
      await sql.query(`ALTER TABLE analytics_event_ids_away RENAME TO analytics_event_ids`);
    }
    expect(await redis.xlen(keys.buffer)).toBe(2);
    expect(await redis.xlen(keys.deadLetter)).toBe(0);
    const [run] = await jobRuns("postgres", "drain");
    expect(run).toMatchObject({ outcome: "error" });
    expect(run!.error).toMatch(/analytics_event_ids/);

    await fireCron(DRAIN, workerEnv);
    expect((await storedEventIds("postgres")).size).toBe(100);
  });
});
