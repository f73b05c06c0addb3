import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { DIMENSIONS, type Dimension } from "../../src/domain/dimensions";
import type { EventRow } from "../../src/domain/event";
import { breakdown } from "../../src/read/breakdown";
import { insertEvents, refreshRollups } from "../../src/storage/sql";
import { clearPrefix, cronEnv, DAY, fireCron, redisClient, sqlFor, TIER_NAMES } from "./cron-support";
import { bridgeStats, resetBridgeStats } from "./support";

/*
 * GET /breakdown and the cookieless visitor on the real stores of every tier. Events arrive two
 * ways: posted to the ingest route (two client addresses × two User-Agents, with a country, today
 * and — with the clock moved — tomorrow), and inserted as rows on earlier days and rolled up, so
 * that closed days come from the dimension rollup and today from raw rows. Every answer is compared
 * with a breakdown this file computes from what it posted; a visitor here is (day, address,
 * User-Agent, site), which is what the worker's id must count.
 */

const KEY = "test-write-key";
const AUTH = { authorization: "Bearer test-read-token-0123456789" };
const CHROME_MAC =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
/** The two "clients": the addresses must never be found in either store afterwards. */
const CLIENTS = [
  { address: "203.0.113.77", country: "DE" },
  { address: "2001:db8::4242", country: "BR" },
];
const AGENTS = [
  { ua: CHROME_MAC, device_class: "desktop", browser: "Chrome", os: "macOS" },
  { ua: SAFARI_IPHONE, device_class: "mobile", browser: "Safari", os: "iOS" },
];
/** Pages with the dimensions the worker must derive from them (written out, not computed). */
const PAGES = [
  { url: "https://shop.example/pricing?utm_source=news&utm_medium=email&utm_campaign=spring&email=a@b.c", page_path: "/pricing", utm_source: "news", utm_medium: "email", utm_campaign: "spring" },
  { url: "https://shop.example/", page_path: "/", utm_source: null, utm_medium: null, utm_campaign: null },
  { url: "https://shop.example/docs/start?utm_source=twitter", page_path: "/docs/start", utm_source: "twitter", utm_medium: null, utm_campaign: null },
];
const REFERRERS = [
  { url: null, referrer_host: null },
  { url: "https://www.google.com/search?q=shop", referrer_host: "www.google.com" },
  { url: "https://shop.example/", referrer_host: null },
  { url: "https://news.example.org/story", referrer_host: "news.example.org" },
];
const NAMES = ["page_view", "page_view", "click"];

/** An event as this file knows it: what it sent, and the values every dimension must take. */
interface Known {
  day: number;
  event_name: string;
  user_id: string | null;
  plan: string | null;
  visitor: string;
  dims: Record<Dimension, string | null>;
}

/** The dimensions the worker must derive for an event on `page` from `from`, sent by `client` with `agent`. */
function dimensionsOf(
  page: (typeof PAGES)[number],
  from: (typeof REFERRERS)[number],
  client: (typeof CLIENTS)[number],
  agent: (typeof AGENTS)[number],
): Record<Dimension, string | null> {
  const { page_path, utm_source, utm_medium, utm_campaign } = page;
  const { country } = client;
  const { device_class, browser, os } = agent;
  return { page_path, page_host: "shop.example", referrer_host: from.referrer_host, utm_source, utm_medium, utm_campaign, country, device_class, browser, os };
}

interface Row {
  value: string | null;
  events: number;
  visitors: number;
  users: number;
}

/** The breakdown of `known` by `pick`, ranked as the API ranks (events desc, value byte order, null last). */
function expected(known: readonly Known[], pick: (k: Known) => string | null, limit = 1000): Row[] {
  const groups = new Map<string | null, { events: number; visitors: Set<string>; users: Set<string> }>();
  for (const k of known) {
    const value = pick(k);
    let g = groups.get(value);
    if (!g) groups.set(value, (g = { events: 0, visitors: new Set(), users: new Set() }));
    g.events += 1;
    g.visitors.add(`${k.day}|${k.visitor}`);
    if (k.user_id !== null) g.users.add(`${k.day}|${k.user_id}`);
  }
  const rank = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1);
  return [...groups]
    .map(([value, g]) => ({ value, events: g.events, visitors: g.visitors.size, users: g.users.size }))
    .sort((a, b) => b.events - a.events || rank(a.value, b.value))
    .slice(0, limit);
}

const iso = (ms: number) => new Date(ms).toISOString();

