/**
 * Part 3 — end-to-end ingest through `wrangler dev`, the bridges, real Redis and PostgreSQL, in
 * both INGEST_MODEs, from a load generator in its own process (fixed connections, fixed duration,
 * capped requests). Beside it, in the same run, two ceilings:
 *  (a) harness: the no-op worker (scripts/bench/noop-worker) under the same wrangler dev, reading
 *      the same bodies and making the same subrequests to an endpoint that answers at once;
 *  (b) storage: INSERT_EVENTS (the project's statement) straight at PostgreSQL over 4 connections,
 *      beside a bare 50-row `INSERT … SELECT unnest` of the same parameters into the same table
 *      (same indexes, same partitions) with no dedupe: the ratio is what the project adds.
 * Then a final count: every 202-accepted event stored exactly once (PostgreSQL) and counted once
 * (the Redis hour counters).
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import pg from "pg";
import { prepareBatch } from "../../src/domain/ingest-batch";
import type { EventRow } from "../../src/domain/event";
import { saltDay, visitorKey } from "../../src/domain/visitor";
import { EVENT_ROW_COLUMNS, EVENT_ROWS_UNNEST, INSERT_EVENTS, insertEventsValues } from "../../src/storage/sql";
import { createMigratedDatabase } from "./databases";
import { BATCH_SEQ_SQL, loadEventId, makeBatch, prng, RUN_OF_ID_SQL, skewed } from "./fixtures";
import { newRunId, runLoad, type LoadResult } from "./load";
import type { Figure, PartResult, Size } from "./report";
import { sendBatches, settleStats } from "./roundtrips";
import { BENCH_WRITE_KEY, bufferContents, countedInRedis, redisClient, replyInt, startWranglerDev, type BenchStack } from "./stack";
import { cpuShares, cpuSnapshot, sharesText } from "./profile";
import { log, median, onCleanup, percentile, round, sleep } from "./util";

interface LoadShape {
  connections: number;
  durationSec: number;
  reps: number;
}

function shapeFor(size: Size): LoadShape {
  return size === "full" ? { connections: 10, durationSec: 15, reps: 3 } : { connections: 8, durationSec: 4, reps: 1 };
}

async function repeatLoad(
  label: string,
  shape: LoadShape,
  url: string,
  path: string,
): Promise<{ runs: LoadResult[]; runIds: string[]; cpu: Record<string, number>[] }> {
  const runs: LoadResult[] = [];
  const runIds: string[] = [];
  const cpu: Record<string, number>[] = [];
  for (let rep = 0; rep < shape.reps; rep++) {
    const run = newRunId();
    runIds.push(run);
    const before = cpuSnapshot();
    const t0 = Date.now();
    const result = await runLoad({
      url,
      path,
      connections: shape.connections,
      durationSec: shape.durationSec,
      maxRequests: shape.durationSec * 5_000,
      run,
      writeKey: BENCH_WRITE_KEY,
      listAccepted: true,
    });
    const shares = cpuShares(before, cpuSnapshot(), (Date.now() - t0) / 1000);
    cpu.push(shares);
    log(`e2e ${label} rep ${rep + 1}/${shape.reps}: ${round(result.requestsPerSec)} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, statuses ${JSON.stringify(result.byStatus)}${result.errors ? `, ${result.errors} errors` : ""}`);
    log(`  CPU (% of one core): ${sharesText(shares)}`);
    if (result.firstNon2xxBody) log(`  first non-2xx: ${result.firstNon2xxBody}`);
    runs.push(result);
    await sleep(1_000);
  }
  return { runs, runIds, cpu };
}

/** An HTTP endpoint that reads the request body and answers 200 at once (the subrequest target). */
async function startEchoServer(): Promise<{ url: string; server: Server }> {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    req.on("data", () => {});
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"result":"OK"}');
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  onCleanup("echo server", () => new Promise((done) => server.close(() => done(undefined))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/** Client countries, most frequent first (drawn with skew): what `request.cf.country` would say. */
const COUNTRIES = ["US", "DE", "GB", "IN", "FR", "BR", "CA", "NL", "JP", "ES", "IT", "PL", "AU", "SE", "MX", "TR", "KR", "CH", "AT", "BE"];

/**
 * Realistic normalised rows, `count` of them in batches of 50: the output of prepareBatch with the
 * country Cloudflare reports, plus the visitor id the ingest script adds (domain/visitor.ts: the
 * worker's key of site, address and User-Agent, salted per UTC day and hashed, 16 hex digits). A
 * batch's visitor follows its user (or, anonymous, its session), so a returning user is one
 * visitor per day, as with a real address; the dimension columns carry the entropy that
 * compression meets in production.
 */
export async function realisticRows(count: number, seed = 11, spreadMs = 0): Promise<EventRow[]> {
  const rows: EventRow[] = [];
  const now = Date.now();
  for (let b = 0; rows.length < count; b++) {
    const nowMs = spreadMs > 0 ? now - Math.floor(((b * 7919) % 1000) / 1000 * spreadMs) : now;
    const body = makeBatch(prng(seed * 100_003 + b), { nowMs });
    const country = COUNTRIES[skewed(prng(seed * 7_919 + b), COUNTRIES.length, 2)]!;
    const prepared = await prepareBatch(body, { receivedAt: new Date(nowMs + 50), country });
    const first = prepared.rows[0];
    if (first) {
      const ua = (first.device_info?.user_agent as string | undefined) ?? null;
      const key = await visitorKey(first.page_host ?? null, `198.51.${first.user_id ?? first.session_id}`, ua);
      const visitor = createHash("sha1").update(`${saltDay(new Date(nowMs)).day}${key}`).digest("hex").slice(0, 16);
      for (const row of prepared.rows) row.visitor_id = visitor;
    }
    rows.push(...prepared.rows);
  }
  return rows.slice(0, count);
}

/**
 * The bare comparison: the same rows, the same array parameters, into the SAME table with the same
 * indexes (and, in the postgres tier, the same partitions) — no dedupe table, no in-batch
 * DISTINCT ON, no dirty-bucket marks. The ratio isolates what the project's statement adds.
 */
const BARE_INSERT = `INSERT INTO analytics_events_ts (${EVENT_ROW_COLUMNS})
SELECT ${EVENT_ROWS_UNNEST}`;

/**
 * Drives `statement(batchNo)` over `connections` pooled connections for `seconds`; returns
 * events/s (50 per statement) and the per-statement latency p50/p99.
 */
async function drive(pool: pg.Pool, connections: number, seconds: number, statement: (n: number) => [string, unknown[]]): Promise<{ eventsPerSec: number; p50: number; p99: number }> {
  let n = 0;
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = await pool.connect();
      try {
        while (Date.now() < end) {
          const [text, values] = statement(n++);
          const t0 = process.hrtime.bigint();
          await client.query(text, values);
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      } finally {
        client.release();
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  return { eventsPerSec: (latencies.length * 50) / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function storageCeiling(size: Size): Promise<{ project: number[]; bare: number[]; latency: Record<string, unknown> }> {
  const seconds = size === "full" ? 10 : 3;
  const reps = size === "full" ? 3 : 1;
  const db = await createMigratedDatabase("ceiling");
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  // Dropping the database at cleanup terminates idle clients: never an unhandled 'error' event.
  pool.on("error", () => {});
  onCleanup("ceiling pool", () => pool.end());
  const template = await realisticRows(50);
  const run = newRunId();
  // Both statements get the same parameters (insertEventsValues), built the same way per batch.
  const values = (n: number) => insertEventsValues(template.map((r, i) => ({ ...r, event_id: loadEventId(run, n, i) })));
  const projectStatement = (n: number): [string, unknown[]] => [INSERT_EVENTS, values(n)];
  const bareStatement = (n: number): [string, unknown[]] => [BARE_INSERT, values(n)];
  const project: number[] = [];
  const bare: number[] = [];
  const latency: Record<string, unknown> = {};
  // Warm-up both, then alternate so that drift on a shared machine hits both alike.
  await drive(pool, 4, 1, projectStatement);
  await drive(pool, 4, 1, (n) => bareStatement(n + 10_000_000));
  for (let rep = 0; rep < reps; rep++) {
    const p = await drive(pool, 4, seconds, (n) => projectStatement(n + (rep + 1) * 20_000_000));
    const b = await drive(pool, 4, seconds, (n) => bareStatement(n + (rep + 1) * 20_000_000 + 10_000_000));
    project.push(p.eventsPerSec);
    bare.push(b.eventsPerSec);
    latency[`rep${rep}`] = { project: p, bare: b };
    log(`e2e storage ceiling rep ${rep + 1}/${reps}: INSERT_EVENTS ${round(p.eventsPerSec, 0)} events/s (p50 ${round(p.p50, 2)} ms), bare unnest ${round(b.eventsPerSec, 0)} events/s (p50 ${round(b.p50, 2)} ms)`);
  }
  return { project, bare, latency };
}

interface ModeOutcome {
  runs: LoadResult[];
  cpu: Record<string, number>[];
  /** Stored rows of the batches answered 202 (must be 50 × their count). */
  acceptedStored: number;
  reqPerSec: number;
  eventsPerSec: number;
  p50: number;
  p99: number;
  accepted: number;
  stored: number;
  distinct: number;
  counted: number;
  inBuffer: number;
  drainSeconds: number | null;
  drainNote: string;
  statusTotals: Record<string, number>;
}

/** Rows stored for the given (run, batch sequence) pairs: 50 per batch when each is stored exactly once. */
export async function storedOfBatches(client: pg.Client, batches: { run: string; seqs: number[] }[]): Promise<number> {
  let total = 0;
  for (const { run, seqs } of batches) {
    if (seqs.length === 0) continue;
    const r = await client.query(
      `SELECT count(*)::bigint AS n FROM analytics_events_ts WHERE ${RUN_OF_ID_SQL} = $1 AND ${BATCH_SEQ_SQL} = ANY ($2::bigint[])`,
      [run, seqs],
    );
    total += Number((r.rows[0] as { n: string }).n);
  }
  return total;
}

/** Fires the minute job until the buffer is empty (bounded); returns seconds or null when it does not drain. */
export async function drainViaCron(stack: BenchStack, timeoutMs: number, onFire?: (entriesLeft: number) => void): Promise<{ seconds: number | null; note: string; firings: number }> {
  const conn = await redisClient(stack.dev.redisUrl);
  const started = Date.now();
  let firings = 0;
  let last = (await bufferContents(conn, stack.prefix)).entries;
  let stuck = 0;
  while (last > 0 && Date.now() - started < timeoutMs) {
    onFire?.(last);
    try {
      await stack.fireMinuteCron();
    } catch (error) {
      return { seconds: null, note: `the minute cron failed: ${String(error).slice(0, 200)}`, firings };
    }
    firings++;
    const now = replyInt(await conn.send(["XLEN", `${stack.prefix}buffer`]));
    stuck = now >= last ? stuck + 1 : 0;
    last = now;
    if (stuck >= 3) {
      conn.close();
      return { seconds: null, note: `the minute cron does not drain the buffer (${now} entries left after ${firings} firings)`, firings };
    }
  }
  conn.close();
  if (last > 0) return { seconds: null, note: `buffer not empty after ${timeoutMs / 1000} s`, firings };
  return { seconds: (Date.now() - started) / 1000, note: `${firings} firings of /__scheduled?cron=* * * * *`, firings };
}

async function runMode(mode: "direct" | "buffered", stack: BenchStack, shape: LoadShape): Promise<ModeOutcome> {
  // Warm-up (also primes the script cache: the first EVALSHA answers NOSCRIPT).
  const warmRun = newRunId();
  const warm = await sendBatches(stack, 20, warmRun);
  const { runs, runIds, cpu } = await repeatLoad(mode, shape, stack.url, "/api/v1/analytics");
  await settleStats(stack, 1_500, 60_000);
  const conn = await redisClient(stack.dev.redisUrl);
  let drainSeconds: number | null = null;
  let drainNote = "";
  if (mode === "buffered") {
    const drained = await drainViaCron(stack, 300_000);
    drainSeconds = drained.seconds;
    drainNote = drained.note;
    log(`e2e buffered: drain ${drainSeconds === null ? "did not finish" : `${round(drainSeconds)} s`} (${drained.note})`);
  }
  const buffer = await bufferContents(conn, stack.prefix);
  const counted = await countedInRedis(conn, stack.prefix);
  const client = new pg.Client(stack.databaseUrl);
  // A forced DROP DATABASE at cleanup ends this session (57P01): not a crash.
  client.on("error", () => {});
  await client.connect();
  const row = (await client.query(`SELECT count(*)::bigint AS rows, count(DISTINCT event_id)::bigint AS ids FROM analytics_events_ts`)).rows[0] as { rows: string; ids: string };
  const batches = [
    { run: warmRun, seqs: Array.from({ length: 20 }, (_, i) => i) },
    ...runIds.map((run, i) => ({ run, seqs: runs[i]!.acceptedSeqs ?? [] })),
  ];
  const acceptedStored = await storedOfBatches(client, batches);
  await client.end();
  const accepted = warm.accepted + runs.reduce((a, r) => a + r.accepted, 0);
  const statusTotals: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.byStatus)) statusTotals[k] = (statusTotals[k] ?? 0) + v;
  return {
    runs,
    cpu,
    acceptedStored,
    reqPerSec: median(runs.map((r) => r.requestsPerSec)),
    eventsPerSec: median(runs.map((r) => r.accepted / r.seconds)),
    p50: median(runs.map((r) => r.latencyMs.p50)),
    p99: median(runs.map((r) => r.latencyMs.p99)),
    accepted,
    stored: Number(row.rows),
    distinct: Number(row.ids),
    counted,
    inBuffer: buffer.events,
    drainSeconds,
    drainNote,
    statusTotals,
  };
}

export async function runE2e(size: Size, stacks: { get(mode: "direct" | "buffered"): Promise<BenchStack>; release(mode: "direct" | "buffered"): Promise<void> }): Promise<Omit<PartResult, "seconds">> {
  const shape = shapeFor(size);
  const figures: Figure[] = [];
  const raw: Record<string, unknown> = { shape };

  // (a) Harness ceiling first, while nothing else runs.
  const echo = await startEchoServer();
  log("e2e: starting the no-op worker under wrangler dev (harness ceiling)…");
  const noop = await startWranglerDev({
    label: "noop",
    config: resolve(import.meta.dirname, "noop-worker/wrangler.toml"),
    vars: { TARGET: echo.url },
    readyPath: "/",
  });
  const ceilings: Record<string, number> = {};
  const ceilingLatency: Record<string, { p50: number; p99: number }> = {};
  const shapes: Record<string, string> = { none: "/?sub=0&after=0", buffered: "/?sub=1&after=0", direct: "/?sub=1&after=2" };
  const ceilingCpu: Record<string, Record<string, number>> = {};
  for (const [name, path] of Object.entries(shapes)) {
    const { runs, cpu } = await repeatLoad(`no-op (${name})`, shape, noop.url, path);
    ceilingCpu[name] = cpu[Math.floor(cpu.length / 2)] ?? {};
    ceilings[name] = median(runs.map((r) => r.requestsPerSec));
    ceilingLatency[name] = { p50: median(runs.map((r) => r.latencyMs.p50)), p99: median(runs.map((r) => r.latencyMs.p99)) };
  }
  await noop.stop();
  raw.harness = { ceilings, ceilingLatency, ceilingCpu };

  // (b) Storage ceiling.
  const storage = await storageCeiling(size);
  raw.storage = storage;
  const projectEps = median(storage.project);
  const bareEps = median(storage.bare);

  // End to end, per mode.
  for (const mode of ["direct", "buffered"] as const) {
    const stack = await stacks.get(mode);
    const outcome = await runMode(mode, stack, shape);
    await stacks.release(mode);
    raw[mode] = outcome;
    const ceiling = ceilings[mode]!;
    const ratio = outcome.reqPerSec / ceiling;
    figures.push({
      name: `${mode}: events/s (req/s), p50 / p99`,
      value: `${round(outcome.eventsPerSec, 0).toLocaleString("en-US")} ev/s (${round(outcome.reqPerSec, 0)} req/s), ${outcome.p50} / ${outcome.p99} ms`,
      unit: "",
      target: `≥ 75 % of the harness ceiling (${round(ceiling, 0)} req/s, ${mode === "direct" ? "1 + 2 after" : "1"} subrequest${mode === "direct" ? "s" : ""})`,
      ratio,
      met: ratio >= 0.75,
      detail: `${shape.connections} connections × ${shape.durationSec} s × ${shape.reps} (median); statuses ${JSON.stringify(outcome.statusTotals)}; per-rep req/s ${outcome.runs.map((r) => round(r.requestsPerSec, 0)).join(", ")}`,
    });
    const exact =
      outcome.acceptedStored === outcome.accepted && outcome.distinct === outcome.stored && outcome.counted === outcome.stored + outcome.inBuffer;
    const unanswered = outcome.stored + outcome.inBuffer - outcome.accepted;
    figures.push({
      name: `${mode}: 202-accepted events → stored (of those) / duplicates / counted in Redis`,
      value: `${outcome.accepted} → ${outcome.acceptedStored} / ${outcome.stored - outcome.distinct} / ${outcome.counted}${outcome.inBuffer ? ` (${outcome.inBuffer} still in buffer)` : ""}`,
      unit: "",
      target: "every 202 event stored once, counted once",
      met: exact,
      detail: `${outcome.stored} rows stored in all, ${unanswered} of them from requests still in flight when the load generator stopped (sent, answer not read); Redis counted ${outcome.counted}. ${mode === "buffered" ? `Drain after the load: ${outcome.drainSeconds === null ? "not completed" : `${round(outcome.drainSeconds)} s`} — ${outcome.drainNote}` : "Checked after the waitUntil work settled."} CPU during load (% of one core, median rep): ${sharesText(outcome.cpu[Math.floor(outcome.cpu.length / 2)] ?? {})}`,
    });
  }
  figures.push({
    name: "harness ceiling (no-op worker): req/s with 0 / 1 / 1+2 subrequests",
    value: `${round(ceilings.none!, 0)} / ${round(ceilings.buffered!, 0)} / ${round(ceilings.direct!, 0)} req/s`,
    unit: "",
    detail: `p50 ms ${ceilingLatency.none!.p50} / ${ceilingLatency.buffered!.p50} / ${ceilingLatency.direct!.p50}; same wrangler dev, same bodies, subrequests POST the body to a Node endpoint that answers at once. CPU at 1+2 subrequests: ${sharesText(ceilingCpu.direct ?? {})}`,
  });
  const storageRatio = projectEps / bareEps;
  figures.push({
    name: "storage ceiling: INSERT_EVENTS vs bare unnest (4 conns, 50 rows)",
    value: `${round(projectEps, 0).toLocaleString("en-US")} vs ${round(bareEps, 0).toLocaleString("en-US")} ev/s`,
    unit: "",
    target: "≥ 60 % of bare",
    ratio: storageRatio,
    met: storageRatio >= 0.6,
    detail: `postgres tier: INSERT_EVENTS (dedupe table, dirty-bucket marks) vs a bare unnest of the same arrays into the same table (daily partitions, same indexes); ${size === "full" ? "10 s × 3, median" : "3 s × 1"}; per-rep ${storage.project.map((x) => round(x, 0)).join(", ")} vs ${storage.bare.map((x) => round(x, 0)).join(", ")}`,
  });
  return {
    part: "e2e",
    title: "End-to-end ingest",
    status: "ok",
    method:
      "autocannon in its own process, fixed connections and duration, each request a distinct 50-event batch; wrangler dev + bridges (this process) + private Redis + PostgreSQL 15 (postgres tier); final counts from PostgreSQL and the Redis hour counters. Harness ceiling: no-op worker under the same wrangler dev; storage ceiling: node-postgres over 4 connections.",
    figures,
    raw,
  };
}
