/**
 * Bringing history across, against the machine's PostgreSQL 15 (tier `postgres`) and a private
 * redis-server: `npm run import -- events | legacy-redis | legacy-tables`, `npm run compare` and
 * `npm run cutover`, run as the commands users run (child processes), with a legacy fixture (the
 * legacy tables with four days of hourly counts; a Redis sorted set of 3,000 tracker events).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImportInterrupted, loadEvents } from "../../scripts/lib/import/event-loader";
import { readRecords } from "../../scripts/lib/import/records";
import { migrate } from "../../scripts/lib/migrator";
import { startPrivateRedis, type PrivateRedis } from "../../scripts/lib/redis-server";
import { startUpstashBridge, type UpstashBridge } from "../../scripts/lib/upstash-bridge";
import { popularAssetTypesWithOpenDay } from "../../src/read/popular-asset-types";
import { legacyEvents, loadLegacySchema, writeLegacySortedSet, type LegacyEvent } from "../support/legacy-fixture";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { prng } from "../support/prng";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ROOT = new URL("../../", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `scripts/<script>.ts` as `npm run <script>` would (tsx), with `env` added, optionally feeding stdin. */
function cli(script: string, args: string[], env: Record<string, string>, stdin?: Buffer): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", `scripts/${script}.ts`, ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (stdin) child.stdin!.end(stdin);
    else child.stdin!.end();
  });
}