for (const tier of TIER_NAMES) {
  describe(`breakdown and visitors on the ${tier} tier`, () => {
    const prefix = `breakdown-${tier}:`;
    const tierEnv = cronEnv(tier, prefix);
    const sql = sqlFor(tier);
    const redis = redisClient();
    const today = Math.floor(Date.now() / DAY) * DAY;
    const known: Known[] = [];
    let serial = 0;

    /** Posts one batch as `client` with `agent`, the way a browser behind Cloudflare would. */
    async function post(client: (typeof CLIENTS)[number], agent: (typeof AGENTS)[number], day: number, count: number, postEnv = tierEnv): Promise<void> {
      const events = [];
      for (let i = 0; i < count; i++) {
        const n = serial++;
        const page = PAGES[n % PAGES.length]!;
        const from = REFERRERS[n % REFERRERS.length]!;
        const userId = n % 4 === 0 ? `user-${n % 3}` : null;
        const plan = n % 5 === 0 ? null : ["free", "pro"][n % 2]!;
        const event = { event_name: NAMES[n % NAMES.length]!, category: "web", page_url: page.url, referrer: from.url, user_id: userId, properties: plan === null ? {} : { plan } };
        events.push(event);
        known.push({
          day,
          event_name: event.event_name,
          user_id: userId,
          plan,
          visitor: `${client.address}|${agent.ua}|shop.example`,
          dims: dimensionsOf(page, from, client, agent),
        });
      }
      const request = new Request("https://worker.test/api/v1/analytics", {
        method: "POST",
        headers: { "content-type": "application/json", "x-write-key": KEY, "user-agent": agent.ua, "cf-connecting-ip": client.address },
        body: JSON.stringify({ events }),
        cf: { country: client.country },
      });
      const ctx = createExecutionContext();
      const response = await worker.fetch(request, postEnv, ctx);
      await waitOnExecutionContext(ctx);
      expect(response.status, await response.clone().text()).toBe(202);
      expect(((await response.json()) as { accepted: number }).accepted).toBe(count);
    }

    /** Rows inserted directly on earlier days (what an earlier worker stored), then rolled up. */
    function history(): EventRow[] {
      const rows: EventRow[] = [];
      for (let d = 1; d <= 3; d++) {
        for (let i = 0; i < 20; i++) {
          const n = serial++;
          const page = PAGES[(n + d) % PAGES.length]!;
          const from = REFERRERS[n % REFERRERS.length]!;
          const agent = AGENTS[n % 2]!;
          const client = CLIENTS[(n >> 1) % 2]!;
          const time = today - d * DAY + (i + 1) * 60_000;
          const visitor = `v-${d}-${n % 7}`;
          const userId = n % 3 === 0 ? `user-${n % 5}` : null;
          const dims = dimensionsOf(page, from, client, agent);
          const event_name = NAMES[n % NAMES.length]!;
          rows.push({
            event_id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
            time: iso(time),
            event_name,
            category: "web",
            user_id: userId,
            session_id: null,
            properties: { plan: "pro" },
            device_info: null,
            page_url: page.url,
            referrer: from.url,
            received_at: iso(time),
            client_time: null,
            skew_ms: 0,
            flags: [],
            visitor_id: visitor,
            ...dims,
          });
          known.push({ day: today - d * DAY, event_name, user_id: userId, plan: "pro", visitor, dims });
        }
      }
      return rows;
    }

    async function ask<T>(path: string): Promise<{ status: number; body: T }> {
      await resetBridgeStats();
      const ctx = createExecutionContext();
      const response = await worker.fetch(new Request(`https://worker.test/api/v1/analytics/${path}`, { headers: AUTH }), tierEnv, ctx);
      await waitOnExecutionContext(ctx);
      const body = (await response.json()) as T;
      if (response.status === 200) {
        const stats = await bridgeStats();
        expect(stats.postgres).toMatchObject({ requests: 1, statements: 1 });
        expect(stats.redis.requests).toBe(0);
      }
      return { status: response.status, body };
    }

    beforeAll(async () => {
      await clearPrefix(redis, prefix);
      await sql.query(`TRUNCATE analytics_events_ts, analytics_event_ids, analytics_dirty_buckets, analytics_daily_dimensions`);
      const rows = history();
      const insert = insertEvents(rows);
      await sql.query(insert.text, [...insert.values]);
      // The hourly job's refresh over the closed days (the dimension rollup never takes the open day).
      const refresh = refreshRollups(new Date(today - 4 * DAY), new Date(today));
      await sql.query(refresh.text, [...refresh.values]);
      for (const client of CLIENTS) for (const agent of AGENTS) await post(client, agent, today, 6);
    }, 60_000);

    afterAll(async () => {
      vi.useRealTimers();
      await clearPrefix(redis, prefix);
    });

    const month = () => `from=${iso(today - 29 * DAY)}&to=${iso(today + DAY)}`;

    it("counts 2 addresses × 2 User-Agents as 4 visitors today", async () => {
      const { body } = await ask<{ rows: Row[] }>(`breakdown?dimension=page_host&from=${iso(today)}&to=${iso(today + DAY)}`);
      const posted = known.filter((k) => k.day === today);
      expect(posted).toHaveLength(24);
      expect(body.rows).toEqual([{ value: "shop.example", events: 24, visitors: 4, users: expect.any(Number) }]);
      expect(body.rows).toEqual(expected(posted, (k) => k.dims.page_host));
    });

    it("rolls closed days up per dimension: the rollup equals the events of each day", async () => {
      const rows = (await sql.query(
        `SELECT extract(epoch FROM bucket) * 1000 AS day, nullif(value, '') AS value, event_count::int AS events,
           unique_visitors::int AS visitors, unique_users::int AS users
         FROM analytics_daily_dimensions WHERE dimension = 'referrer_host' AND event_name = '' ORDER BY bucket`,
      )) as Array<Row & { day: string | number }>;
      const days = [...new Set(rows.map((r) => Number(r.day)))];
      expect(days).toEqual([today - 3 * DAY, today - 2 * DAY, today - DAY]);
      for (const day of days) {
        const stored = rows.filter((r) => Number(r.day) === day).map(({ day: _, ...r }) => r);
        const want = expected(known.filter((k) => k.day === day), (k) => k.dims.referrer_host);
        expect(stored.sort((a, b) => b.events - a.events || String(a.value).localeCompare(String(b.value)))).toEqual(
          want.sort((a, b) => b.events - a.events || String(a.value).localeCompare(String(b.value))),
        );
      }
    });

    for (const dimension of DIMENSIONS) {
      it(`dimension=${dimension} over 30 days equals the breakdown of the events (closed days from the rollup, today from raw rows)`, async () => {
        const { status, body } = await ask<{ dimension: string; complete: boolean; truncated: boolean; rows: Row[] }>(
          `breakdown?dimension=${dimension}&${month()}&limit=1000`,
        );
        expect(status).toBe(200);
        expect(body).toMatchObject({ dimension, complete: false, truncated: false });
        expect(body.rows).toEqual(expected(known, (k) => k.dims[dimension]));
      });
    }

    it("event_name filters the events, the visitors and the users", async () => {
      const { body } = await ask<{ event_name: string; rows: Row[] }>(`breakdown?dimension=page_path&event_name=click&${month()}`);
      expect(body.event_name).toBe("click");
      expect(body.rows).toEqual(expected(known.filter((k) => k.event_name === "click"), (k) => k.dims.page_path, 10));
    });

    it("property:<key> breaks down by an event property from raw rows", async () => {
      const from = today - 6 * DAY;
      const { body } = await ask<{ dimension: string; rows: Row[] }>(`breakdown?dimension=property:plan&from=${iso(from)}&to=${iso(today + DAY)}`);
      expect(body.dimension).toBe("property:plan");
      expect(body.rows).toEqual(expected(known, (k) => k.plan));
    });

    it("limit keeps the top values and says the answer was cut", async () => {
      const { body } = await ask<{ truncated: boolean; rows: Row[] }>(`breakdown?dimension=page_path&${month()}&limit=2`);
      expect(body.truncated).toBe(true);
      expect(body.rows).toEqual(expected(known, (k) => k.dims.page_path, 2));
    });

    it("answers 400 naming the parameter for an unknown dimension or a property range past the raw cap", async () => {
      const unknown = await ask<{ error: { code: string; message: string } }>(`breakdown?dimension=ip`);
      expect(unknown.status).toBe(400);
      expect(unknown.body.error).toMatchObject({ code: "invalid_parameter" });
      expect(unknown.body.error.message).toMatch(/^dimension: /);
      const wide = await ask<{ error: { code: string; message: string } }>(`breakdown?dimension=property:plan&${month()}`);
      expect(wide.status).toBe(400);
      expect(wide.body.error.message).toMatch(/^from: .*at most 7 days/);
    });

    it("the same address and browser on the next day is a new visitor: the day's salt changed", async () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(today + DAY + 3_600_000);
      try {
        for (const client of CLIENTS) for (const agent of AGENTS) await post(client, agent, today + DAY, 2);
      } finally {
        vi.useRealTimers();
      }
      const { body } = await ask<{ rows: Row[] }>(`breakdown?dimension=page_host&from=${iso(today)}&to=${iso(today + 2 * DAY)}`);
      expect(body.rows).toEqual([{ value: "shop.example", events: 32, visitors: 8, users: expect.any(Number) }]);
      const ids = (await sql.query(
        `SELECT date_bin('1 day', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day, array_agg(DISTINCT visitor_id) AS ids
         FROM analytics_events_ts WHERE time >= $1 GROUP BY 1 ORDER BY 1`,
        [iso(today)],
      )) as Array<{ ids: string[] }>;
      expect(ids.map((d) => d.ids.length)).toEqual([4, 4]);
      expect(ids[0]!.ids.filter((id) => ids[1]!.ids.includes(id))).toEqual([]);
      for (const id of ids.flatMap((d) => d.ids)) expect(id).toMatch(/^[0-9a-f]{16}$/);
    });

    it("the hourly job rolls up a closed day no refresh reached and re-rolls a day that got a late event", async () => {
      // As if the run after midnight had not happened: yesterday is not in the rollup.
      await sql.query(`DELETE FROM analytics_daily_dimensions WHERE bucket = $1`, [iso(today - DAY)]);
      // A late event for two days ago (its insert marks the day dirty).
      const dims = { ...dimensionsOf(PAGES[1]!, REFERRERS[0]!, CLIENTS[0]!, AGENTS[0]!), page_path: "/late" };
      const time = iso(today - 2 * DAY + 3_600_000);
      const late: EventRow[] = [{
        event_id: `00000000-0000-4000-8000-${String(serial++).padStart(12, "0")}`,
        time, event_name: "page_view", category: "web", user_id: null, session_id: null, properties: { plan: "pro" }, device_info: null,
        page_url: "https://shop.example/late", referrer: null, received_at: iso(Date.now()), client_time: null, skew_ms: 0, flags: [],
        visitor_id: "v-late", ...dims,
      }];
      known.push({ day: today - 2 * DAY, event_name: "page_view", user_id: null, plan: "pro", visitor: "v-late", dims });
      const insert = insertEvents(late);
      await sql.query(insert.text, [...insert.values]);
      await fireCron("0 * * * *", tierEnv);
      const days = (await sql.query(
        `SELECT DISTINCT bucket FROM analytics_daily_dimensions WHERE dimension = 'page_path' AND value = '/late' OR bucket = $1`,
        [iso(today - DAY)],
      )) as unknown[];
      expect(days).toHaveLength(2);
      const { body } = await ask<{ rows: Row[] }>(`breakdown?dimension=page_path&from=${iso(today - 3 * DAY)}&to=${iso(today)}&limit=1000`);
      expect(body.rows).toEqual(expected(known.filter((k) => k.day < today), (k) => k.dims.page_path));
    });

    it("a batch left to the minute drain stores the visitor id the ingest script wrote into its buffer entry", async () => {
      const buffered = { ...tierEnv, INGEST_MODE: "buffered" } as Env;
      const sameVisitor = `SELECT count(*)::int AS n, array_agg(DISTINCT visitor_id) AS ids FROM analytics_events_ts
        WHERE time >= $1 AND time < $2 AND country = 'DE' AND browser = 'Chrome'`;
      const window = [iso(today), iso(today + DAY)];
      const [direct] = (await sql.query(sameVisitor, window)) as [{ n: number; ids: string[] }];
      await post(CLIENTS[0]!, AGENTS[0]!, today, 3, buffered);
      expect(((await sql.query(sameVisitor, window)) as [{ n: number }])[0].n).toBe(direct.n);
      await fireCron("* * * * *", buffered);
      const [drained] = (await sql.query(sameVisitor, window)) as [{ n: number; ids: string[] }];
      expect(drained.n).toBe(direct.n + 3);
      expect(direct.ids).toHaveLength(1);
      expect(drained.ids).toEqual(direct.ids);
    });

    it("stores no client address anywhere: every text column in PostgreSQL and every key and value in Redis", async () => {
      const needles = CLIENTS.map((c) => c.address);
      const columns = (await sql.query(
        `SELECT c.table_name, c.column_name FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'USER-DEFINED')`,
      )) as Array<{ table_name: string; column_name: string }>;
      expect(columns.some((c) => c.table_name === "analytics_events_ts" && c.column_name === "visitor_id")).toBe(true);
      for (const { table_name, column_name } of columns) {
        const [{ n }] = (await sql.query(
          `SELECT count(*)::int AS n FROM "${table_name}" WHERE "${column_name}"::text LIKE ANY ($1::text[])`,
          [needles.map((a) => `%${a}%`)],
        )) as [{ n: number }];
        expect(n, `${table_name}.${column_name}`).toBe(0);
      }

      const salts: string[] = [];
      let cursor = "0";
      let keys = 0;
      do {
        const [next, batch] = await redis.scan(cursor, { match: "*", count: 500 });
        cursor = String(next);
        for (const key of batch) {
          keys += 1;
          const type: string = await redis.type(key);
          let text = key;
          if (type === "string") text += String(await redis.get(key));
          else if (type === "hash") text += JSON.stringify(await redis.hgetall(key));
          else if (type === "zset") text += JSON.stringify(await redis.zrange(key, 0, -1));
          else if (type === "set") text += JSON.stringify(await redis.smembers(key));
          else if (type === "list") text += JSON.stringify(await redis.lrange(key, 0, -1));
          else if (type === "stream") text += JSON.stringify(await redis.xrange(key, "-", "+"));
          for (const address of needles) expect(text.includes(address), key).toBe(false);
          if (key.startsWith(`${prefix}visitor-salt:`)) salts.push(String(await redis.get(key)));
        }
      } while (cursor !== "0");
      expect(keys).toBeGreaterThan(0);

      // The salts exist only in Redis, one per day, and expire with their day.
      expect(salts).toHaveLength(2);
      for (const salt of salts) {
        const [{ n }] = (await sql.query(
          `SELECT count(*)::int AS n FROM analytics_events_ts WHERE concat_ws(' ', properties, device_info, visitor_id, page_url, referrer) LIKE $1`,
          [`%${salt}%`],
        )) as [{ n: number }];
        expect(n).toBe(0);
      }
      const ttl = await redis.pttl(`${prefix}visitor-salt:${iso(today).slice(0, 10)}`);
      expect(ttl).toBeGreaterThan(0);
      // Expires at the end of its UTC day (1 s allows for the two clocks).
      expect(ttl).toBeLessThanOrEqual(today + DAY - Date.now() + 1_000);
      expect(ttl).toBeGreaterThan(today + DAY - Date.now() - 60_000);
    });
  });

  describe(`breakdown of many values from each day's top values on the ${tier} tier`, () => {
    const sql = sqlFor(tier);
    const tierEnv = cronEnv(tier, `breakdown-top-${tier}:`);
    const today = Math.floor(Date.now() / DAY) * DAY;
    const first = today - 7 * DAY;
    const days = [first, first + DAY, first + 2 * DAY];
    const range = `from=${iso(first)}&to=${iso(first + 3 * DAY)}`;
    const known: Known[] = [];

    /*
     * 150 pages a day with skewed counts (page i: 30 - ⌊i/4⌋ events, at least 1), where each
     * day's first pages settle a top 10 or 40; one referrer per page with one event a day, a flat
     * distribution no day's top values settle; and `signup` events from campaigns: each day 100
     * campaigns of that day only (12 down to 3 events, ten of each) and one campaign of every day
     * (9 events), outside each day's top 22 and yet first over the range. The bound a top 10 must
     * beat there is 3 × 10 (three days' 23rd counts), not 10 (the largest of them).
     */
    beforeAll(async () => {
      await sql.query(`TRUNCATE analytics_events_ts, analytics_event_ids, analytics_dirty_buckets, analytics_daily_dimensions`);
      const rows: EventRow[] = [];
      const base = dimensionsOf(PAGES[0]!, REFERRERS[0]!, CLIENTS[0]!, AGENTS[0]!);
      const add = (day: number, event_name: string, dims: Record<Dimension, string | null>, visitor: string, userId: string | null) => {
        const n = rows.length;
        const time = iso(day + ((n * 7_919) % DAY));
        rows.push({
          event_id: `00000000-0000-4000-9000-${String(n).padStart(12, "0")}`,
          time, event_name, category: "web", user_id: userId, session_id: null, properties: {}, device_info: null,
          page_url: `https://shop.example${dims.page_path}`, referrer: null, received_at: time, client_time: null, skew_ms: 0, flags: [],
          visitor_id: visitor, ...dims,
        });
        known.push({ day, event_name, user_id: userId, plan: null, visitor, dims });
      };
      for (const day of days) {
        for (let page = 0; page < 150; page++) {
          for (let k = 0; k < Math.max(1, 30 - Math.floor(page / 4)); k++) {
            const dims = { ...base, page_path: `/p/${page}`, referrer_host: k === 0 ? `r${page}.example` : null };
            add(day, "page_view", dims, `v-${page % 13}-${k % 5}`, k % 3 === 0 ? `user-${(page + k) % 4}` : null);
          }
        }
        for (let campaign = 0; campaign <= 100; campaign++) {
          const utm_campaign = campaign === 100 ? "every-day" : `day-${day / DAY}-${campaign}`;
          for (let k = 0; k < (campaign === 100 ? 9 : 12 - Math.floor(campaign / 10)); k++) {
            add(day, "signup", { ...base, page_path: "/signup", utm_campaign }, `v-${k}`, null);
          }
        }
      }
      const insert = insertEvents(rows);
      await sql.query(insert.text, [...insert.values]);
      const refresh = refreshRollups(new Date(first), new Date(first + 3 * DAY));
      await sql.query(refresh.text, [...refresh.values]);
    }, 60_000);

    /** The breakdown's answer, and whether it was read from the candidates (the branch that ran). */
    async function read(query: string): Promise<{ rows: Row[]; truncated: boolean; fromCandidates: boolean }> {
      const ctx = createExecutionContext();
      const response = await worker.fetch(new Request(`https://worker.test/api/v1/analytics/breakdown?${query}`, { headers: AUTH }), tierEnv, ctx);
      await waitOnExecutionContext(ctx);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { rows: Row[]; truncated: boolean };
      const params = new URLSearchParams(query);
      const statement = breakdown(params.get("dimension") as Dimension, new Date(first), new Date(first + 3 * DAY), params.get("event_name"), Number(params.get("limit") ?? 10));
      const [plan] = (await sql.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`, [...statement.values])) as Array<{ "QUERY PLAN": [{ Plan: PlanNode }] }>;
      // The rows of every day are read from the rollup under the alias `every_day`, and not at all when the candidates settle it.
      const everyDay = findNode(plan!["QUERY PLAN"][0].Plan, "every_day");
      expect(everyDay).toBeDefined();
      return { ...body, fromCandidates: everyDay!["Actual Loops"] === 0 };
    }

    it("ranks skewed values from the candidates alone, and the answer equals the breakdown of the events", async () => {
      for (const limit of [2, 10, 40]) {
        const answer = await read(`dimension=page_path&${range}&limit=${limit}`);
        expect(answer.fromCandidates, `limit=${limit}`).toBe(true);
        expect(answer.truncated).toBe(true);
        expect(answer.rows).toEqual(expected(known, (k) => k.dims.page_path, limit));
      }
    });

    it("sums every row when the candidates cannot settle the ranking (flat values, or a limit past the top 100), with the same answers", async () => {
      const flat = await read(`dimension=referrer_host&${range}&limit=10`);
      expect(flat.fromCandidates).toBe(false);
      expect(flat.rows).toEqual(expected(known, (k) => k.dims.referrer_host, 10));
      const spread = await read(`dimension=utm_campaign&event_name=signup&${range}&limit=10`);
      expect(spread.fromCandidates).toBe(false);
      expect(spread.rows[0]).toMatchObject({ value: "every-day", events: 27 });
      expect(spread.rows).toEqual(expected(known.filter((k) => k.event_name === "signup"), (k) => k.dims.utm_campaign, 10));
      const wide = await read(`dimension=page_path&${range}&limit=140`);
      expect(wide.fromCandidates).toBe(false);
      expect(wide.rows).toEqual(expected(known, (k) => k.dims.page_path, 140));
    });

    it("reads every value from the candidates when no day has more than 100", async () => {
      const few = await read(`dimension=country&${range}&limit=10`);
      expect(few.fromCandidates).toBe(true);
      expect(few.truncated).toBe(false);
      expect(few.rows).toEqual(expected(known, (k) => k.dims.country));
    });
  });
}

/** A node of an `EXPLAIN (ANALYZE, FORMAT JSON)` plan. */
interface PlanNode {
  Alias?: string;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}

/** The plan node scanning the relation named `alias`, if any. */
function findNode(node: PlanNode, alias: string): PlanNode | undefined {
  if (node.Alias === alias) return node;
  for (const child of node.Plans ?? []) {
    const found = findNode(child, alias);
    if (found) return found;
  }
  return undefined;
}
