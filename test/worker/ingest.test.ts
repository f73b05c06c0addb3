import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { createApp } from "../../src/app";
import { createServices } from "../../src/services";
import { hourId, redisKeys } from "../../src/storage/redis-keys";
import { bridgeStats, control, resetBridgeStats, testRedis, testSql } from "./support";

const KEY = "test-write-key";
const URL_BASE = "http://worker.test/api/v1/analytics";
const keys = redisKeys(env.REDIS_KEY_PREFIX);
const redis = testRedis();
const sql = testSql();

/** A realistic event, a few minutes old, with a fresh UUID. */
function event(overrides: Record<string, unknown> = {}, minutesAgo = 5): Record<string, unknown> {
  return {
    event_id: crypto.randomUUID(),
    event_name: "page_view",
    category: "navigation",
    timestamp: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    user_id: `user-${Math.floor(Math.random() * 1000)}`,
    session_id: `session-${Math.floor(Math.random() * 100)}`,
    properties: { path: "/pricing", plan: "pro" },
    page_url: "https://shop.example/pricing?utm_source=news&token=secret",
    ...overrides,
  };
}

function batch(n: number, overrides: Record<string, unknown> = {}) {
  return Array.from({ length: n }, () => event(overrides));
}

/** Posts through the Worker's own fetch handler and waits for its waitUntil work (the insert). */
async function post(
  body: BodyInit | object,
  init: { headers?: Record<string, string>; key?: string | null; query?: string; env?: Env } = {},
): Promise<Response> {
  const key = init.key === undefined ? KEY : init.key;
  const headers: Record<string, string> = { "content-type": "application/json", ...(key ? { "x-write-key": key } : {}), ...init.headers };
  const payload = typeof body === "string" || body instanceof Uint8Array || body instanceof ArrayBuffer ? body : JSON.stringify(body);
  const request = new Request(`${URL_BASE}${init.query ?? ""}`, { method: "POST", headers, body: payload as BodyInit });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, init.env ?? env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function storedCount(ids: string[]): Promise<number> {
  const rows = (await sql.query(`SELECT count(*)::int AS n FROM analytics_events_ts WHERE event_id = ANY($1::uuid[])`, [ids])) as Array<{ n: number }>;
  return rows[0]!.n;
}

async function hourTotal(date: Date): Promise<number> {
  return Number((await redis.hget(keys.hourCounters(hourId(date)), "total")) ?? 0);
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

interface IngestBody {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; code: string; message: string }>;
}

interface ErrorBody {
  error: { code: string; message: string; retryable: boolean };
}

beforeAll(async () => {
  // Warm the script cache so round-trip counts below are the steady state (first EVALSHA after a
  // Redis start answers NOSCRIPT and is retried as EVAL by the client).
  await post(batch(1));
});

afterAll(async () => {
  await control("redis/start");
  await control("postgres/start");
});

beforeEach(async () => {
  await control("redis/start");
  await control("postgres/start");
  await redis.flushdb();
  await sql.query("TRUNCATE analytics_events_ts, analytics_event_ids, analytics_dirty_buckets");
});

describe("POST /api/v1/analytics: accepted batches", () => {
  it("stores a 50-event batch once in PostgreSQL, counts it once in Redis and empties the buffer", async () => {
    const events = batch(50);
    const response = await post({ events, sent_at: new Date().toISOString() });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 50, duplicates: 0, rejected: [] });
    expect(await storedCount(events.map((e) => e.event_id as string))).toBe(50);
    expect(await hourTotal(new Date(events[0]!.timestamp as string))).toBe(50);
    expect(await redis.xlen(keys.buffer)).toBe(0);
  });

  it("stores and counts a batch resent three times with new sent_at values exactly once", async () => {
    const events = batch(50);
    const answers: IngestBody[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const response = await post({ events, sent_at: new Date(Date.now() + attempt * 1_500).toISOString() });
      expect(response.status).toBe(202);
      answers.push((await response.json()) as IngestBody);
    }
    expect(answers[0]).toEqual({ accepted: 50, duplicates: 0, rejected: [] });
    for (const later of answers.slice(1)) expect(later).toEqual({ accepted: 0, duplicates: 50, rejected: [] });
    expect(await storedCount(events.map((e) => e.event_id as string))).toBe(50);
    expect(await hourTotal(new Date(events[0]!.timestamp as string))).toBe(50);
  });

  it("answers per event for a resend regrouped with new events, and counts only the new ones", async () => {
    const first = batch(20);
    expect(await (await post({ events: first })).json()).toEqual({ accepted: 20, duplicates: 0, rejected: [] });
    const fresh = batch(5, { event_name: "signup", category: "account", session_id: "session-new" });
    const regrouped = [...first.slice(10), ...fresh];
    const response = await post({ events: regrouped, sent_at: new Date().toISOString() });
    expect(await response.json()).toEqual({ accepted: 5, duplicates: 10, rejected: [] });

    expect(await storedCount([...first, ...fresh].map((e) => e.event_id as string))).toBe(25);
    const hour = keys.hourCounters(hourId(new Date(first[0]!.timestamp as string)));
    expect(await redis.hgetall(hour)).toMatchObject({
      total: 25,
      "e:page_view": 20,
      "e:signup": 5,
      "c:navigation": 20,
      "c:account": 5,
    });
    expect(await redis.zscore(keys.activeSessions, "session-new")).not.toBeNull();
  });

  it("stores the 47 valid events of a batch with 3 invalid ones and reports the 3 by index", async () => {
    const events = batch(50);
    events[3] = event({ event_name: 42 });
    events[17] = event({ timestamp: new Date(Date.now() - 30 * 86_400_000).toISOString() });
    events[44] = event({ properties: "not an object" });
    const response = await post({ events });
    expect(response.status).toBe(202);
    const body = (await response.json()) as IngestBody;
    expect(body.accepted).toBe(47);
    expect(body.rejected.map((r) => r.index)).toEqual([3, 17, 44]);
    expect(body.rejected.map((r) => r.code)).toEqual(["invalid_field", "too_old", "invalid_field"]);
    const valid = events.filter((_, i) => ![3, 17, 44].includes(i)).map((e) => e.event_id as string);
    expect(await storedCount(valid)).toBe(47);
  });

  it("accepts a sendBeacon body (text/plain, key in the body) and a key in the query string", async () => {
    const beacon = batch(3);
    const viaBody = await post(JSON.stringify({ events: beacon, write_key: KEY }), {
      headers: { "content-type": "text/plain;charset=UTF-8" },
      key: null,
    });
    expect(viaBody.status).toBe(202);
    const viaQuery = await post(batch(2), { key: null, query: `?key=${KEY}` });
    expect(viaQuery.status).toBe(202);
    expect(await storedCount(beacon.map((e) => e.event_id as string))).toBe(3);
  });

  it("accepts gzip bodies, labelled or recognised by their magic bytes", async () => {
    const labelled = batch(5);
    const sniffed = batch(5);
    expect((await post(await gzip(JSON.stringify({ events: labelled })), { headers: { "content-encoding": "gzip" } })).status).toBe(202);
    expect((await post(await gzip(JSON.stringify(sniffed)))).status).toBe(202);
    expect(await storedCount([...labelled, ...sniffed].map((e) => e.event_id as string))).toBe(10);
  });

  it("scrubs query strings from page URLs except utm_* and ref", async () => {
    const events = batch(1);
    await post({ events });
    const rows = (await sql.query(`SELECT page_url FROM analytics_events_ts WHERE event_id = $1`, [events[0]!.event_id])) as Array<{ page_url: string }>;
    expect(rows[0]!.page_url).toBe("https://shop.example/pricing?utm_source=news");
  });

  it("answers CORS preflights for browser trackers", async () => {
    const response = await worker.fetch(
      new Request(URL_BASE, {
        method: "OPTIONS",
        headers: { origin: "https://shop.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-write-key" },
      }),
      env,
      createExecutionContext(),
    );
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-write-key");
  });
});

