/**
 * Measures the read API's `summary` statement (30 days, hourly) over ≥ 1,000,000 events, from the
 * rollups, against the same answer computed from raw rows alone. Node-only; will move under
 * `npm run bench`.
 *
 *   npx tsx scripts/measure-summary.ts            # EVENTS=1200000 RUNS=5 by default
 *
 * It creates a throwaway database on the local PostgreSQL (TEST_PG_ADMIN_URL, default
 * postgresql://postgres@127.0.0.1:5432/postgres), applies the migrations (tier auto), generates the
 * events server-side (INSERT … SELECT … generate_series: ~300 event names with a steep skew, 12
 * categories, 200k users, 600k sessions, a numeric property), brings the rollups up to date with
 * `CALL analytics_refresh_rollups(from, to)`, checks that both statements give the same rows, then
 * reports the median of RUNS warm runs of each: server-side time (EXPLAIN (ANALYZE, TIMING OFF):
 * planning + execution, without per-node clock reads that would inflate a plan over a million rows)
 * and client time (the query with every row transferred over the local socket). The
 * database is dropped at the end, also on failure.
 */
import pg from "pg";
import { migrate } from "./lib/migrator";
import { INTERVAL_MS, alignDown } from "../src/read/range";
import { DAY_MS } from "../src/time";
import { summary, summaryFromRaw } from "../src/read/summary";
import { refreshRollups, type SqlStatement } from "../src/storage/sql";

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const EVENTS = Number(process.env.EVENTS ?? 1_200_000);
const RUNS = Number(process.env.RUNS ?? 5);

const sqlArgs = (s: SqlStatement): [string, unknown[]] => [s.text, [...s.values]];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const result = await fn();
  console.log(`  ${label}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return result;
}

interface Timing {
  server: number;
  planning: number;
  execution: number;
  client: number;
  rows: number;
}

async function measure(client: pg.Client, statement: SqlStatement): Promise<Timing> {
  const values = [...statement.values];
  // Two warm-up runs: caches and the plan path are hot before anything is recorded.
  for (let i = 0; i < 2; i++) await client.query(statement.text, values);
  const server: number[] = [];
  const planning: number[] = [];
  const execution: number[] = [];
  const client_: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS; i++) {
    const { rows: plan } = await client.query(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${statement.text}`, values);
    const p = (plan[0] as { "QUERY PLAN": Array<{ "Planning Time": number; "Execution Time": number }> })["QUERY PLAN"][0]!;
    planning.push(p["Planning Time"]);
    execution.push(p["Execution Time"]);
    server.push(p["Planning Time"] + p["Execution Time"]);
    const t = performance.now();
    const result = await client.query(statement.text, values);
    client_.push(performance.now() - t);
    rows = result.rowCount ?? 0;
  }
  return { server: median(server), planning: median(planning), execution: median(execution), client: median(client_), rows };
}

