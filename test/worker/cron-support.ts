/**
 * Helpers for the cron tests (test/worker/cron-*.test.ts): an env per tier and key prefix, direct
 * clients for arranging and checking state, an independent event generator and its expected
 * counts, and a way to fire a Cron Trigger through the Worker's real `scheduled` handler.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import type { Redis } from "@upstash/redis/cloudflare";
import { inject } from "vitest";
import worker from "../../src/index";
import type { EventRow } from "../../src/domain/event";
import { bufferPayload } from "../../src/storage/buffer";
import { COUNTER_FIELDS, hourId, redisKeys } from "../../src/storage/redis-keys";
import { eventRow } from "../support/event-row";
import { testRedis, testSql, tierEnv } from "./support";

export type TierName = "postgres" | "timescale" | "timescale-apache";
export const TIER_NAMES: TierName[] = ["postgres", "timescale", "timescale-apache"];

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** The Worker's env pointed at one tier's database and a private Redis key prefix. */
export function cronEnv(tier: TierName, prefix: string): Env {
  return tierEnv(tier, { REDIS_KEY_PREFIX: prefix });
}

export function sqlFor(tier: TierName) {
  return testSql(inject("stack").databaseUrls[tier]);
}

export const redisClient = testRedis;

/** Empties every table the cron jobs read or write (rollups included) in one tier's database. */
export async function resetTables(tier: TierName): Promise<void> {
  const sql = sqlFor(tier);
  await sql.query(`TRUNCATE analytics_events_ts, analytics_event_ids, analytics_dirty_buckets, analytics_checks,
    analytics_job_runs, analytics_job_leases`);
  // Continuous aggregates (timescale) accept TRUNCATE as well: it empties their materialisation.
  await sql.query(`TRUNCATE analytics_hourly, analytics_daily, analytics_asset_popularity_ts`);
  // The dimension rollup (a plain table in every tier): another file's days must not be checked here.
  await sql.query(`TRUNCATE analytics_daily_dimensions`);
  // The daily job's record of the policies it ran itself (timescale only): another file's daily
  // run must not make this file's policies look already done.
  await sql.query(`DO $$ BEGIN IF to_regclass('analytics_policy_runs') IS NOT NULL THEN TRUNCATE analytics_policy_runs; END IF; END $$`);
}

/** Deletes every Redis key under `prefix`. */
export async function clearPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, { match: `${prefix}*`, count: 1000 });
    cursor = String(next);
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
}

/** Fires a Cron Trigger through the Worker's `scheduled` handler and waits for it. */
export async function fireCron(cron: string, cronEnvironment: Env, scheduledTime = Date.now()): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime }), cronEnvironment, ctx);
  await waitOnExecutionContext(ctx);
}

export const DRAIN = "* * * * *";
export const HOURLY = "0 * * * *";
export const DAILY = "30 3 * * *";

const NAMES: Array<[string, string]> = [
  ["page_view", "navigation"],
  ["click", "interaction"],
  ["asset_generated", "creation"],
  ["signup", "account"],
];
const ASSET_TYPES = ["image", "video", "model"];

/** `count` events spread evenly over [from, from + span), received at `receivedAt`. */
export function makeEvents(count: number, from: number, span: number, receivedAt = Date.now()): EventRow[] {
  return Array.from({ length: count }, (_, i) => {
    const [event_name, category] = NAMES[i % NAMES.length]!;
    const time = new Date(from + Math.floor((i * span) / count)).toISOString();
    return eventRow({
      time,
      event_name,
      category,
      user_id: i % 5 === 0 ? null : `u${i % 17}`,
      session_id: `s${i % 23}`,
      properties: event_name === "asset_generated" ? { asset_type: ASSET_TYPES[i % ASSET_TYPES.length] } : {},
      page_url: "https://example.com/",
      received_at: new Date(receivedAt).toISOString(),
      client_time: time,
    });
  });
}

/** Splits rows into batches of `size`, as the tracker sends them. */
export function batches<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Appends batches to the buffer stream exactly as the ingest script does (field `b`). */
export async function bufferBatches(redis: Redis, prefix: string, list: readonly EventRow[][]): Promise<string[]> {
  const ids: string[] = [];
  for (const chunk of batches(list, 500)) {
    const p = redis.pipeline();
    for (const rows of chunk) p.xadd(redisKeys(prefix).buffer, "*", { b: bufferPayload(rows) });
    ids.push(...((await p.exec()) as string[]));
  }
  return ids;
}

/** Appends one raw entry (anything in field `b`) to the buffer stream. */
export async function bufferRaw(redis: Redis, prefix: string, value: string): Promise<string> {
  return redis.xadd(redisKeys(prefix).buffer, "*", { b: value });
}