describe("POST /api/v1/analytics: round trips", () => {
  it("direct mode: one Redis request before the response, one PostgreSQL statement and one buffer delete after", async () => {
    await resetBridgeStats();
    const response = await post({ events: batch(50) });
    expect(response.status).toBe(202);
    const stats = await bridgeStats();
    expect(stats.redis.requests).toBe(2);
    expect(stats.redis.commands).toBe(2);
    expect(stats.postgres?.statements).toBe(1);
    expect(stats.postgres?.requests).toBe(1);
  });

  it("buffered mode: exactly one Redis request (one command) and no PostgreSQL statement per batch", async () => {
    const buffered = { ...env, INGEST_MODE: "buffered" } as Env;
    await post({ events: batch(1) }, { env: buffered });
    await resetBridgeStats();
    const events = batch(50);
    const response = await post({ events }, { env: buffered });
    expect(response.status).toBe(202);
    const stats = await bridgeStats();
    expect(stats.redis).toMatchObject({ requests: 1, commands: 1 });
    expect(stats.postgres?.statements).toBe(0);
    expect(await redis.xlen(keys.buffer)).toBe(2);
    expect(await storedCount(events.map((e) => e.event_id as string))).toBe(0);
  });
});

describe("POST /api/v1/analytics: refusals", () => {
  const cases: Array<{ name: string; send: () => Promise<Response>; status: number; code: string }> = [
    { name: "no write key", send: () => post(batch(1), { key: null }), status: 401, code: "missing_write_key" },
    { name: "unknown write key", send: () => post(batch(1), { key: "nope" }), status: 401, code: "invalid_write_key" },
    { name: "51 events", send: () => post(batch(51)), status: 413, code: "too_many_events" },
    { name: "a 10 MB body", send: () => post(`{"events":[${" ".repeat(10 * 1024 * 1024)}]}`), status: 413, code: "body_too_large" },
    { name: "malformed JSON", send: () => post('{"events": [}'), status: 400, code: "malformed_json" },
    { name: "invalid UTF-8", send: () => post(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), status: 400, code: "invalid_utf8" },
    { name: "an XML content type", send: () => post("<events/>", { headers: { "content-type": "application/xml" } }), status: 415, code: "unsupported_media_type" },
    { name: "a brotli body", send: () => post(batch(1), { headers: { "content-encoding": "br" } }), status: 415, code: "unsupported_encoding" },
    { name: "only invalid events", send: () => post(batch(2, { category: ["wrong", "type"] })), status: 422, code: "no_valid_events" },
    {
      name: "a deeply nested event only",
      send: () => {
        let deep: Record<string, unknown> = { leaf: 1 };
        for (let i = 0; i < 64; i++) deep = { deep };
        return post(batch(1, { properties: deep }));
      },
      status: 422,
      code: "no_valid_events",
    },
  ];

  for (const t of cases) {
    it(`answers ${t.status} ${t.code} for ${t.name}, stores nothing and keeps serving`, async () => {
      const response = await t.send();
      expect(response.status).toBe(t.status);
      const body = (await response.json()) as ErrorBody;
      expect(body.error.code).toBe(t.code);
      expect(body.error.retryable).toBe(false);
      expect(body.error.message.length).toBeGreaterThan(0);
      const rows = (await sql.query("SELECT count(*)::int AS n FROM analytics_events_ts")) as Array<{ n: number }>;
      expect(rows[0]!.n).toBe(0);
      expect((await post(batch(1))).status).toBe(202);
    });
  }

  it("refuses a gzip bomb with 413 while inflating it", async () => {
    const bomb = await gzip(`{"events":[${" ".repeat(50 * 1024 * 1024)}]}`);
    expect(bomb.byteLength).toBeLessThan(100 * 1024);
    const response = await post(bomb, { headers: { "content-encoding": "gzip" } });
    expect(response.status).toBe(413);
    expect(((await response.json()) as ErrorBody).error.code).toBe("body_too_large");
  });

  it("answers 403 for an origin that is not allowed, with CORS headers so the browser can read it", async () => {
    const restricted = { ...env, ALLOWED_ORIGINS: "https://shop.example" } as Env;
    const refused = await post(batch(1), { env: restricted, headers: { origin: "https://evil.example" } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as ErrorBody).error.code).toBe("origin_not_allowed");
    expect(refused.headers.get("access-control-allow-origin")).toBe("https://evil.example");
    const allowed = await post(batch(1), { env: restricted, headers: { origin: "https://shop.example" } });
    expect(allowed.status).toBe(202);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://shop.example");
  });

  it("answers 429 with Retry-After once a write key passes its rate limit", async () => {
    const limited = { ...env, RATE_LIMIT_PER_MINUTE: "2" } as Env;
    expect((await post(batch(1), { env: limited })).status).toBe(202);
    expect((await post(batch(1), { env: limited })).status).toBe(202);
    const refused = await post(batch(1), { env: limited });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await refused.json()) as ErrorBody).error).toMatchObject({ code: "rate_limited", retryable: true });
  });

  it("answers 503 buffer_full instead of trimming when the buffer passes its cap", async () => {
    const capped = { ...env, INGEST_MODE: "buffered", BUFFER_MAX_ENTRIES: "2" } as Env;
    expect((await post(batch(1), { env: capped })).status).toBe(202);
    expect((await post(batch(1), { env: capped })).status).toBe(202);
    const refused = await post(batch(1), { env: capped });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect(((await refused.json()) as ErrorBody).error.code).toBe("buffer_full");
    expect(await redis.xlen(keys.buffer)).toBe(2);
  });
});