function uuid(rand: () => number): string {
  const h = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Events of the last `days` days (closed hours only), half with event ids, half without. */
function historyEvents(n: number, days: number, seed: number): Record<string, unknown>[] {
  const rand = prng(seed);
  const end = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  return Array.from({ length: n }, (_, i) => ({
    ...(i % 2 === 0 ? { event_id: uuid(rand) } : {}),
    event_name: ["page_view", "click", "asset_generated"][i % 3],
    category: ["navigation", "interaction", "creation"][i % 3],
    timestamp: new Date(end - Math.floor(rand() * days * DAY)).toISOString(),
    user_id: `u${Math.floor(rand() * 50)}`,
    properties: i % 3 === 2 ? { asset_type: "image", seq: i } : { seq: i },
  }));
}

describe("history import (postgres tier)", () => {
  let db: TestDatabase;
  let legacyDb: TestDatabase;
  let emptyDb: TestDatabase;
  let redis: PrivateRedis;
  let upstash: UpstashBridge;
  let client: pg.Client;
  let dir: string;
  let env: Record<string, string>;

  const count = async (sql: string, values: unknown[] = []) => Number((await client.query(sql, values)).rows[0].n);
  const rawCount = () => count(`SELECT count(*) AS n FROM analytics_events_ts`);

  beforeAll(async () => {
    [db, legacyDb, emptyDb] = await Promise.all([createTestDatabase("eaw_hist"), createTestDatabase("eaw_legacy"), createTestDatabase("eaw_nolegacy")]);
    await migrate({ databaseUrl: db.url });
    await loadLegacySchema(legacyDb.url);
    redis = await startPrivateRedis();
    upstash = await startUpstashBridge({ redisUrl: redis.url, token: "legacy-token" });
    client = new pg.Client(db.url);
    await client.connect();
    dir = await mkdtemp(join(tmpdir(), "eaw-import-"));
    env = { DATABASE_URL: db.url, LEGACY_DATABASE_URL: legacyDb.url, LEGACY_REDIS_URL: redis.url };
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await upstash?.close();
    await redis?.stop();
    await Promise.all([db?.drop(), legacyDb?.drop(), emptyDb?.drop()]);
  });

  describe("npm run import -- events", () => {
    const events = historyEvents(3_000, 20, 1401);
    let ndjson: string;

    beforeAll(async () => {
      const lines = events.map((e) => JSON.stringify(e));
      lines.splice(10, 0, "{not json");
      lines.splice(20, 0, JSON.stringify({ event_name: "old", category: "x", timestamp: new Date(Date.now() - 120 * DAY).toISOString() }));
      lines.splice(30, 0, JSON.stringify({ event_name: "", category: "x", timestamp: new Date().toISOString() }));
      lines.splice(40, 0, JSON.stringify({ event_name: "no_time", category: "x" }));
      ndjson = join(dir, "events.ndjson");
      await writeFile(ndjson, `${lines.join("\n")}\n`);
    });

    it("stores every valid event once, lists refused lines with number and reason, marks the touched hours dirty", async () => {
      const run = await cli("import", ["events", ndjson], env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("read 3004 / stored 3000 / duplicates 0 / rejected 4");
      expect(await rawCount()).toBe(3_000);
      const rejects = (await readFile(`${ndjson}.rejects.ndjson`, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
      expect(rejects.map((r) => [r.line, r.code])).toEqual([[11, "malformed"], [21, "too_old"], [31, "invalid_field"], [41, "invalid_field"]]);
      expect(rejects[0].reason).toMatch(/malformed JSON/);
      expect(rejects[3].reason).toMatch(/^timestamp: required/);
      const hours = new Set(events.map((e) => `${String(e.timestamp).slice(0, 13)}:00:00.000Z`));
      const dirty = (await client.query(`SELECT bucket FROM analytics_dirty_buckets WHERE granularity = 'hour'`)).rows.map((r) => (r.bucket as Date).toISOString());
      expect(new Set(dirty)).toEqual(hours);
    });

    it("a second run of the same file stores nothing more", async () => {
      const run = await cli("import", ["events", ndjson], env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/stored 0 /);
      expect(await rawCount()).toBe(3_000);
    });

    it("the same events again on gzipped standard input, as CSV and as a JSON array: all duplicates", async () => {
      const gz = await cli("import", ["events", "-", "--rejects", join(dir, "stdin.rejects")], env, gzipSync(await readFile(ndjson)));
      expect(gz.code, gz.stderr).toBe(0);
      expect(gz.stdout).toContain("read 3004 / stored 0 / duplicates 3000 / rejected 4");

      const withIds = events.filter((e) => e.event_id);
      const csv = join(dir, "events.csv");
      const q = (v: unknown) => `"${String(v).replace(/"/g, '""')}"`;
      await writeFile(csv, ["event_id,event_name,category,timestamp,user_id,properties", ...withIds.map((e) => [e.event_id, e.event_name, e.category, e.timestamp, e.user_id, q(JSON.stringify(e.properties))].join(","))].join("\n"));
      const fromCsv = await cli("import", ["events", csv], env);
      expect(fromCsv.code, fromCsv.stderr).toBe(0);
      expect(fromCsv.stdout).toContain(`read ${withIds.length} / stored 0 / duplicates ${withIds.length} / rejected 0`);

      const json = join(dir, "events.json");
      await writeFile(json, JSON.stringify(events.slice(0, 100), null, 2));
      const fromJson = await cli("import", ["events", json], env);
      expect(fromJson.stdout).toContain("read 100 / stored 0 / duplicates 100 / rejected 0");
      expect(await rawCount()).toBe(3_000);
    });

    it("new CSV rows are stored; a CSV with an unknown column is refused before anything is written", async () => {
      const csv = join(dir, "new.csv");
      await writeFile(csv, `event_name,category,timestamp,user_id\nsignup,account,${new Date(Date.now() - 3 * DAY).toISOString()},u1\nsignup,account,${new Date(Date.now() - 2 * DAY).toISOString()},"u,2"\n`);
      const ok = await cli("import", ["events", csv], env);
      expect(ok.stdout).toContain("read 2 / stored 2 / duplicates 0 / rejected 0");
      expect(await count(`SELECT count(*) AS n FROM analytics_events_ts WHERE user_id = 'u,2'`)).toBe(1);
      // A clean import leaves no reject file behind.
      await expect(readFile(`${csv}.rejects.ndjson`, "utf8")).rejects.toThrow(/ENOENT/);

      const bad = join(dir, "bad.csv");
      await writeFile(bad, `event_name,category,timestamp,colour\nsignup,account,${new Date().toISOString()},red\n`);
      const run = await cli("import", ["events", bad], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('line 1 (CSV header): unknown column "colour" (column 4)');
      expect(await rawCount()).toBe(3_002);
    });

    it("an interrupted import resumes after its last committed chunk and stores each event once", async () => {
      const more = historyEvents(2_500, 10, 1402);
      const file = join(dir, "resume.ndjson");
      await writeFile(file, `${more.map((e) => JSON.stringify(e)).join("\n")}\n`);
      const before = await rawCount();
      const controller = new AbortController();
      const options = {
        databaseUrl: db.url,
        open: (skip: number) => readRecords(file, { skip }),
        unit: "line",
        source: "test:resume",
        rejectFile: null,
        chunkRecords: 1_000,
      };
      // Interrupted while the second chunk is being written: the first stays, the second rolls back.
      const interrupted = await loadEvents({ ...options, signal: controller.signal, onChunk: () => controller.abort() }).catch((e: unknown) => e);
      expect(interrupted).toBeInstanceOf(ImportInterrupted);
      expect((interrupted as ImportInterrupted).message).toContain("committed up to line 1000");
      expect(await rawCount()).toBe(before + 1_000);

      const resumed = await loadEvents(options);
      expect(resumed).toMatchObject({ resumed_after: 1_000, read: 1_500, stored: 1_500, duplicates: 0 });
      expect(await rawCount()).toBe(before + 2_500);
      expect(await count(`SELECT count(*) - count(DISTINCT event_id) AS n FROM analytics_events_ts`)).toBe(0);
    });
  });

  describe("npm run import -- legacy-redis", () => {
    const KEY = "analytics:events";
    let fixture: LegacyEvent[];

    beforeAll(async () => {
      fixture = legacyEvents(3_000, Date.now() - 30 * DAY, 72);
      expect(await writeLegacySortedSet(redis.url, KEY, fixture)).toBe(3_000);
    });

    it("reads the sorted set page by page and stores each event once; a second run stores nothing", async () => {
      const before = await rawCount();
      const first = await cli("import", ["legacy-redis", "--page", "700", "--rejects", join(dir, "redis.rejects")], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain("read 3000 / stored 3000 / duplicates 0 / rejected 0");
      expect(await rawCount()).toBe(before + 3_000);
      const second = await cli("import", ["legacy-redis", "--rejects", join(dir, "redis.rejects")], env);
      expect(second.stdout).toContain("read 3000 / stored 0 / duplicates 3000");
      expect(await rawCount()).toBe(before + 3_000);
    });

    it("renames fields with --map and reads through an Upstash REST URL", async () => {
      const renamed = legacyEvents(200, Date.now() - 40 * DAY, 24, 99);
      await writeLegacySortedSet(redis.url, "legacy:renamed", renamed, ({ event_name, user_id, ...rest }) => ({ ...rest, name: event_name, uid: user_id }));
      const map = join(dir, "map.json");
      await writeFile(map, JSON.stringify({ name: "event_name", uid: "user_id" }));
      const rest = { DATABASE_URL: db.url, LEGACY_UPSTASH_REDIS_REST_URL: upstash.url, LEGACY_UPSTASH_REDIS_REST_TOKEN: "legacy-token", LEGACY_REDIS_URL: "" };
      const run = await cli("import", ["legacy-redis", "--key", "legacy:renamed", "--map", map, "--rejects", join(dir, "r2")], rest);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("read 200 / stored 200 / duplicates 0 / rejected 0");
      expect(await count(`SELECT count(*) AS n FROM analytics_events_ts WHERE user_id = $1 AND time = $2`, [renamed[0]!.user_id, renamed[0]!.timestamp])).toBeGreaterThan(0);
    });

    it("a missing key or a wrong Redis is named", async () => {
      const run = await cli("import", ["legacy-redis", "--key", "no:such:key", "--rejects", join(dir, "r3")], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('key "no:such:key" is missing');
    });
  });

  describe("npm run import -- legacy-tables", () => {
    it("a missing legacy table is named and nothing is written", async () => {
      const run = await cli("import", ["legacy-tables"], { ...env, LEGACY_DATABASE_URL: emptyDb.url });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("legacy table analytics_events not found in LEGACY_DATABASE_URL");
      expect(await count(`SELECT count(*) AS n FROM analytics_imported_hourly`)).toBe(0);
    });

    it("stores the hourly and daily history for periods without raw events, once", async () => {
      const legacy = new pg.Client(legacyDb.url);
      await legacy.connect();
      const hourly = Number((await legacy.query(`SELECT count(*) AS n FROM analytics_events`)).rows[0].n);
      const daily = Number((await legacy.query(`SELECT count(*) AS n FROM analytics_asset_popularity`)).rows[0].n);
      // One legacy hour already has raw events here (it was imported as events): it is skipped.
      const covered = (await legacy.query(`SELECT hour FROM analytics_events ORDER BY hour LIMIT 1`)).rows[0].hour as Date;
      await legacy.end();
      await cli("import", ["events", "-", "--rejects", join(dir, "r4")], env, Buffer.from(JSON.stringify({ event_name: "page_view", category: "navigation", timestamp: new Date(covered.getTime() + 60_000).toISOString() })));

      const run = await cli("import", ["legacy-tables"], env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`analytics_events: read ${hourly} / stored ${hourly - 3} / skipped 3`);
      expect(run.stdout).toContain(`analytics_asset_popularity: read ${daily} / stored ${daily - 3} / skipped 3`);
      const again = await cli("import", ["legacy-tables"], env);
      expect(again.stdout).toContain(`analytics_events: read ${hourly} / stored 0 / skipped 3`);
      expect(await count(`SELECT count(*) AS n FROM analytics_imported_hourly`)).toBe(hourly - 3);
    });

    it("a mapped column that does not exist is named", async () => {
      const map = join(dir, "tables-map.json");
      await writeFile(map, JSON.stringify({ analytics_events: { hour: "bucket_hour" } }));
      const run = await cli("import", ["legacy-tables", "--map", map], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('legacy table analytics_events has no column "bucket_hour"');
    });
  });

  describe("npm run compare", () => {
    const end = () => Math.floor((Date.now() - 30 * DAY) / HOUR) * HOUR;

    it("reports zero differences on consistent data (legacy Redis vs the imported events, legacy tables vs the imported history)", async () => {
      const from = new Date(end() - 72 * HOUR).toISOString();
      const to = new Date(end()).toISOString();
      const run = await cli("compare", ["--from", from, "--to", to, "--legacy-redis", "--out", dir], env);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/: 0 differences, 0 past tolerance/);

      const legacyFrom = new Date(Math.floor(Date.now() / DAY) * DAY - 23 * DAY).toISOString();
      const tables = await cli("compare", ["--from", legacyFrom, "--to", new Date(Date.parse(legacyFrom) + 2 * DAY).toISOString(), "--legacy-tables", "--out", dir], env);
      expect(tables.code, tables.stdout + tables.stderr).toBe(0);
      expect(tables.stdout).toMatch(/legacy-tables: \d+ groups\): 0 differences/);
    });

    it("names the hour and event of an injected difference, writes CSV and JSON, exits non-zero", async () => {
      const hour = end() - 5 * HOUR;
      const extra: LegacyEvent = { event_name: "signup", category: "account", user_id: "u-extra", session_id: "s", timestamp: new Date(hour + 123_000).toISOString(), properties: { injected: true } };
      await writeLegacySortedSet(redis.url, "analytics:events", [extra]);
      const from = new Date(end() - 72 * HOUR).toISOString();
      const run = await cli("compare", ["--from", from, "--to", new Date(end()).toISOString(), "--legacy-redis", "--out", dir], env);
      expect(run.code).toBe(1);
      const hourIso = new Date(hour).toISOString().replace(".000Z", "Z");
      expect(run.stdout).toMatch(new RegExp(`legacy-redis\\s+${hourIso}\\s+signup\\s+\\*\\s+event_count\\s+\\d+\\s+\\d+\\s+-1\\s+FAIL`));
      const stamp = (iso: string) => iso.slice(0, 13).replace(/[-:]/g, "");
      const base = join(dir, `compare-${stamp(from)}-${stamp(new Date(end()).toISOString())}`);
      const report = JSON.parse(await readFile(`${base}.json`, "utf8"));
      expect(report.failing).toBeGreaterThan(0);
      expect(report.differences.every((d: { hour: string; event_name: string }) => d.hour === hourIso && d.event_name === "signup")).toBe(true);
      expect(await readFile(`${base}.csv`, "utf8")).toContain(`legacy-redis,${hourIso},signup,account,event_count`);
      // Within a documented tolerance it passes: 1 of the hour's signups is under 100 %.
      const tolerant = await cli("compare", ["--from", from, "--to", new Date(end()).toISOString(), "--legacy-redis", "--tolerance", "100", "--users-tolerance", "100", "--out", dir], env);
      expect(tolerant.code).toBe(0);
    });
  });

  describe("npm run cutover -- install-compat / revert-compat", () => {
    it("replaces the legacy get_popular_asset_types() with one answering like the read API, and reverts", async () => {
      // The new schema shares the database with the legacy tables and function.
      await loadLegacySchema(db.url);
      const legacyAnswer = (await client.query(`SELECT * FROM get_popular_asset_types(30, 10)`)).rows;
      expect(legacyAnswer.length).toBeGreaterThan(0);

      const install = await cli("cutover", ["install-compat"], env);
      expect(install.code, install.stderr).toBe(0);
      expect(install.stdout).toContain("renamed the legacy get_popular_asset_types(days_back integer, limit_count integer) to get_popular_asset_types_legacy");
      const today = Math.floor(Date.now() / DAY) * DAY;
      const api = popularAssetTypesWithOpenDay(new Date(today - 29 * DAY), new Date(today + DAY), 10);
      const expected = (await client.query(api.text, [...api.values])).rows
        .filter((r) => r.asset_type !== null)
        .map((r) => ({ asset_type: r.asset_type, generation_count: r.generation_count, unique_creators: r.unique_creators }));
      expect(expected.length).toBeGreaterThan(0);
      // Named arguments, as a Supabase RPC sends them.
      expect((await client.query(`SELECT * FROM get_popular_asset_types(days_back => 30, limit_count => 10)`)).rows).toEqual(expected);
      expect((await client.query(`SELECT * FROM get_popular_asset_types_legacy(30, 10)`)).rows).toEqual(legacyAnswer);
      expect((await cli("cutover", ["install-compat"], env)).stdout).toContain("already the compatible function");

      const revert = await cli("cutover", ["revert-compat"], env);
      expect(revert.code, revert.stderr).toBe(0);
      expect((await client.query(`SELECT * FROM get_popular_asset_types(30, 10)`)).rows).toEqual(legacyAnswer);
      expect(await count(`SELECT count(*) AS n FROM pg_proc WHERE proname LIKE 'get_popular_asset_types_legacy'`)).toBe(0);
    });
  });
});