/** Increments the hour counters for `rows` as the ingest script does (total, e:<name>, c:<category>). */
export async function countInRedis(redis: Redis, prefix: string, rows: readonly EventRow[]): Promise<void> {
  const increments = new Map<string, Map<string, number>>();
  const add = (key: string, field: string) => {
    let fields = increments.get(key);
    if (!fields) increments.set(key, (fields = new Map()));
    fields.set(field, (fields.get(field) ?? 0) + 1);
  };
  for (const row of rows) {
    const key = redisKeys(prefix).hourCounters(hourId(new Date(row.time)));
    add(key, COUNTER_FIELDS.total);
    add(key, COUNTER_FIELDS.event(row.event_name));
    add(key, COUNTER_FIELDS.category(row.category));
  }
  const p = redis.pipeline();
  for (const [key, fields] of increments) for (const [field, n] of fields) p.hincrby(key, field, n);
  await p.exec();
}

/** Rollup rows computed in TypeScript from the events, keyed `bucket|event_name|category`. */
export function expectedRollup(rows: readonly EventRow[], width: number) {
  const groups = new Map<string, { count: number; users: Set<string>; sessions: Set<string> }>();
  for (const row of rows) {
    const bucket = new Date(Math.floor(Date.parse(row.time) / width) * width).toISOString();
    const key = `${bucket}|${row.event_name}|${row.category}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { count: 0, users: new Set(), sessions: new Set() }));
    g.count += 1;
    if (row.user_id !== null) g.users.add(row.user_id);
    if (row.session_id !== null) g.sessions.add(row.session_id);
  }
  return Object.fromEntries(
    [...groups].map(([key, g]) => [key, { event_count: g.count, unique_users: g.users.size, unique_sessions: g.sessions.size }]),
  );
}

/** Asset popularity per day computed in TypeScript, keyed `bucket|asset_type`. */
export function expectedAssets(rows: readonly EventRow[]) {
  const groups = new Map<string, { count: number; creators: Set<string> }>();
  for (const row of rows) {
    const type = row.properties.asset_type;
    if (row.event_name !== "asset_generated" || typeof type !== "string") continue;
    const key = `${new Date(Math.floor(Date.parse(row.time) / DAY) * DAY).toISOString()}|${type}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { count: 0, creators: new Set() }));
    g.count += 1;
    if (row.user_id !== null) g.creators.add(row.user_id);
  }
  return Object.fromEntries([...groups].map(([key, g]) => [key, { generation_count: g.count, unique_creators: g.creators.size }]));
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

/** A rollup relation's rows in [from, to), keyed like `expectedRollup`. */
export async function readRollup(tier: TierName, relation: "analytics_hourly" | "analytics_daily", from: number, to: number) {
  const rows = (await sqlFor(tier).query(
    `SELECT bucket, event_name, category, event_count::int, unique_users::int, unique_sessions::int
     FROM ${relation} WHERE bucket >= $1 AND bucket < $2`,
    [new Date(from).toISOString(), new Date(to).toISOString()],
  )) as Array<{ bucket: unknown; event_name: string; category: string; event_count: number; unique_users: number; unique_sessions: number }>;
  return Object.fromEntries(
    rows.map((r) => [
      `${iso(r.bucket)}|${r.event_name}|${r.category}`,
      { event_count: r.event_count, unique_users: r.unique_users, unique_sessions: r.unique_sessions },
    ]),
  );
}

export async function readAssets(tier: TierName, from: number, to: number) {
  const rows = (await sqlFor(tier).query(
    `SELECT bucket, asset_type, generation_count::int, unique_creators::int FROM analytics_asset_popularity_ts
     WHERE bucket >= $1 AND bucket < $2`,
    [new Date(from).toISOString(), new Date(to).toISOString()],
  )) as Array<{ bucket: unknown; asset_type: string; generation_count: number; unique_creators: number }>;
  return Object.fromEntries(
    rows.map((r) => [`${iso(r.bucket)}|${r.asset_type}`, { generation_count: r.generation_count, unique_creators: r.unique_creators }]),
  );
}

/** Stored raw events: how many rows per event_id (exactly once means every value is 1). */
export async function storedEventIds(tier: TierName): Promise<Map<string, number>> {
  const rows = (await sqlFor(tier).query(`SELECT event_id::text AS id, count(*)::int AS n FROM analytics_events_ts GROUP BY 1`)) as Array<{
    id: string;
    n: number;
  }>;
  return new Map(rows.map((r) => [r.id, r.n]));
}

export interface JobRun {
  job: string;
  outcome: string;
  counts: Record<string, unknown>;
  error: string | null;
}

export async function jobRuns(tier: TierName, job: string): Promise<JobRun[]> {
  return (await sqlFor(tier).query(
    `SELECT job, outcome, counts, error FROM analytics_job_runs WHERE job = $1 ORDER BY id`,
    [job],
  )) as JobRun[];
}
