/**
 * Abuse and misconfiguration, against the real stack (workerd, Redis and PostgreSQL through the
 * bridges): one client cannot lock out the others, a flood of distinct names stays within the
 * documented Redis bound, and a wrong setting fails loudly, per feature.
 */
import { SELF, createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { worstCaseRedisBytes } from "../../src/storage/redis-budget";
import { hourId, minuteId, redisKeys } from "../../src/storage/redis-keys";
import { clearPrefix } from "./cron-support";
import { control, testRedis } from "./support";

const KEY = "test-write-key";
const BASE = "http://worker.test";
const AUTH = { authorization: `Bearer ${env.READ_TOKEN}` };
const redis = testRedis();

interface ErrorBody {
  error: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> };
}

/** A test's own key prefix (its Redis state is its own) on top of the shared test env. */
function envWith(prefix: string, vars: Record<string, string> = {}): Env {
  return { ...env, REDIS_KEY_PREFIX: prefix, INGEST_MODE: "buffered", ...vars } as Env;
}

function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: crypto.randomUUID(),
    event_name: "page_view",
    category: "navigation",
    timestamp: new Date().toISOString(),
    session_id: "session-1",
    ...overrides,
  };
}

/** Through the Worker's own fetch handler, waiting for its waitUntil work. */
async function send(
  testEnv: Env,
  path: string,
  init: { method?: string; body?: unknown; ip?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.ip) headers["cf-connecting-ip"] = init.ip;
  if (init.body !== undefined) {
    headers["content-type"] ??= "application/json";
    headers["x-write-key"] ??= KEY;
  }
  const request = new Request(`${BASE}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    ...(init.body === undefined ? {} : { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) }),
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const ingest = (testEnv: Env, events: unknown[], ip?: string) => send(testEnv, "/api/v1/analytics", { body: { events }, ...(ip ? { ip } : {}) });

/** Waits out the last seconds of a minute, so a test's requests share one rate-limit window. */
async function sameMinute(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** Bytes Redis reports for every key under `prefix` (MEMORY USAGE … SAMPLES 0), the buffer aside. */
async function memoryUnder(prefix: string, except: string[]): Promise<{ bytes: number; keys: number }> {
  let cursor = "0";
  let bytes = 0;
  let keys = 0;
  do {
    const [next, found] = await redis.scan(cursor, { match: `${prefix}*`, count: 1000 });
    cursor = String(next);
    const measured = found.filter((k) => !except.includes(k));
    if (measured.length === 0) continue;
    // One Upstash pipeline request per SCAN page (the client has no MEMORY command).
    const response = await fetch(`${env.UPSTASH_REDIS_REST_URL}/pipeline`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}` },
      body: JSON.stringify(measured.map((key) => ["MEMORY", "USAGE", key, "SAMPLES", "0"])),
    });
    for (const reply of (await response.json()) as Array<{ result: number | null }>) bytes += Number(reply.result ?? 0);
    keys += measured.length;
  } while (cursor !== "0");
  return { bytes, keys };
}

afterAll(async () => {
  await control("redis/start");
});

describe("per-client rate limits", () => {
  const prefix = "abuse-rate:";
  beforeEach(() => clearPrefix(redis, prefix));

  it("answers 429 to a client past its limit while another address still gets 202 in the same second", async () => {
    const limited = envWith(prefix, { RATE_LIMIT_PER_CLIENT_PER_MINUTE: "5" });
    await sameMinute();
    const flood: number[] = [];
    for (let i = 0; i < 8; i++) flood.push((await ingest(limited, [event()], "203.0.113.7")).status);
    const other = await ingest(limited, [event()], "198.51.100.20");

    expect(flood).toEqual([202, 202, 202, 202, 202, 429, 429, 429]);
    expect(other.status).toBe(202);
    const refused = await ingest(limited, [event()], "203.0.113.7");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await refused.json()) as ErrorBody;
    expect(body.error).toMatchObject({ code: "rate_limited", retryable: true, details: { scope: "client" } });
    expect(body.error.message).toContain("from this client");
    // No address in Redis: the client counter is keyed by a hash.
    const [, found] = await redis.scan("0", { match: `${prefix}rl:c:*`, count: 1000 });
    expect(found.length).toBe(2);
    expect(found.join()).not.toContain("203.0.113.7");
  });

  it("without an address, limits by the batch's session: one session's flood leaves another session alone", async () => {
    const limited = envWith(prefix, { RATE_LIMIT_PER_CLIENT_PER_MINUTE: "2" });
    await sameMinute();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await ingest(limited, [event({ session_id: "flooding-session" })])).status);
    expect(statuses).toEqual([202, 202, 429]);
    expect((await ingest(limited, [event({ session_id: "quiet-session" })])).status).toBe(202);
  });

  it("does not charge all-duplicate batches to the write key's ceiling; batches with new events reach it", async () => {
    const ceiling = envWith(prefix, { RATE_LIMIT_PER_MINUTE: "2" });
    await sameMinute();
    const first = [event(), event()];
    expect((await ingest(ceiling, first, "192.0.2.1")).status).toBe(202);
    // Three retries of the same batch, from three visitors: duplicates, not counted against the key.
    for (const ip of ["192.0.2.2", "192.0.2.3", "192.0.2.4"]) {
      const retry = await ingest(ceiling, first, ip);
      expect(retry.status).toBe(202);
      expect(await retry.json()).toEqual({ accepted: 0, duplicates: 2, rejected: [] });
    }
    expect((await ingest(ceiling, [event()], "192.0.2.5")).status).toBe(202);
    const over = await ingest(ceiling, [event()], "192.0.2.6");
    expect(over.status).toBe(429);
    const body = (await over.json()) as ErrorBody;
    expect(body.error.details).toEqual({ scope: "key" });
    expect(body.error.message).toContain("ceiling of 2 batches per minute");
  });
});