async function main() {
  const name = `eaw_measure_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client(ADMIN_URL);
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const client = new pg.Client(url.toString());
  try {
    const { tier } = await timed("migrations", () => migrate({ databaseUrl: url.toString() }));
    await client.connect();
    const { rows: info } = await client.query(
      `SELECT version() AS version, current_setting('shared_buffers') AS shared_buffers, current_setting('work_mem') AS work_mem,
              current_setting('max_parallel_workers_per_gather') AS parallel`,
    );
    console.log(`database ${name}, tier ${tier}; ${info[0].version}`);
    console.log(`shared_buffers=${info[0].shared_buffers} work_mem=${info[0].work_mem} max_parallel_workers_per_gather=${info[0].parallel}`);

    const now = Date.now();
    const openHour = alignDown(now, INTERVAL_MS.hour);
    // The generated data: 30 days up to now. Each question: the 30 buckets-worth of days ending
    // with the open bucket, aligned as the route aligns them.
    const from = new Date(openHour + INTERVAL_MS.hour - 30 * DAY_MS);
    const rangeOf = (interval: "hour" | "day") => {
      const to = alignDown(now, INTERVAL_MS[interval]) + INTERVAL_MS[interval];
      return { from: new Date(to - 30 * DAY_MS), to: new Date(to) };
    };
    if (tier === "postgres") {
      // Daily partitions exist from now - partitions_behind (8 days) on; the 30 days need more.
      await client.query(`UPDATE analytics_settings SET value = '32 days' WHERE name = 'partitions_behind'`);
      await client.query(`SELECT analytics_ensure_partitions()`);
    }
    await timed(`generate ${EVENTS.toLocaleString("en")} events`, () =>
      client.query(
        `INSERT INTO analytics_events_ts (time, event_id, event_name, category, user_id, session_id, properties, received_at)
         SELECT s.t, gen_random_uuid(), 'event_' || s.n, 'cat_' || (s.n % 12),
                CASE WHEN random() < 0.1 THEN NULL ELSE 'u' || floor(200000 * random() ^ 2)::int END,
                's' || floor(600000 * random() ^ 2)::int,
                jsonb_build_object('duration_ms', round((random() * 5000)::numeric, 1)),
                s.t
         FROM (SELECT $1::timestamptz + random() * ($2::timestamptz - $1::timestamptz) AS t,
                      floor(300 * random() ^ 3)::int AS n
               FROM generate_series(1, $3::int)) s`,
        [from.toISOString(), new Date(now).toISOString(), EVENTS],
      ),
    );
    await timed("CALL analytics_refresh_rollups (closed hours and days)", () =>
      client.query(...sqlArgs(refreshRollups(from, new Date(openHour)))),
    );
    await timed("VACUUM ANALYZE", () => client.query(`VACUUM ANALYZE`));
    const { rows: counts } = await client.query(
      `SELECT (SELECT count(*) FROM analytics_events_ts) AS events, (SELECT count(DISTINCT event_name) FROM analytics_events_ts) AS names,
              (SELECT count(*) FROM analytics_hourly) AS hourly_rows, (SELECT count(*) FROM analytics_daily) AS daily_rows`,
    );
    console.log(`events=${counts[0].events} event_names=${counts[0].names} analytics_hourly rows=${counts[0].hourly_rows} analytics_daily rows=${counts[0].daily_rows}`);

    for (const interval of ["hour", "day"] as const) {
      const range = rangeOf(interval);
      const rollup = summary(interval, range.from, range.to);
      const raw = summaryFromRaw(interval, range.from, range.to);
      // Same answer both ways (the rollup path also carries clean/complete flags).
      const a = (await client.query(rollup.text, [...rollup.values])).rows.map(
        ({ bucket, event_name, category, event_count, unique_users, unique_sessions }) => [bucket, event_name, category, event_count, unique_users, unique_sessions],
      );
      const b = (await client.query(raw.text, [...raw.values])).rows.map((r) => Object.values(r));
      if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`summary(${interval}) from rollups differs from the raw answer`);
      const r1 = await measure(client, rollup);
      const r2 = await measure(client, raw);
      console.log(`\nsummary [${range.from.toISOString()}, ${range.to.toISOString()}), interval=${interval} (${r1.rows.toLocaleString("en")} rows, identical both ways), median of ${RUNS} warm runs:`);
      console.log(`  from rollups : server ${ms(r1.server)} (planning ${ms(r1.planning)} + execution ${ms(r1.execution)}), client ${ms(r1.client)}`);
      console.log(`  from raw rows: server ${ms(r2.server)} (planning ${ms(r2.planning)} + execution ${ms(r2.execution)}), client ${ms(r2.client)}`);
      console.log(`  speed-up (server): ${(r2.server / r1.server).toFixed(1)}x`);
    }
  } finally {
    await client.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
    console.log(`\ndropped ${name}`);
  }
}

await main();
