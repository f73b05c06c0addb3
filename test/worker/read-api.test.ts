import { SELF, createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { SeriesQuerySchema } from "../../src/read/series";
import { SummaryQuerySchema } from "../../src/read/summary";
import { createServices } from "../../src/services";
import { hourId, minuteId, redisKeys } from "../../src/storage/redis-keys";
import { bridgeStats, resetBridgeStats, testRedis } from "./support";

const TOKEN = "test-read-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const BASE = "http://worker/api/v1/analytics";
const ENDPOINTS = ["summary", "realtime", "popular-asset-types", "series?event_name=page_view", "checks"];

interface ErrorBody {
  error: { code: string; message: string; retryable: boolean };
}

describe("read API authentication", () => {
  it.each(ENDPOINTS)("GET /%s without a token answers 401 missing_read_token as JSON", async (path) => {
    const response = await SELF.fetch(`${BASE}/${path}`);
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="analytics"');
    const body = (await response.json()) as ErrorBody;
    expect(body.error).toMatchObject({ code: "missing_read_token", retryable: false });
  });

  it.each(ENDPOINTS)("GET /%s with a wrong token answers 401 invalid_read_token", async (path) => {
    for (const token of ["test-read-token-0123456788", "short", `${TOKEN}x`]) {
      const response = await SELF.fetch(`${BASE}/${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
      expect(((await response.json()) as ErrorBody).error.code).toBe("invalid_read_token");
    }
  });

  it("refuses another scheme, and checks the token before the parameters", async () => {
    const basic = await SELF.fetch(`${BASE}/summary`, { headers: { authorization: `Basic ${btoa(`x:${TOKEN}`)}` } });
    expect(basic.status).toBe(401);
    const badParamNoToken = await SELF.fetch(`${BASE}/summary?interval=week`);
    expect(badParamNoToken.status).toBe(401);
  });

  it("accepts the scheme in any case", async () => {
    const response = await SELF.fetch(`${BASE}/checks`, { headers: { authorization: `bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
  });

  it("answers 401 read_api_disabled for everything when no READ_TOKEN is configured", async () => {
    const app = createApp(createServices);
    const noToken = { ...env, READ_TOKEN: undefined } as unknown as Env;
    for (const path of ENDPOINTS) {
      const response = await app.request(`/api/v1/analytics/${path}`, { headers: AUTH }, noToken);
      expect(response.status).toBe(401);
      const body = (await response.json()) as ErrorBody;
      expect(body.error.code).toBe("read_api_disabled");
      expect(body.error.message).toContain("disabled");
    }
  });
});

describe("read API parameters", () => {
  // Each bad parameter → 400 invalid_parameter whose message starts with the parameter's name.
  const cases: Array<[string, string]> = [
    ["summary?interval=week", "interval"],
    ["summary?from=yesterday", "from"],
    ["summary?to=2026-13-01", "to"],
    ["summary?from=2026-01-01T10:00:00", "from"], // no timezone
    ["summary?from=2026-01-10T00:00:00Z&to=2026-01-01T00:00:00Z", "to"],
    ["summary?from=2026-01-01T00:00:00Z&to=2026-02-02T00:00:00Z", "from"], // hourly > 31 days
    ["summary?interval=day&from=2019-01-01&to=2026-01-01", "from"], // daily > 5 years
    ["summary?event_name=", "event_name"],
    [`summary?category=${"c".repeat(129)}`, "category"],
    ["summary?intervall=hour", "intervall"], // unknown parameter
    ["realtime?minutes=61", "minutes"],
    ["realtime?minutes=0", "minutes"],
    ["realtime?minutes=ten", "minutes"],
    ["realtime?minutes=1.5", "minutes"],
    ["popular-asset-types?limit=0", "limit"],
    ["popular-asset-types?limit=101", "limit"],
    ["popular-asset-types?from=2020-01-01&to=2026-01-01", "from"],
    ["series", "event_name"],
    ["series?event_name=a&interval=minute", "interval"],
    ["series?event_name=a&moving_average=0", "moving_average"],
    ["series?event_name=a&moving_average=169", "moving_average"],
    ["series?event_name=a&percentiles=50,101&property=d", "percentiles"],
    ["series?event_name=a&percentiles=fifty&property=d", "percentiles"],
    ["series?event_name=a&percentiles=1,2,3,4,5,6,7,8,9,10,11&property=d", "percentiles"],
    ["series?event_name=a&percentiles=50", "property"],
    ["series?event_name=a&property=d", "percentiles"],
    // Raw percentiles are capped at 7 days, moving-average lead-in included.
    ["series?event_name=a&percentiles=50&property=d&from=2026-01-01&to=2026-01-09", "from"],
    ["series?event_name=a&percentiles=50&property=d&from=2026-01-01&to=2026-01-07&moving_average=48", "from"],
    ["checks?from=2026-01-01&to=2026-02-05", "from"],
    ["checks?limit=0", "limit"],
    // Unusable values are a 400, never a 500: NUL cannot reach PostgreSQL, a word is not a number.
    ["summary?event_name=%00", "event_name"],
    ["summary?category=a%00b", "category"],
    ["series?event_name=a%01&interval=hour", "event_name"],
    ["series?event_name=a&percentiles=50&property=%00", "property"],
    ["checks?limit=abc", "limit"],
    ["realtime?limit=0", "limit"],
    ["realtime?limit=1001", "limit"],
  ];

  it.each(cases)("GET /%s → 400 naming %s", async (path, param) => {
    const response = await SELF.fetch(`${BASE}/${path}`, { headers: AUTH });
    expect(response.status).toBe(400);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe("invalid_parameter");
    expect(body.error.message.startsWith(`${param}: `)).toBe(true);
  });

  it.each([
    ["checks?limit=abc", "limit: must be a whole number"],
    ["summary?event_name=%00", "event_name: must not contain control characters (such as NUL)"],
  ])("GET /%s names the actual problem", async (path, message) => {
    const response = await SELF.fetch(`${BASE}/${path}`, { headers: AUTH });
    expect(((await response.json()) as ErrorBody).error.message).toBe(message);
  });

  it("accepts the same parameters within the limits (31 days hourly, 7 days of percentiles)", async () => {
    for (const path of [
      "summary?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
      "series?event_name=a&percentiles=50&property=d&from=2026-01-01&to=2026-01-08",
      "series?event_name=a&percentiles=50&property=d&from=2026-01-01&to=2026-01-07&moving_average=25",
    ]) {
      const response = await SELF.fetch(`${BASE}/${path}`, { headers: AUTH });
      expect(response.status, path).toBe(200);
    }
  });
});

describe("GET /openapi.json", () => {
  interface Doc {
    openapi: string;
    paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; required?: boolean; schema: Record<string, unknown> }>; requestBody?: unknown }>>;
    components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  }

  it("is an OpenAPI 3.1 document of the read routes and the ingest route, generated from the validating schemas", async () => {
    const response = await SELF.fetch("http://worker/openapi.json");
    expect(response.status).toBe(200);
    const doc = (await response.json()) as Doc;
    expect(doc.openapi).toBe("3.1.0");
    for (const path of ["summary", "realtime", "popular-asset-types", "series", "checks"]) {
      expect(doc.paths[`/api/v1/analytics/${path}`]?.get, path).toBeDefined();
    }
    // The query parameters are exactly the keys of the zod schemas that validate the requests.
    const summaryParams = doc.paths["/api/v1/analytics/summary"]!.get!.parameters!;
    expect(summaryParams.map((p) => p.name).sort()).toEqual(Object.keys(SummaryQuerySchema.shape).sort());
    expect(summaryParams.find((p) => p.name === "interval")!.schema.enum).toEqual(["hour", "day"]);
    const seriesParams = doc.paths["/api/v1/analytics/series"]!.get!.parameters!;
    expect(seriesParams.map((p) => p.name).sort()).toEqual(Object.keys(SeriesQuerySchema.shape).sort());
    expect(seriesParams.find((p) => p.name === "event_name")!.required).toBe(true);
    // Ingest, from the schemas in domain/event-schema.ts.
    const ingest = doc.paths["/api/v1/analytics"]!.post!;
    expect(JSON.stringify(ingest.requestBody)).toContain("#/components/schemas/AnalyticsBatch");
    expect(doc.components.schemas).toHaveProperty("AnalyticsEvent");
    expect(doc.components.schemas).toHaveProperty("IngestResult");
    expect(doc.components.securitySchemes).toHaveProperty("readToken");
  });
});

describe("GET /realtime (Redis)", () => {
  const prefix = `read-rt-${crypto.randomUUID().slice(0, 8)}:`;
  const keys = redisKeys(prefix);
  const redis = testRedis();
  const testEnv = { ...env, REDIS_KEY_PREFIX: prefix } as Env;
  const app = createApp(createServices);
  const written = new Set<string>([keys.activeSessions]);
  const MINUTE = 60_000;

  /** What the ingest script writes per minute, by absolute minute start (ms). */
  interface MinuteData {
    byEvent: Record<string, number>;
    byCategory: Record<string, number>;
    users: string[];
  }
  const minutes = new Map<number, MinuteData>();
  let t0 = 0;
  const sessions: Array<[string, number]> = [];

  beforeAll(async () => {
    t0 = Math.floor(Date.now() / MINUTE) * MINUTE;
    // Offsets (minutes before the current one) with data: inside a 5-minute window, inside 60,
    // and outside 60 (-61, -70: still in Redis, must not be counted).
    const plan: Array<[number, MinuteData]> = [
      [0, { byEvent: { page_view: 5, click: 2 }, byCategory: { navigation: 5, interaction: 2 }, users: ["u1", "u2", "u3"] }],
      [1, { byEvent: { page_view: 3 }, byCategory: { navigation: 3 }, users: ["u2", "u4"] }],
      [4, { byEvent: { signup: 1, click: 4 }, byCategory: { account: 1, interaction: 4 }, users: ["u5"] }],
      [10, { byEvent: { page_view: 7 }, byCategory: { navigation: 7 }, users: Array.from({ length: 40 }, (_, i) => `v${i}`) }],
      [59, { byEvent: { purchase: 2 }, byCategory: { commerce: 2 }, users: ["u1", "w9"] }],
      [61, { byEvent: { page_view: 100 }, byCategory: { navigation: 100 }, users: ["x1", "x2"] }],
      [70, { byEvent: { click: 50 }, byCategory: { interaction: 50 }, users: ["x3"] }],
    ];
    const p = redis.pipeline();
    for (const [offset, data] of plan) {
      const start = t0 - offset * MINUTE;
      minutes.set(start, data);
      const id = minuteId(new Date(start));
      const counter = keys.minuteCounters(id);
      const users = keys.minuteUsers(id);
      written.add(counter).add(users);
      const total = Object.values(data.byEvent).reduce((a, b) => a + b, 0);
      p.hincrby(counter, "total", total);
      for (const [name, n] of Object.entries(data.byEvent)) p.hincrby(counter, `e:${name}`, n);
      for (const [category, n] of Object.entries(data.byCategory)) p.hincrby(counter, `c:${category}`, n);
      p.pfadd(users, ...(data.users as [string, ...string[]]));
      p.expire(counter, 7200);
      p.expire(users, 7200);
    }
    // An hour hash too, to show it is not what the endpoint reads.
    const hourKey = keys.hourCounters(hourId(new Date(t0)));
    written.add(hourKey);
    p.hincrby(hourKey, "total", 999);
    const now = Date.now();
    sessions.push(["s-active-1", now - 30_000], ["s-active-2", now - 4 * MINUTE], ["s-idle-1", now - 6 * MINUTE], ["s-idle-2", now - 20 * MINUTE]);
    for (const [member, score] of sessions) p.zadd(keys.activeSessions, { score, member });
    await p.exec();
  });

  afterAll(async () => {
    await redis.del(...written);
  });

  function expected(windowMinutes: number, requestMinute: number) {
    const first = requestMinute - (windowMinutes - 1) * MINUTE;
    const byEvent = new Map<string, number>();
    const byCategory = new Map<string, number>();
    const users = new Set<string>();
    let total = 0;
    for (const [start, data] of minutes) {
      if (start < first || start > requestMinute) continue;
      for (const [name, n] of Object.entries(data.byEvent)) {
        byEvent.set(name, (byEvent.get(name) ?? 0) + n);
        total += n;
      }
      for (const [category, n] of Object.entries(data.byCategory)) byCategory.set(category, (byCategory.get(category) ?? 0) + n);
      for (const user of data.users) users.add(user);
    }
    const ranked = (m: Map<string, number>, key: string) =>
      [...m].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)).map(([name, n]) => ({ [key]: name, event_count: n }));
    return { from: new Date(first).toISOString(), total, byEvent: ranked(byEvent, "event_name"), byCategory: ranked(byCategory, "category"), users: users.size };
  }

  interface RealtimeBody {
    minutes: number;
    from: string;
    event_count: number;
    by_event_name: unknown[];
    by_category: unknown[];
    active_sessions: number;
    unique_users_estimate: number;
  }

  /** Requests and computes the expectation for the same minute (retrying if the minute turned meanwhile). */
  async function check(query: string, windowMinutes: number) {
    for (let attempt = 0; ; attempt++) {
      const before = Math.floor(Date.now() / MINUTE) * MINUTE;
      await resetBridgeStats();
      const response = await app.request(`/api/v1/analytics/realtime${query}`, { headers: AUTH }, testEnv);
      const stats = await bridgeStats();
      const after = Math.floor(Date.now() / MINUTE) * MINUTE;
      if (before !== after && attempt === 0) continue;
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("no-store");
      const body = (await response.json()) as RealtimeBody;
      const want = expected(windowMinutes, before);
      expect(body.minutes).toBe(windowMinutes);
      expect(body.from).toBe(want.from);
      expect(body.event_count).toBe(want.total);
      expect(body.by_event_name).toEqual(want.byEvent);
      expect(body.by_category).toEqual(want.byCategory);
      expect(body.active_sessions).toBe(2);
      // HyperLogLog: an estimate (0.81% standard error); small sets are counted almost exactly.
      expect(Math.abs(body.unique_users_estimate - want.users)).toBeLessThanOrEqual(Math.max(1, want.users * 0.02));
      return stats;
    }
  }

  it("sums the minute counters of the last 5 minutes, with active sessions and estimated unique users", async () => {
    await check("?minutes=5", 5);
  });

  it("defaults to 60 minutes and leaves out older minutes still in Redis", async () => {
    await check("", 60);
    await check("?minutes=1", 1);
  });

  it("costs one Redis request (one command) and no PostgreSQL statement", async () => {
    await check("?minutes=30", 30); // the script is loaded by now (EVALSHA hits)
    const stats = await check("?minutes=30", 30);
    expect(stats.redis.requests).toBe(1);
    expect(stats.redis.commands).toBe(1);
    expect(stats.postgres?.statements ?? 0).toBe(0);
  });

  it("shows an ingested batch at once (the ingest script writes the minute counters)", async () => {
    const ingestEnv = { ...env, REDIS_KEY_PREFIX: `${prefix}ingest:` } as Env;
    const ingestKeys = redisKeys(`${prefix}ingest:`);
    const now = Date.now();
    const events = [
      ...Array.from({ length: 6 }, (_, i) => ({ event_name: "page_view", category: "navigation", user_id: `e2e-u${i % 4}`, session_id: `e2e-s${i % 3}` })),
      ...Array.from({ length: 3 }, (_, i) => ({ event_name: "asset_generated", category: "creation", user_id: `e2e-u${i}`, session_id: "e2e-s0" })),
    ].map((e, i) => ({ ...e, event_id: crypto.randomUUID(), timestamp: now - i * 1000 }));
    const ctx = createExecutionContext();
    const posted = await app.request(
      "/api/v1/analytics",
      { method: "POST", headers: { "content-type": "application/json", "x-write-key": "test-write-key" }, body: JSON.stringify({ sent_at: now, events }) },
      ingestEnv,
      ctx,
    );
    expect(posted.status).toBe(202);
    const response = await app.request("/api/v1/analytics/realtime?minutes=2", { headers: AUTH }, ingestEnv);
    const body = (await response.json()) as RealtimeBody;
    expect(body.event_count).toBe(9);
    expect(body.by_event_name).toEqual([
      { event_name: "page_view", event_count: 6 },
      { event_name: "asset_generated", event_count: 3 },
    ]);
    expect(body.active_sessions).toBe(3);
    expect(body.unique_users_estimate).toBe(4);
    await waitOnExecutionContext(ctx);
    // Everything the ingest script wrote under this prefix, for afterAll.
    for (const key of await redis.keys(`${prefix}ingest:*`)) written.add(key);
    written.add(ingestKeys.activeSessions);
  });

  it("answers zeros for a window without data", async () => {
    const empty = { ...env, REDIS_KEY_PREFIX: `${prefix}empty:` } as Env;
    const response = await app.request("/api/v1/analytics/realtime?minutes=3", { headers: AUTH }, empty);
    const body = (await response.json()) as RealtimeBody;
    expect(body).toMatchObject({ event_count: 0, by_event_name: [], by_category: [], active_sessions: 0, unique_users_estimate: 0 });
  });
});