describe("bounded memory", () => {
  const prefix = "abuse-flood:";
  const keys = redisKeys(prefix);
  beforeEach(() => clearPrefix(redis, prefix));

  it("a flood of 10,000 distinct names, categories, users and sessions stays within the documented Redis bound", async () => {
    const caps = { eventNamesPerHour: 500, categoriesPerHour: 100, activeSessions: 2_000 };
    const flood = envWith(prefix, {
      REDIS_MAX_EVENT_NAMES_PER_HOUR: String(caps.eventNamesPerHour),
      REDIS_MAX_CATEGORIES_PER_HOUR: String(caps.categoriesPerHour),
      REDIS_MAX_ACTIVE_SESSIONS: String(caps.activeSessions),
    });
    const started = new Date();
    const random = () => crypto.randomUUID().replaceAll("-", "");
    for (let b = 0; b < 200; b++) {
      const events = Array.from({ length: 50 }, () =>
        event({ event_name: `name_${random()}`, category: `cat_${random()}`, user_id: `u_${random()}`, session_id: `s_${random()}` }),
      );
      const response = await ingest(flood, events, `10.0.${b >> 8}.${b & 255}`);
      expect(response.status).toBe(202);
    }
    const ended = new Date();

    // Each counter hash holds at most the caps' names, plus the fixed fields.
    const hour = (await redis.hgetall<Record<string, number>>(keys.hourCounters(hourId(started))))!;
    expect(hour.total).toBe(10_000);
    expect(Object.keys(hour).filter((f) => f.startsWith("e:")).length).toBe(caps.eventNamesPerHour);
    expect(Object.keys(hour).filter((f) => f.startsWith("c:")).length).toBe(caps.categoriesPerHour);
    expect(hour["o:e"]).toBe(10_000 - caps.eventNamesPerHour);
    expect(hour["o:c"]).toBe(10_000 - caps.categoriesPerHour);
    for (const minute of new Set([minuteId(started), minuteId(ended)])) {
      expect(await redis.hlen(keys.minuteCounters(minute))).toBeLessThanOrEqual(caps.eventNamesPerHour + caps.categoriesPerHour + 6);
    }
    expect(await redis.zcard(keys.activeSessions)).toBe(caps.activeSessions);

    const measured = await memoryUnder(prefix, [keys.buffer, keys.bufferBytes]);
    const bound = worstCaseRedisBytes(
      { events: 10_000, sessions: 10_000, minutes: new Set([minuteId(started), minuteId(ended)]).size, clientsPerMinute: 200, nameBytes: 40, sessionIdBytes: 34 },
      caps,
    );
    // The measurement is real: a dedupe key per event at least, each of some tens of bytes.
    expect(measured.keys).toBeGreaterThan(10_000);
    expect(measured.bytes).toBeGreaterThan(10_000 * 50);
    expect(measured.bytes).toBeLessThanOrEqual(bound.total);

    // The real-time answer stays within its limit and says what it left out.
    const answer = await send(flood, "/api/v1/analytics/realtime?minutes=5", { headers: AUTH });
    expect(answer.status).toBe(200);
    const text = await answer.text();
    const realtime = JSON.parse(text) as {
      event_count: number;
      by_event_name: unknown[];
      by_category: unknown[];
      truncated: boolean;
      other: { event_names: number; categories: number };
    };
    expect(realtime.event_count).toBe(10_000);
    expect(realtime.by_event_name.length).toBe(100);
    expect(realtime.by_category.length).toBe(100);
    expect(realtime.truncated).toBe(true);
    expect(realtime.other).toEqual({ event_names: 10_000 - caps.eventNamesPerHour, categories: 10_000 - caps.categoriesPerHour });
    expect(text.length).toBeLessThan(20_000);
    const top = await send(flood, "/api/v1/analytics/realtime?minutes=5&limit=3", { headers: AUTH });
    expect(((await top.json()) as { by_event_name: unknown[] }).by_event_name.length).toBe(3);
  }, 180_000);

  it("answers 503 buffer_full once the buffer holds BUFFER_MAX_BYTES, and takes events again once drained", async () => {
    const capped = envWith(prefix, { BUFFER_MAX_BYTES: "2000" });
    const big = () => Array.from({ length: 5 }, () => event({ properties: { note: "x".repeat(300) } }));
    expect((await ingest(capped, big(), "192.0.2.10")).status).toBe(202);
    const refused = await ingest(capped, big(), "192.0.2.10");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect(((await refused.json()) as ErrorBody).error.code).toBe("buffer_full");
    expect(await redis.xlen(keys.buffer)).toBe(1);
    expect(Number(await redis.get(keys.bufferBytes))).toBeGreaterThan(2000);

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), capped, ctx);
    await waitOnExecutionContext(ctx);
    expect(await redis.xlen(keys.buffer)).toBe(0);
    expect(await redis.get(keys.bufferBytes)).toBeNull();
    expect((await ingest(capped, big(), "192.0.2.10")).status).toBe(202);
  });
});

