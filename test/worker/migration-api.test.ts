import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { createApp } from "../../src/app";
import { LatencyRecorder, METRICS, isolateLatency } from "../../src/metrics/latency";
import { measuredSql } from "../../src/metrics/piggyback";
import { createServices } from "../../src/services";
import { createSqlClient } from "../../src/storage/clients";
import { INSERT_EVENTS, insertEventsValues } from "../../src/storage/sql";
import { loadConfig } from "../../src/config";
import { eventRow } from "../support/event-row";
import { bridgeStats, control, resetBridgeStats, testSql } from "./support";

const TOKEN = "test-read-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const BASE = "http://worker/api/v1/analytics";
const ROUTES = ["realtime/minutes", "migration/latency", "migration/consistency", "migration/buffer", "migration/storage", "migration/jobs"];
const sql = testSql();
const app = createApp(createServices);

interface ErrorBody {
  error: { code: string; message: string; retryable: boolean; details?: { store?: string } };
}

/** Through the app with the real services, waiting for its after-response work. */
async function request(path: string, init: RequestInit = {}, bindings: Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.request(path, init, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const get = <T,>(path: string) => request(`${BASE}/${path}`, { headers: AUTH }).then(async (r) => ({ status: r.status, body: (await r.json()) as T, headers: r.headers }));

function event(minutesAgo = 1): Record<string, unknown> {
  return {
    event_id: crypto.randomUUID(),
    event_name: "migration_probe",
    category: "test",
    timestamp: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    user_id: "u-m",
    session_id: "s-m",
  };
}

async function post(events: Array<Record<string, unknown>>, bindings: Env = env): Promise<Response> {
  return request(BASE, { method: "POST", headers: { "content-type": "application/json", "x-write-key": "test-write-key" }, body: JSON.stringify({ events }) }, bindings);
}

afterAll(async () => {
  await control("redis/start");
  await control("postgres/start");
});

describe("migration-health read routes", () => {
  it.each(ROUTES)("GET /%s needs the bearer token (401 as JSON)", async (path) => {
    const response = await request(`${BASE}/${path}`);
    expect(response.status).toBe(401);
    expect(((await response.json()) as ErrorBody).error).toMatchObject({ code: "missing_read_token", retryable: false });
  });

  it("refuses bad parameters with 400 invalid_parameter naming them", async () => {
    for (const [path, param] of [
      ["migration/latency?interval=week", "interval"],
      ["migration/jobs?from=2020-01-01&to=2020-03-01", "from"],
      ["realtime/minutes?minutes=61", "minutes"],
      ["migration/storage?x=1", "x"],
      ["migration/consistency?to=yesterday", "to"],
    ] as const) {
      const { status, body } = await get<ErrorBody>(path);
      expect(status, path).toBe(400);
      expect(body.error.code).toBe("invalid_parameter");
      expect(body.error.message.startsWith(param), body.error.message).toBe(true);
    }
  });

  it("are in /openapi.json with the bearer scheme", async () => {
    const doc = (await (await request("http://worker/openapi.json")).json()) as { paths: Record<string, { get?: { security?: unknown[] } }> };
    for (const path of ROUTES) {
      expect(doc.paths[`/api/v1/analytics/${path}`]?.get?.security, path).toEqual([{ readToken: [] }]);
    }
  });

  it("realtime/minutes: one point per minute in one Redis request, adding up to what /realtime counts", async () => {
    await post([event(0), event(0), event(2)]);
    // The first call loads the script (EVALSHA answers NOSCRIPT, then EVAL); count a warm one.
    await get("realtime/minutes?minutes=1");
    await resetBridgeStats();
    const minutes = await get<{ points: Array<{ minute: string; event_count: number }> }>("realtime/minutes?minutes=10");
    expect((await bridgeStats()).redis.requests).toBe(1);
    expect(minutes.status).toBe(200);
    expect(minutes.body.points).toHaveLength(10);
    const realtime = await get<{ event_count: number; from: string }>("realtime?minutes=10");
    expect(minutes.body.points[0]!.minute).toBe(realtime.body.from);
    expect(minutes.body.points.reduce((n, p) => n + p.event_count, 0)).toBe(realtime.body.event_count);
    expect(realtime.body.event_count).toBeGreaterThanOrEqual(3);
  });

  it("latency: the worker's own measurements ride along with the direct insert (still 1 statement, 2 Redis requests)", async () => {
    // A measurement old enough to be written with the next insert.
    isolateLatency.record(METRICS.read("/api/v1/analytics/summary"), 12.5, Date.now() - 10_000);
    await resetBridgeStats();
    expect((await post([event()])).status).toBe(202);
    const stats = await bridgeStats();
    expect(stats.postgres?.statements).toBe(1);
    expect(stats.redis.requests).toBe(2);
    // This request's own Redis step is now pending; make it due and carry it with one more batch.
    const pending = isolateLatency.pendingCount();
    expect(pending).toBeGreaterThanOrEqual(2);
    isolateLatency.restore(isolateLatency.takeDue(Date.now() + 10_000) ?? []);
    await post([event()]);
    const { status, body, headers } = await get<{ metrics: Array<{ metric: string; count: number; p50: number; p99: number }>; points: Array<{ bucket: string; metric: string }> }>("migration/latency");
    expect(status).toBe(200);
    expect(headers.get("cache-control")).toBe("no-store");
    const by = new Map(body.metrics.map((m) => [m.metric, m]));
    expect(by.get("read:/api/v1/analytics/summary")).toMatchObject({ count: expect.any(Number), p50: expect.any(Number) });
    expect(by.get("redis_ingest")!.count).toBeGreaterThanOrEqual(1);
    expect(by.get("postgres_insert")!.count).toBeGreaterThanOrEqual(1);
    expect(by.get("redis_ingest")!.p99).toBeGreaterThanOrEqual(by.get("redis_ingest")!.p50);
    expect(body.points.some((p) => p.metric === "redis_ingest")).toBe(true);
  });

  it("latency rows are written inside INSERT_EVENTS, and put back when the statement fails", async () => {
    // The other path's project ran this test on the same database.
    await sql.query(`DELETE FROM analytics_latency WHERE metric = 'probe_metric'`);
    const recorder = new LatencyRecorder(() => 0.5);
    for (let i = 0; i < 150; i++) recorder.record("probe_metric", i, Date.now() - 20_000);
    const measured = measuredSql(createSqlClient(loadConfig(env)), "probe_insert", recorder);
    const row = eventRow({ event_name: "latency_probe", category: "test" });
    await resetBridgeStats();
    const result = (await measured.query(INSERT_EVENTS, insertEventsValues([row]))) as Array<{ inserted: number }>;
    expect(result[0]!.inserted).toBe(1);
    expect((await bridgeStats()).postgres?.statements).toBe(1);
    const stored = (await sql.query(`SELECT count, array_length(samples, 1) AS kept FROM analytics_latency WHERE metric = 'probe_metric'`)) as Array<{ count: number; kept: number }>;
    expect(stored).toEqual([{ count: 150, kept: 100 }]);
    // The insert itself was timed and waits for the next statement.
    expect(recorder.pendingCount()).toBe(1);

    await control("postgres/stop");
    try {
      recorder.record("probe_metric", 1, Date.now() - 20_000);
      await expect(measured.query(INSERT_EVENTS, insertEventsValues([{ ...row, event_id: crypto.randomUUID() }]))).rejects.toThrow();
      expect(recorder.pendingCount()).toBe(2);
    } finally {
      await control("postgres/start");
    }
  });

  it("consistency: each checked hour as match, healed or drift, with the drifting rows", async () => {
    const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 5 * 3_600_000;
    const hour = (i: number) => new Date(base + i * 3_600_000).toISOString();
    await sql.query(`DELETE FROM analytics_checks WHERE hour >= $1`, [hour(0)]);
    await sql.query(
      `INSERT INTO analytics_checks (hour, scope, redis_count, raw_count, rollup_count, drift, status, action) VALUES
        ($1, '*', 10, 10, 10, 0, 'match', NULL),
        ($2, '*', 12, 12, 15, 3, 'drift', 'rollup_healed'),
        ($2, 'click', 5, 5, 8, 3, 'drift', 'rollup_healed'),
        ($3, '*', 9, 12, 12, 3, 'drift', 'redis_differs'),
        ($3, 'click', 4, 4, 4, 0, 'match', NULL)`,
      [hour(0), hour(1), hour(2)],
    );
    const { status, body } = await get<{ hours: Array<{ hour: string; state: string; compared: number; matched: number; healed: number; drifting: number }>; drifting: Array<{ hour: string; scope: string; action: string }> }>(
      `migration/consistency?from=${hour(0)}`,
    );
    expect(status).toBe(200);
    expect(body.hours.map((h) => [h.hour.slice(0, 13), h.state, h.compared, h.matched, h.healed, h.drifting])).toEqual([
      [hour(0).slice(0, 13), "match", 1, 1, 0, 0],
      [hour(1).slice(0, 13), "healed", 2, 0, 2, 0],
      [hour(2).slice(0, 13), "drift", 2, 1, 0, 1],
    ]);
    expect(body.drifting.map((d) => [d.hour.slice(0, 13), d.scope, d.action])).toEqual([
      [hour(1).slice(0, 13), "*", "rollup_healed"],
      [hour(1).slice(0, 13), "click", "rollup_healed"],
      [hour(2).slice(0, 13), "*", "redis_differs"],
    ]);
  });

  it("storage: bytes per day, and compression 'not available on this tier' on plain PostgreSQL", async () => {
    const { status, body } = await get<{ tier: string; database_bytes: number; days: Array<{ day: string; bytes: number }>; compression: { available: boolean; reason: string } }>("migration/storage");
    expect(status).toBe(200);
    expect(body.tier).toBe("postgres");
    expect(body.database_bytes).toBeGreaterThan(0);
    expect(body.days.length).toBeGreaterThan(0);
    expect(body.days.at(-1)!.day).toBe(new Date().toISOString().slice(0, 10));
    expect(body.days.every((d) => d.bytes > 0)).toBe(true);
    expect(body.compression).toEqual({ available: false, reason: expect.stringContaining("Not available on this tier") });
  });

  it("jobs: runs and failures per job and bucket, with the latest run and error", async () => {
    await sql.query(`DELETE FROM analytics_job_runs WHERE job LIKE 'probe_%'`);
    await sql.query(
      `INSERT INTO analytics_job_runs (job, started_at, finished_at, outcome, error) VALUES
        ('probe_a', now() - interval '30 minutes', now() - interval '29 minutes', 'ok', NULL),
        ('probe_a', now() - interval '10 minutes', now() - interval '9 minutes', 'error', 'database down'),
        ('probe_a', now() - interval '5 minutes', now() - interval '5 minutes', 'skipped', NULL)`,
    );
    const { status, body } = await get<{ jobs: Array<{ job: string; runs: number; ok: number; errors: number; skipped: number; last_run: { outcome: string }; last_error: { message: string } }>; points: Array<{ job: string; runs: number; errors: number }> }>("migration/jobs");
    expect(status).toBe(200);
    const probe = body.jobs.find((j) => j.job === "probe_a")!;
    expect(probe).toMatchObject({ runs: 3, ok: 1, errors: 1, skipped: 1, last_run: { outcome: "skipped" }, last_error: { message: "database down" } });
    const points = body.points.filter((p) => p.job === "probe_a");
    expect(points.reduce((n, p) => n + p.runs, 0)).toBe(3);
    expect(points.reduce((n, p) => n + p.errors, 0)).toBe(1);
  });

  it("buffer: batches waiting in the write-ahead buffer (buffered mode)", async () => {
    const before = await get<{ pending: number; dead_letter: number }>("migration/buffer");
    await post([event()], { ...env, INGEST_MODE: "buffered" } as Env);
    const after = await get<{ pending: number; dead_letter: number; oldest_age_seconds: number }>("migration/buffer");
    expect(after.status).toBe(200);
    expect(after.body.pending).toBe(before.body.pending + 1);
    expect(after.body.oldest_age_seconds).toBeGreaterThanOrEqual(0);
  });

  it("a store that is down answers 503 storage_unavailable naming it, on the new and the existing read routes", async () => {
    // A store that is down is logged once, as a warning naming it: never as an unhandled error.
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    onTestFinished(() => {
      errors.mockRestore();
      warnings.mockRestore();
    });
    await control("redis/stop");
    try {
      for (const path of ["realtime", "realtime/minutes", "migration/buffer"]) {
        const { status, body } = await get<ErrorBody>(path);
        expect(status, path).toBe(503);
        expect(body.error).toMatchObject({ code: "storage_unavailable", retryable: true, details: { store: "redis" } });
      }
    } finally {
      await control("redis/start");
    }
    await control("postgres/stop");
    try {
      for (const path of ["summary", "checks", "migration/storage", "migration/latency"]) {
        const { status, body, headers } = await get<ErrorBody>(path);
        expect(status, path).toBe(503);
        expect(headers.get("retry-after")).toBe("10");
        expect(body.error).toMatchObject({ code: "storage_unavailable", retryable: true, details: { store: "postgres" } });
        expect(body.error.message).toContain("PostgreSQL");
      }
    } finally {
      await control("postgres/start");
    }
    expect(errors.mock.calls.map((call) => String(call[0])).filter((line) => line.includes('"unhandled"'))).toEqual([]);
    const unreachable = warnings.mock.calls.map((call) => String(call[0])).filter((line) => line.includes('"read_store_unreachable"'));
    expect(unreachable).toHaveLength(7);
  });
});

describe("dashboard route", () => {
  it("serves the page at / with a same-origin CSP, and says when the read API is off", async () => {
    const page = await request("http://worker/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain('data-read-api="enabled"');
    const off = await request("http://worker/", {}, { ...env, READ_TOKEN: undefined } as unknown as Env);
    expect(await off.text()).toContain('data-read-api="disabled"');
  });

  it("serves its script and stylesheet, cached for a year under a versioned URL", async () => {
    const html = await (await request("http://worker/")).text();
    for (const path of [...html.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g)].map((m) => m[1]!)) {
      const response = await request(`http://worker${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(response.headers.get("content-type")).toMatch(/text\/(javascript|css)/);
    }
    const unversioned = await request("http://worker/dashboard/app.js");
    expect(unversioned.headers.get("cache-control")).toBe("no-cache");
  });
});
