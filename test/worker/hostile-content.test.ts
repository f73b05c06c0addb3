/**
 * Content PostgreSQL or Redis's Lua cannot store as sent (NUL, lone UTF-16 surrogates) and names
 * that are not printable, in every string field and object key, through the Worker's real fetch
 * handler against the real Redis and PostgreSQL 15 (`postgres` tier) and the embedded TimescaleDB
 * (`timescale` tier). Then a row PostgreSQL refuses for another reason (a CHECK constraint):
 * the rest stored, one dead letter, /health degraded, and `dead-letters replay` once it is fixed.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { createApp } from "../../src/app";
import { createServices } from "../../src/services";
import { DeadLetters } from "../../src/storage/dead-letters";
import { planCounters } from "../../src/domain/counter-plan";
import type { EventRow } from "../../src/domain/event";
import { PostgresStore } from "../../src/storage/postgres-store";
import { hourId, redisKeys } from "../../src/storage/redis-keys";
import { RedisIngestStore, type IngestRedis } from "../../src/storage/redis-store";
import { clearPrefix, cronEnv, makeEvents, redisClient, resetTables, sqlFor, type TierName } from "./cron-support";
import { control } from "./support";

const KEY = "test-write-key";
const redis = redisClient();

interface IngestBody {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; code: string; message: string }>;
}

async function post(workerEnv: Env, events: unknown[]): Promise<{ status: number; body: IngestBody }> {
  const request = new Request("http://worker.test/api/v1/analytics", {
    method: "POST",
    headers: { "content-type": "application/json", "x-write-key": KEY },
    body: JSON.stringify({ events, sent_at: new Date().toISOString() }),
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  return { status: response.status, body: (await response.json()) as IngestBody };
}

async function health(workerEnv: Env): Promise<{ status: string; problems: string[] }> {
  const response = await createApp(createServices).request("/health", { headers: { authorization: `Bearer ${workerEnv.READ_TOKEN}` } }, workerEnv);
  return (await response.json()) as { status: string; problems: string[] };
}

/** Recent successful runs of every job, so that /health judges only the ingest side. */
async function healthyJobs(tier: TierName): Promise<void> {
  await sqlFor(tier).query(
    `INSERT INTO analytics_job_runs (job, finished_at, outcome) VALUES ('drain', now(), 'ok'), ('hourly', now(), 'ok'), ('daily', now(), 'ok')`,
  );
}

const TIME = () => new Date(Date.now() - 5 * 60_000);

