/**
 * History in the Worker: `POST /api/v1/import` (server key, up to 1,000 events of any age inside
 * raw retention, exactly once, no real-time counters, rollups rebuilt by the hourly job), and
 * imported legacy aggregates in `summary`, `series` and `popular-asset-types` in every storage
 * tier, where neither the hourly job's refresh nor the daily retention erases them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { createServices } from "../../src/services";
import { importEvents, importLegacyAssetPopularity, importLegacyHourly, prepareImport, type LegacyHourlyRow } from "../../src/storage/sql-import";
import { refreshRollups } from "../../src/storage/sql";
import type { SqlStatement } from "../../src/storage/sql";
import { DAILY, DAY, HOUR, HOURLY, TIER_NAMES, clearPrefix, cronEnv, fireCron, makeEvents, redisClient, resetTables, sqlFor, type TierName } from "./cron-support";

const IMPORT_KEY = "test-import-key-0123456789";
const READ = { authorization: "Bearer test-read-token-0123456789" };
const app = createApp(createServices);
const redis = redisClient();
const today = Math.floor(Date.now() / DAY) * DAY;
const iso = (ms: number) => new Date(ms).toISOString();

function importEnv(tier: TierName, prefix: string): Env {
  return { ...cronEnv(tier, prefix), IMPORT_KEYS: `other-key,${IMPORT_KEY}` } as Env;
}

async function post(env: Env, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${IMPORT_KEY}` }) {
  const response = await app.request("/api/v1/import", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }, env);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** `n` tracker-shaped events spread over the `days` days before the open hour. */
function historical(n: number, days: number) {
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  return Array.from({ length: n }, (_, i) => ({
    event_id: crypto.randomUUID(),
    event_name: ["page_view", "click"][i % 2],
    category: ["navigation", "interaction"][i % 2],
    timestamp: iso(end - 1 - Math.floor(((i + 0.5) / n) * days * DAY)),
    user_id: `u${i % 31}`,
  }));
}

