/**
 * What only the Hyperdrive path needs proving (project workerd-hyperdrive; every other workerd
 * test runs on both paths): node-postgres returns the same JS values as Neon's HTTP driver for
 * what the Worker reads, TCP failures keep the HTTP path's retry contract, and a connection
 * string's password never reaches a log line or an answer.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { JOB_NAMES } from "../../src/cron/triggers";
import { unreachableStore } from "../../src/routes/store-errors";
import { HyperdriveSql, PostgresTcpError, type Sql } from "../../src/storage/clients";
import { healthStatus, insertEvents } from "../../src/storage/sql";
import type { EventRow } from "../../src/domain/event";
import { testSql } from "./support";

const TOKEN = "test-read-token-0123456789";

function hyperdriveSql(): Sql {
  if (!env.HYPERDRIVE) throw new Error("the workerd-hyperdrive project binds HYPERDRIVE");
  return new HyperdriveSql(env.HYPERDRIVE.connectionString);
}

function eventRow(i: number): EventRow {
  return {
    event_id: crypto.randomUUID(),
    time: new Date(Date.now() - i * 60_000).toISOString(),
    event_name: `parity_${i % 3}`,
    category: "parity",
    user_id: i % 2 ? `user-${i}` : null,
    session_id: `session-${i % 4}`,
    properties: { n: i, nested: { ok: true }, list: [1, "two"], text: "ünïcode ✓" },
    device_info: i % 2 ? { os: "linux" } : null,
    page_url: "https://example.com/a",
    referrer: null,
    received_at: new Date().toISOString(),
    client_time: new Date(Date.now() - i * 60_000 - 5).toISOString(),
    skew_ms: i * 7,
    flags: i % 2 ? ["late"] : [],
  } as unknown as EventRow;
}

describe("node-postgres over Hyperdrive returns what Neon's HTTP driver returns", () => {
  const neon = testSql();
  const tcp = hyperdriveSql();

  beforeAll(async () => {
    const rows = Array.from({ length: 12 }, (_, i) => eventRow(i));
    await neon.query(insertEvents(rows).text, [...insertEvents(rows).values]);
  });

  const statements: Array<[string, string, unknown[]]> = [
    [
      "every column type the Worker reads",
      `SELECT now() AS timestamptz, TIMESTAMP '2026-01-02 03:04:05.678' AS timestamp, DATE '2026-01-02' AS date,
        count(*) AS bigint, 12345678901234::bigint AS big, 1.50::numeric(10,2) AS numeric, 2::integer AS integer,
        3::smallint AS smallint, 0.25::real AS real, 0.125::double precision AS double, true AS boolean, 'x'::text AS text,
        '5f0c6f3e-0000-4000-8000-000000000000'::uuid AS uuid, '{"a":[1,{"b":null}]}'::jsonb AS jsonb,
        '{"c":2}'::json AS json, ARRAY['a','b,c']::text[] AS text_array, ARRAY[1.5,2]::real[] AS real_array,
        ARRAY[1,2]::int[] AS int_array, INTERVAL '90 minutes' AS interval, NULL::text AS null_text,
        $1::text AS param_text, $2::int AS param_int, $3::timestamptz AS param_time
       FROM generate_series(1, 3)`,
      ["p", 7, "2026-03-04T05:06:07.089Z"],
    ],
    ["stored events, every column", `SELECT * FROM analytics_events_ts WHERE category = 'parity' ORDER BY event_id`, []],
    ["the health statement", healthStatus(JOB_NAMES).text, [...healthStatus(JOB_NAMES).values]],
  ];

  it.each(statements)("%s", async (_name, text, values) => {
    const [viaHttp, viaTcp] = await Promise.all([neon.query(text, values), tcp.query(text, values)]);
    expect(viaHttp.length).toBeGreaterThan(0);
    // Same keys, same JS types, same values (timestamptz → Date, bigint/numeric → string, …).
    const kinds = (rows: Array<Record<string, unknown>>) =>
      rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? "Date" : Array.isArray(v) ? "array" : typeof v])));
    expect(kinds(viaTcp)).toEqual(kinds(viaHttp));
    // now() differs between the two statements; everything else must be equal.
    const withoutNow = (rows: Array<Record<string, unknown>>) => rows.map(({ timestamptz: _t, db_now: _d, ...rest }) => rest);
    expect(withoutNow(viaTcp)).toEqual(withoutNow(viaHttp));
  });

  it("parses the types the way the Worker's code expects", async () => {
    const [row] = await tcp.query(statements[0]![1], statements[0]![2]);
    expect(row).toMatchObject({ bigint: "3", big: "12345678901234", numeric: "1.50", integer: 2, real: 0.25, boolean: true });
    expect(row!.timestamptz).toBeInstanceOf(Date);
    expect(row!.jsonb).toEqual({ a: [1, { b: null }] });
    expect(row!.text_array).toEqual(["a", "b,c"]);
    expect((row!.param_time as Date).toISOString()).toBe("2026-03-04T05:06:07.089Z");
  });

  it("runs a transaction all or nothing, as the HTTP path does", async () => {
    const marker = `parity_tx_${crypto.randomUUID()}`;
    const failing = tcp.transaction([
      tcp.query(`INSERT INTO analytics_meta (key, value) VALUES ($1, 'x')`, [marker]),
      tcp.query(`SELECT 1/0`),
    ]);
    await expect(failing).rejects.toMatchObject({ code: "22012" });
    expect(await neon.query(`SELECT key FROM analytics_meta WHERE key = $1`, [marker])).toEqual([]);
    const [inserted, selected] = await tcp.transaction([
      tcp.query(`INSERT INTO analytics_meta (key, value) VALUES ($1, 'y') RETURNING value`, [marker]),
      tcp.query(`SELECT value FROM analytics_meta WHERE key = $1`, [marker]),
    ]);
    expect(inserted).toEqual([{ value: "y" }]);
    expect(selected).toEqual([{ value: "y" }]);
    await neon.query(`DELETE FROM analytics_meta WHERE key = $1`, [marker]);
  });
});

describe("TCP failures keep the HTTP path's retry contract", () => {
  const sqlError = (code: string, message: string) => new PostgresTcpError(Object.assign(new Error(message), { code }));

  it.each([
    ["a refused or dropped connection", new PostgresTcpError(new Error("Connection terminated unexpectedly")), "postgres"],
    ["statement timeout (57014)", sqlError("57014", "canceling statement due to statement timeout"), "postgres"],
    ["admin shutdown (57P01)", sqlError("57P01", "terminating connection due to administrator command"), "postgres"],
    ["too many connections (53300)", sqlError("53300", "sorry, too many clients already"), "postgres"],
    ["a connection failure (08006)", sqlError("08006", "connection failure"), "postgres"],
    ["a refused row (23505) is not an outage", sqlError("23505", "duplicate key value"), null],
    ["a SQL bug (42703) is not an outage", sqlError("42703", 'column "x" does not exist'), null],
  ])("%s → %s", (_name, error, store) => {
    expect(unreachableStore(error)).toBe(store);
  });
});

describe("a connection string's password never leaves the Worker", () => {
  const PASSWORD = "pw-Hyperdrive-s3cret";
  // A Hyperdrive whose database refuses connections: the port nothing listens on.
  const brokenEnv = {
    ...env,
    HYPERDRIVE: { connectionString: `postgresql://analytics:${PASSWORD}@127.0.0.1:1/analytics?sslmode=disable` },
    DATABASE_URL: `postgresql://analytics:${PASSWORD}@db.localtest.me:5432/analytics`,
  } as unknown as Env;
  const logged: string[] = [];

  beforeAll(() => {
    for (const level of ["log", "warn", "error", "info"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
    }
  });
  afterEach(() => vi.restoreAllMocks());

  async function call(path: string, init: RequestInit = {}): Promise<{ status: number; retryAfter: string | null; text: string }> {
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(`http://worker${path}`, init), brokenEnv, ctx);
    await waitOnExecutionContext(ctx);
    return { status: response.status, retryAfter: response.headers.get("retry-after"), text: await response.text() };
  }

  it("answers the read API with 503 storage_unavailable and Retry-After, never a 500, and logs no password", async () => {
    const read = await call(`/api/v1/analytics/summary?interval=hour&from=${new Date(Date.now() - 7_200_000).toISOString()}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(read.status, read.text).toBe(503);
    expect(JSON.parse(read.text)).toMatchObject({ error: { code: "storage_unavailable", retryable: true, details: { store: "postgres" } } });
    expect(Number(read.retryAfter)).toBeGreaterThan(0);

    const health = await call("/health", { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(health.status).toBe(503);
    const body = JSON.parse(health.text) as { postgres: { ok: boolean; driver: string; error: string } };
    expect(body.postgres).toMatchObject({ ok: false, driver: "hyperdrive" });
    expect(body.postgres.error).toMatch(/PostgresTcpError/);

    for (const text of [read.text, health.text, ...logged]) expect(text).not.toContain(PASSWORD);
    expect(logged.length).toBeGreaterThan(0);
  });
});