/** Ten realistic events sharing one timestamp (one Redis hour bucket), each with its own id. */
function tenEvents(at: Date): Array<Record<string, unknown>> {
  return Array.from({ length: 10 }, (_, i) => ({
    event_id: crypto.randomUUID(),
    event_name: "page_view",
    category: "navigation",
    timestamp: at.toISOString(),
    user_id: `user-${i}`,
    session_id: `session-${i % 3}`,
    properties: { path: "/pricing", title: "Pricing" },
    device_info: { user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", screen: { w: 1280 } },
    page_url: "https://shop.example/pricing?utm_source=news",
    referrer: "https://search.example/?q=shoes",
  }));
}

const PAYLOADS = {
  NUL: "\u0000",
  "lone high surrogate": "\ud800",
  "lone low surrogate": "\udc00",
} as const;

/** Where a hostile string goes, and whether the event is rejected (with the path in the message) or stored cleaned. */
interface Placement {
  field: string;
  put: (event: Record<string, unknown>, bad: string) => void;
  outcome: { rejected: RegExp } | { cleaned: (row: Record<string, unknown>) => unknown };
}

const PLACEMENTS: Placement[] = [
  { field: "event_name", put: (e, bad) => (e.event_name = `page${bad}view`), outcome: { rejected: /^event_name: contains U\+/ } },
  { field: "category", put: (e, bad) => (e.category = `nav${bad}`), outcome: { rejected: /^category: contains U\+/ } },
  { field: "user_id", put: (e, bad) => (e.user_id = `user${bad}`), outcome: { rejected: /^user_id: contains U\+/ } },
  { field: "session_id", put: (e, bad) => (e.session_id = `${bad}session`), outcome: { rejected: /^session_id: contains U\+/ } },
  { field: "a properties key", put: (e, bad) => (e.properties = { [`pa${bad}th`]: "/x" }), outcome: { rejected: /^properties\.pa\\u\{[0-9a-f]+\}th: key contains U\+/ } },
  {
    field: "a device_info key (nested)",
    put: (e, bad) => (e.device_info = { screen: { [`w${bad}`]: 1 } }),
    outcome: { rejected: /^device_info\.screen\.w\\u\{[0-9a-f]+\}: key contains U\+/ },
  },
  {
    field: "a properties value",
    put: (e, bad) => (e.properties = { title: `Pri${bad}cing` }),
    outcome: { cleaned: (row) => (row.properties as { title: string }).title === "Pri\ufffdcing" },
  },
  {
    field: "a device_info value (in an array)",
    put: (e, bad) => (e.device_info = { tags: [`a${bad}`] }),
    outcome: { cleaned: (row) => (row.device_info as { tags: string[] }).tags[0] === "a\ufffd" },
  },
  {
    field: "page_url",
    put: (e, bad) => (e.page_url = `https://shop.example/p${bad}x`),
    outcome: { cleaned: (row) => /^https:\/\/shop\.example\/p%(00|EF%BF%BD)x$/.test(String(row.page_url)) },
  },
  {
    field: "referrer",
    put: (e, bad) => (e.referrer = `https://search.example/${bad}x`),
    outcome: { cleaned: (row) => /^https:\/\/search\.example\/%(00|EF%BF%BD)x$/.test(String(row.referrer)) },
  },
];

/** Names that the stores could hold but dashboards, CSV exports and logs cannot show safely. */
const UNPRINTABLE_NAMES: Array<[string, string, RegExp]> = [
  ["a bidi override", "sign\u202eup", /contains U\+202E/],
  ["a zero-width space", "sign\u200bup", /contains U\+200B/],
  ["a control character", "sign\u0007up", /contains U\+0007/],
  ["only whitespace", "   ", /must not be blank/],
];

const BAD_INDEX = 4;

describe.each<TierName>(["postgres", "timescale"])("hostile content, tier %s", (tier) => {
  const prefix = `hostile-${tier}:`;
  const workerEnv = cronEnv(tier, prefix);
  const keys = redisKeys(prefix);
  const sql = sqlFor(tier);

  beforeEach(async () => {
    await resetTables(tier);
    await clearPrefix(redis, prefix);
    await healthyJobs(tier);
  });
  afterAll(async () => {
    await clearPrefix(redis, prefix);
  });

  /** Posts the batch and checks what every case shares: 202, stored once, counters = PostgreSQL, no dead letter, /health ok. */
  async function postAndCheck(events: Array<Record<string, unknown>>, at: Date, expectStored: number) {
    const { status, body } = await post(workerEnv, events);
    expect(status).toBe(202);
    const rows = (await sql.query(
      `SELECT event_id::text AS event_id, count(*)::int AS n, min(properties::text) AS properties, min(device_info::text) AS device_info,
         min(page_url) AS page_url, min(referrer) AS referrer, min(array_to_string(flags, ',')) AS flags
       FROM analytics_events_ts WHERE event_id = ANY($1::uuid[]) GROUP BY 1`,
      [events.map((e) => e.event_id)],
    )) as Array<{ event_id: string; n: number; properties: string; device_info: string | null; page_url: string | null; referrer: string | null; flags: string }>;
    expect(rows).toHaveLength(expectStored);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const redisTotal = Number((await redis.hget(keys.hourCounters(hourId(at)), "total")) ?? 0);
    expect(redisTotal).toBe(expectStored);
    expect(await redis.xlen(keys.deadLetter)).toBe(0);
    expect(await redis.xlen(keys.buffer)).toBe(0);
    expect(await health(workerEnv)).toMatchObject({ status: "ok", problems: [] });
    return { body, rows };
  }

  for (const [payloadName, bad] of Object.entries(PAYLOADS)) {
    for (const placement of PLACEMENTS) {
      const verdict = "rejected" in placement.outcome ? "the 9 good events stored once, that one rejected by index" : "all 10 stored once, that one cleaned";
      it(`${payloadName} in ${placement.field}: 202, ${verdict}`, async () => {
        const at = TIME();
        const events = tenEvents(at);
        placement.put(events[BAD_INDEX]!, bad);
        if ("rejected" in placement.outcome) {
          const { body, rows } = await postAndCheck(events, at, 9);
          expect(body).toMatchObject({ accepted: 9, duplicates: 0 });
          expect(body.rejected).toHaveLength(1);
          expect(body.rejected[0]).toMatchObject({ index: BAD_INDEX, code: "invalid_field" });
          expect(body.rejected[0]!.message).toMatch(placement.outcome.rejected);
          expect(rows.some((r) => r.event_id === events[BAD_INDEX]!.event_id)).toBe(false);
        } else {
          const { body, rows } = await postAndCheck(events, at, 10);
          expect(body).toEqual({ accepted: 10, duplicates: 0, rejected: [] });
          const stored = rows.find((r) => r.event_id === events[BAD_INDEX]!.event_id)!;
          const row = {
            properties: JSON.parse(stored.properties),
            device_info: stored.device_info === null ? null : JSON.parse(stored.device_info),
            page_url: stored.page_url,
            referrer: stored.referrer,
          };
          expect(placement.outcome.cleaned(row)).toBe(true);
        }
      });
    }
  }

  for (const [what, name, message] of UNPRINTABLE_NAMES) {
    for (const field of ["event_name", "category"] as const) {
      it(`${what} in ${field}: 202, that event rejected by index, the 9 others stored once`, async () => {
        const at = TIME();
        const events = tenEvents(at);
        events[BAD_INDEX]![field] = name;
        const { body } = await postAndCheck(events, at, 9);
        expect(body.rejected).toEqual([{ index: BAD_INDEX, code: "invalid_field", message: expect.stringMatching(new RegExp(`^${field}: .*${message.source}`)) }]);
      });
    }
  }

  it("without event_id and timestamp, the same event sent twice is two events; with a timestamp it is one", async () => {
    const click = { event_name: "click", category: "ui" };
    expect((await post(workerEnv, [click])).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await post(workerEnv, [click])).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const timed = { ...click, timestamp: TIME().toISOString() };
    expect((await post(workerEnv, [timed])).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await post(workerEnv, [timed])).body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    const [clicks] = (await sql.query(`SELECT count(*)::int AS n FROM analytics_events_ts WHERE event_name = 'click'`)) as Array<{ n: number }>;
    expect(clicks!.n).toBe(3);
  });
});

describe.each<TierName>(["postgres", "timescale"])("a row PostgreSQL refuses for another reason, tier %s", (tier) => {
  const prefix = `refused-${tier}:`;
  const workerEnv = cronEnv(tier, prefix);
  const keys = redisKeys(prefix);
  const sql = sqlFor(tier);
  const admin = new DeadLetters(redis, prefix, new PostgresStore(sql));

  beforeAll(async () => {
    await resetTables(tier);
    await clearPrefix(redis, prefix);
    await healthyJobs(tier);
    await sql.query(`ALTER TABLE analytics_events_ts ADD CONSTRAINT test_no_forbidden CHECK (event_name <> 'forbidden')`);
  });
  afterAll(async () => {
    await sql.query(`ALTER TABLE analytics_events_ts DROP CONSTRAINT IF EXISTS test_no_forbidden`);
    await clearPrefix(redis, prefix);
  });

  it("with Redis down, answers that row per event (refused_by_database) and stores the rest in PostgreSQL", async () => {
    const events = tenEvents(TIME());
    events[BAD_INDEX]!.event_name = "forbidden";
    await control("redis/stop");
    try {
      const { status, body } = await post(workerEnv, events);
      expect(status).toBe(202);
      expect(body).toMatchObject({ accepted: 9, duplicates: 0 });
      expect(body.rejected).toEqual([{ index: BAD_INDEX, code: "refused_by_database", message: expect.stringMatching(/23514: .*test_no_forbidden/) }]);
      // A resend is deduplicated by PostgreSQL even without Redis.
      expect((await post(workerEnv, events)).body).toMatchObject({ accepted: 0, duplicates: 9 });
    } finally {
      await control("redis/start");
    }
    const [count] = (await sql.query(`SELECT count(*)::int AS n FROM analytics_events_ts WHERE event_id = ANY($1::uuid[])`, [
      events.map((e) => e.event_id),
    ])) as Array<{ n: number }>;
    expect(count!.n).toBe(9);
    expect(await redis.xlen(keys.deadLetter)).toBe(0);
  });

  it("stores the rest, dead-letters that row with its SQLSTATE, /health degraded; replay after the fix stores it once", async () => {
    const at = TIME();
    const events = tenEvents(at);
    events[BAD_INDEX]!.event_name = "forbidden";
    const ids = events.map((e) => e.event_id as string);

    const { status, body } = await post(workerEnv, events);
    // Accepted: the batch is durable in the buffer before PostgreSQL sees it.
    expect(status).toBe(202);
    expect(body).toEqual({ accepted: 10, duplicates: 0, rejected: [] });

    const stored = async () =>
      (await sql.query(`SELECT event_id::text AS id FROM analytics_events_ts WHERE event_id = ANY($1::uuid[])`, [ids])) as Array<{ id: string }>;
    expect((await stored()).map((r) => r.id).sort()).toEqual(ids.filter((_, i) => i !== BAD_INDEX).sort());
    expect(await redis.xlen(keys.buffer)).toBe(0);

    const { total, letters } = await admin.list();
    expect(total).toBe(1);
    expect(letters[0]).toMatchObject({ sqlstate: "23514", error: expect.stringMatching(/^23514: .*test_no_forbidden/) });
    expect(letters[0]!.rows!.map((r) => r.event_id)).toEqual([ids[BAD_INDEX]]);

    const degraded = await health(workerEnv);
    expect(degraded.status).toBe("degraded");
    expect(degraded.problems).toEqual([expect.stringMatching(/^dead_letters: 1 /)]);

    // Before the fix a replay keeps it, with the error again.
    const early = await admin.replay();
    expect(early).toMatchObject({ replayed: [], inserted: 0, refused: [{ id: letters[0]!.id }] });
    expect((await admin.list()).total).toBe(1);

    await sql.query(`ALTER TABLE analytics_events_ts DROP CONSTRAINT test_no_forbidden`);
    expect(await admin.replay()).toMatchObject({ replayed: [letters[0]!.id], inserted: 1, refused: [] });
    expect(await admin.replay()).toMatchObject({ replayed: [], inserted: 0 });

    const [replayed] = (await sql.query(`SELECT count(*)::int AS n FROM analytics_events_ts WHERE event_id = $1`, [ids[BAD_INDEX]])) as Array<{ n: number }>;
    expect(replayed!.n).toBe(1);
    expect((await stored()).length).toBe(10);
    expect(await redis.xlen(keys.deadLetter)).toBe(0);
    // Redis counted all ten when it accepted them; PostgreSQL now agrees.
    expect(Number(await redis.hget(keys.hourCounters(hourId(at)), "total"))).toBe(10);
    expect(await health(workerEnv)).toMatchObject({ status: "ok", problems: [] });
  });
});

describe("a batch the Redis script cannot read is the data's fault, never an outage", () => {
  const prefix = "script-guard:";
  const keys = redisKeys(prefix);

  afterAll(async () => {
    await clearPrefix(redis, prefix);
  });

  it("the real script refuses it before any write: no dedupe key, no rate-limit count, no buffer entry", async () => {
    await clearPrefix(redis, prefix);
    // Past validation only by a bug: a lone surrogate in event_name (cjson.decode refuses it).
    const rows: EventRow[] = makeEvents(3, Date.now() - 60_000, 1_000).map((r, i) => (i === 1 ? { ...r, event_name: "x\ud800" } : r));
    const now = new Date();
    const result = await new RedisIngestStore(redis, prefix).recordBatch({
      rows,
      rateLimitId: "k",
      clientId: "c",
      counters: planCounters(rows),
      now,
      limits: {
        perClient: 100,
        perKey: 100,
        bufferEntries: 1_000,
        bufferBytes: 1 << 20,
        activeSessions: 1_000,
        eventNamesPerHour: 100,
        categoriesPerHour: 100,
      },
      dedupeSeconds: 3_600,
    });
    expect(result).toMatchObject({ status: "invalid", message: expect.stringMatching(/invalid unicode escape/) });
    const [next, written] = await redis.scan(0, { match: `${prefix}*`, count: 1000 });
    expect([String(next), written]).toEqual(["0", []]);
    expect(await redis.xlen(keys.buffer)).toBe(0);
  });

  const refusals: Array<[string, IngestRedis["recordBatch"]]> = [
    ["answers invalid", async () => ({ status: "invalid", message: "Expected value but found invalid unicode escape code" })],
    [
      "raises a Lua error",
      async () => {
        throw new Error("ERR user_script:57: attempt to compare nil with number script: 1f2e, on @user_script:57.");
      },
    ],
  ];
  for (const [what, recordBatch] of refusals) {
    it(`when the script ${what}: 422 unstorable_events, not 503, and nothing is written to PostgreSQL`, async () => {
      const services = createServices(env);
      let inserts = 0;
      const app = createApp(() => ({
        ...services,
        ingestRedis: { ...services.ingestRedis, recordBatch },
        events: {
          insertEvents: async () => {
            inserts += 1;
            return 0;
          },
        },
      }));
      const response = await app.request(
        "/api/v1/analytics",
        { method: "POST", headers: { "content-type": "application/json", "x-write-key": KEY }, body: JSON.stringify(tenEvents(TIME())) },
        env,
      );
      expect(response.status).toBe(422);
      expect(await response.json()).toEqual({ error: { code: "unstorable_events", message: expect.any(String), retryable: false } });
      expect(inserts).toBe(0);
    });
  }
});