describe("POST /api/v1/analytics: failures of the stores", () => {
  it("PostgreSQL down: 202, the batch waits in the buffer; once it returns the drain stores each event once", async () => {
    await control("postgres/stop");
    const events = batch(20);
    const resent = batch(10);
    for (const body of [{ events }, { events: resent }, { events: resent, sent_at: new Date().toISOString() }]) {
      const response = await post(body);
      expect(response.status).toBe(202);
    }
    expect(await redis.xlen(keys.buffer)).toBe(2);
    await control("postgres/start");
    const ids = [...events, ...resent].map((e) => e.event_id as string);
    expect(await storedCount(ids)).toBe(0);
    // Both stores answer again, but /health still says the direct inserts failed (for 5 minutes).
    const health = (await (await createApp(createServices).request("/health", { headers: { authorization: `Bearer ${env.READ_TOKEN}` } }, env)).json()) as { status: string; problems: string[] };
    expect(health.status).toBe("degraded");
    expect(health.problems).toContainEqual(expect.stringMatching(/^direct_insert: failing \(last at \S+: .+\); the minute drain stores the buffered batches$/));

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await storedCount(ids)).toBe(30);
    expect(await redis.xlen(keys.buffer)).toBe(0);
    const duplicates = (await sql.query(
      "SELECT count(*)::int - count(DISTINCT event_id)::int AS n FROM analytics_events_ts",
    )) as Array<{ n: number }>;
    expect(duplicates[0]!.n).toBe(0);
  });

  it("Redis down: 202 and the batch is already in PostgreSQL", async () => {
    await control("redis/stop");
    const events = batch(20);
    const response = await post({ events });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 20, duplicates: 0, rejected: [] });
    expect(await storedCount(events.map((e) => e.event_id as string))).toBe(20);
  });

  it("both down: 503 with Retry-After, never a 2xx", async () => {
    await control("redis/stop");
    await control("postgres/stop");
    const response = await post({ events: batch(5) });
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await response.json()) as ErrorBody).error).toMatchObject({ code: "storage_unavailable", retryable: true });
  });
});