describe("configuration errors are per feature", () => {
  const prefix = "abuse-config:";
  beforeEach(() => clearPrefix(redis, prefix));

  it("no write key: ingestion answers 503 service_misconfigured with Retry-After, and /health names WRITE_KEYS", async () => {
    for (const value of ["", " , "]) {
      const noKeys = envWith(prefix, { WRITE_KEYS: value });
      const response = await ingest(noKeys, [event()]);
      expect(response.status).toBe(503);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      const body = (await response.json()) as ErrorBody;
      expect(body.error).toMatchObject({ code: "service_misconfigured", retryable: true });
      expect(body.error.message).toMatch(/^WRITE_KEYS: /);

      const health = await send(noKeys, "/health");
      expect(health.status).toBe(503);
      const report = (await health.json()) as { status: string; problems: string[] };
      expect(report.status).toBe("degraded");
      expect(report.problems).toEqual([expect.stringMatching(/^WRITE_KEYS: no write key is configured/)]);
    }
  });

  it("a too-short READ_TOKEN disables only the read API: ingest, preflights, /tracker.js and /health keep working", async () => {
    const badToken = envWith(prefix, { READ_TOKEN: "short" });
    for (const path of ["summary", "realtime", "checks"]) {
      const response = await send(badToken, `/api/v1/analytics/${path}`, { headers: { authorization: "Bearer short" } });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).not.toBeNull();
      const body = (await response.json()) as ErrorBody;
      expect(body.error.code).toBe("service_misconfigured");
      expect(body.error.message).toMatch(/^READ_TOKEN: must be at least 16 characters/);
      expect(body.error.message).not.toContain("short");
    }
    expect((await ingest(badToken, [event()], "192.0.2.30")).status).toBe(202);
    const preflight = await send(badToken, "/api/v1/analytics", {
      method: "OPTIONS",
      headers: { origin: "https://shop.example", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect((await send(badToken, "/tracker.js")).status).toBe(200);

    const health = await send(badToken, "/health");
    expect(health.status).toBe(200);
    const report = (await health.json()) as { status: string; problems: string[] };
    expect(report.status).toBe("degraded");
    expect(report.problems).toEqual([expect.stringMatching(/^READ_TOKEN: /)]);
    expect(JSON.stringify(report)).not.toContain("short");
  });
});

describe("messages that name the actual problem", () => {
  const prefix = "abuse-messages:";
  beforeEach(() => clearPrefix(redis, prefix));

  it("a write_key that is not a string is invalid, not missing", async () => {
    const response = await send(envWith(prefix), "/api/v1/analytics", {
      body: JSON.stringify({ write_key: 123, events: [event()] }),
      headers: { "content-type": "text/plain", "x-write-key": "" },
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as ErrorBody).error).toMatchObject({ code: "invalid_write_key", message: "write_key must be a string (got number)." });
  });

  it("a negative timestamp is not taken for epoch seconds", async () => {
    const response = await ingest(envWith(prefix), [event({ timestamp: -1 }), event()], "192.0.2.40");
    expect(response.status).toBe(202);
    const body = (await response.json()) as { rejected: Array<{ index: number; message: string }> };
    expect(body.rejected).toEqual([expect.objectContaining({ index: 0, message: expect.stringContaining("must be a positive number of epoch milliseconds (got -1)") })]);
  });
});

describe("/health: public and operator views", () => {
  afterAll(() => control("redis/start"));

  it("tells the public the status and which stores answer, never error texts; the operator gets the details", async () => {
    await control("redis/stop");
    const publicView = await SELF.fetch(`${BASE}/health`);
    const operatorView = await SELF.fetch(`${BASE}/health`, { headers: AUTH });
    const wrongToken = await SELF.fetch(`${BASE}/health`, { headers: { authorization: "Bearer not-the-token-at-all" } });
    await control("redis/start");

    expect(publicView.status).toBe(503);
    expect(await publicView.json()).toEqual({ status: "degraded", redis: { ok: false }, postgres: { ok: true }, problems: [] });
    expect(await wrongToken.json()).toEqual({ status: "degraded", redis: { ok: false }, postgres: { ok: true }, problems: [] });
    const details = (await operatorView.json()) as { redis: { ok: boolean; error?: string }; postgres: { tier: string }; buffer: unknown; jobs: unknown };
    expect(details.redis.ok).toBe(false);
    expect(details.redis.error).toBeTruthy();
    expect(details.postgres.tier).toBe("postgres");
    expect(details).toHaveProperty("jobs");
    expect(details).toHaveProperty("buffer");
  });
});