describe("POST /api/v1/import", () => {
  const prefix = "import-api:";
  const env = importEnv("postgres", prefix);
  const sql = sqlFor("postgres");
  const events = historical(1_000, 60);

  beforeAll(async () => {
    await resetTables("postgres");
    await clearPrefix(redis, prefix);
  });

  it("refuses a missing key, a write key, a browser origin and more than 1,000 events", async () => {
    expect(await post(env, events.slice(0, 1), {})).toMatchObject({ status: 401, body: { error: { code: "missing_import_key", retryable: false } } });
    expect(await post(env, events.slice(0, 1), { "x-import-key": "test-write-key" })).toMatchObject({ status: 401, body: { error: { code: "invalid_import_key" } } });
    expect(await post(env, events.slice(0, 1), { authorization: `Bearer ${IMPORT_KEY}`, origin: "https://shop.example" })).toMatchObject({
      status: 403,
      body: { error: { code: "origin_not_allowed" } },
    });
    expect(await post(env, [...events, events[0]])).toMatchObject({ status: 413, body: { error: { code: "too_many_events" } } });
    expect(await post({ ...env, IMPORT_KEYS: "" } as Env, events.slice(0, 1))).toMatchObject({ status: 401, body: { error: { code: "invalid_import_key" } } });
  });

  it("stores 1,000 events of up to 60 days once, touches no Redis counter and marks their hours dirty", async () => {
    const first = await post(env, { events });
    expect(first).toEqual({ status: 202, body: { accepted: 1_000, duplicates: 0, rejected: [] } });
    const again = await post(env, { events, sent_at: iso(Date.now()) });
    expect(again).toEqual({ status: 202, body: { accepted: 0, duplicates: 1_000, rejected: [] } });
    const [{ n }] = (await sql.query(`SELECT count(*)::int AS n FROM analytics_events_ts`)) as [{ n: number }];
    expect(n).toBe(1_000);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    const hours = new Set(events.map((e) => `${e.timestamp.slice(0, 13)}:00:00.000Z`));
    const dirty = (await sql.query(`SELECT bucket FROM analytics_dirty_buckets WHERE granularity = 'hour'`)) as Array<{ bucket: string }>;
    expect(new Set(dirty.map((d) => new Date(d.bucket).toISOString()))).toEqual(hours);
  });

  it("answers per event like ingest: too old for raw retention and invalid events by index, the rest stored", async () => {
    const batch = [
      { event_name: "signup", category: "account", timestamp: iso(Date.now() - 30 * DAY), user_id: "new-1" },
      { event_name: "signup", category: "account", timestamp: iso(Date.now() - 120 * DAY) },
      { event_name: "", category: "account", timestamp: iso(Date.now() - 2 * DAY) },
    ];
    const answer = await post(env, batch);
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toBe(1);
    expect(answer.body.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([[1, "too_old"], [2, "invalid_field"]]);
    expect((await post(env, batch.slice(1))).status).toBe(422);
  });

  it("the hourly job rebuilds the rollups of the imported hours", async () => {
    await fireCron(HOURLY, env);
    const hour = Math.floor(Date.parse(events[500]!.timestamp) / HOUR) * HOUR;
    const expected = events.filter((e) => Math.floor(Date.parse(e.timestamp) / HOUR) * HOUR === hour).length;
    const rows = (await sql.query(`SELECT sum(event_count)::int AS n FROM analytics_hourly WHERE bucket = $1`, [iso(hour)])) as [{ n: number }];
    expect(rows[0].n).toBe(expected);
  });

  it("is in /openapi.json", async () => {
    const doc = (await (await app.request("/openapi.json", {}, env)).json()) as { paths: Record<string, unknown> };
    expect(doc.paths["/api/v1/import"]).toHaveProperty("post");
  });
});

describe.each(TIER_NAMES)("imported history, tier %s", (tier) => {
  const prefix = `import-history-${tier}:`;
  const env = importEnv(tier, prefix);
  const sql = sqlFor(tier);
  const run = (s: SqlStatement) => sql.query(s.text, [...s.values]);
  /** Older than the 90-day raw retention, and one inside it whose noon has raw events. */
  const oldDay = today - 100 * DAY;
  const recentDay = today - 10 * DAY;
  const rawHour = recentDay + 12 * HOUR;
  const legacyRows: LegacyHourlyRow[] = [];
  for (const day of [oldDay, recentDay]) {
    for (let h = 0; h < 24; h++) {
      legacyRows.push({ bucket: iso(day + h * HOUR), event_name: "page_view", category: "navigation", event_count: h + 1, unique_users: 1 });
      legacyRows.push({ bucket: iso(day + h * HOUR), event_name: "click", category: "interaction", event_count: 2, unique_users: 2 });
    }
  }
  const raw = makeEvents(40, rawHour, HOUR).filter((e) => e.event_name === "page_view");
  const importedFor = (hour: number, name: string) => legacyRows.find((r) => r.bucket === iso(hour) && r.event_name === name)!.event_count;

  const get = async (path: string) => {
    const response = await app.request(`/api/v1/analytics/${path}`, { headers: READ }, env);
    const body = (await response.json()) as any;
    expect(response.status, JSON.stringify(body)).toBe(200);
    return body;
  };

  beforeAll(async () => {
    await resetTables(tier);
    await sql.query(`TRUNCATE analytics_imported_hourly, analytics_imported_asset_popularity`);
    await clearPrefix(redis, prefix);
    await run(prepareImport(raw.map((e) => e.time)));
    await run(importEvents(raw));
    // The raw hour is skipped: the new system has data for it.
    const [stored] = (await run(importLegacyHourly(legacyRows, "test"))) as [{ stored: number; covered: number }];
    expect(stored).toEqual({ stored: legacyRows.length - 2, covered: 2 });
    // The recent day has raw events: its legacy asset rows are skipped, the new system's count.
    const [assets] = (await run(
      importLegacyAssetPopularity(
        [oldDay, recentDay].flatMap((d) => [
          { bucket: iso(d), asset_type: "image", generation_count: 30, unique_creators: 4 },
          { bucket: iso(d), asset_type: "video", generation_count: 10, unique_creators: 2 },
        ]),
        "test",
      ),
    )) as [{ stored: number; covered: number }];
    expect(assets).toEqual({ stored: 2, covered: 2 });
    // The hourly job (rollups of the dirty raw hour), a refresh over the imported day that has no
    // raw rows (the continuous-aggregate trap), and the daily job (retention) all run first.
    await fireCron(HOURLY, env);
    await run(refreshRollups(new Date(recentDay), new Date(recentDay + DAY)));
    await fireCron(DAILY, env);
  }, 120_000);

  afterAll(async () => {
    await sql.query(`TRUNCATE analytics_imported_hourly, analytics_imported_asset_popularity`);
    await resetTables(tier);
  });

  it("summary, hourly: imported hours flagged, the raw hour from the rollup", async () => {
    const body = await get(`summary?interval=hour&from=${iso(recentDay)}&to=${iso(recentDay + DAY)}&event_name=page_view`);
    expect(body.rows).toHaveLength(24);
    for (const row of body.rows) {
      const hour = Date.parse(row.bucket);
      if (hour === rawHour) expect(row).toEqual({ bucket: iso(hour), event_name: "page_view", category: "navigation", event_count: raw.length, unique_users: new Set(raw.map((e) => e.user_id).filter(Boolean)).size, unique_sessions: new Set(raw.map((e) => e.session_id)).size, complete: true });
      else expect(row).toMatchObject({ event_count: importedFor(hour, "page_view"), unique_users: 1, complete: true, imported: true });
    }
  });

  it("summary, daily: imported hours and raw rows add up; history older than raw retention is still there", async () => {
    const body = await get(`summary?interval=day&from=${iso(oldDay)}&to=${iso(recentDay + DAY)}&event_name=page_view`);
    const importedDay = (day: number) => legacyRows.filter((r) => r.event_name === "page_view" && Date.parse(r.bucket) >= day && Date.parse(r.bucket) < day + DAY && Date.parse(r.bucket) !== rawHour).reduce((s, r) => s + r.event_count, 0);
    expect(body.rows.map((r: any) => [r.bucket, r.event_count, r.imported])).toEqual([
      [iso(oldDay), importedDay(oldDay), true],
      [iso(recentDay), importedDay(recentDay) + raw.length, true],
    ]);
  });

  it("series: gap-free, imported buckets flagged", async () => {
    const body = await get(`series?event_name=click&interval=hour&from=${iso(oldDay)}&to=${iso(oldDay + DAY)}`);
    expect(body.points).toHaveLength(24);
    expect(body.points.every((p: any) => p.event_count === 2 && p.imported === true && p.complete)).toBe(true);
  });

  it("popular-asset-types: the imported day, flagged", async () => {
    const body = await get(`popular-asset-types?from=${iso(oldDay)}&to=${iso(recentDay + DAY)}`);
    expect(body.rows).toEqual([
      { asset_type: "image", generation_count: 30, unique_creators: 4, imported: true },
      { asset_type: "video", generation_count: 10, unique_creators: 2, imported: true },
    ]);
  });
});
