/**
 * Part 4 — drain: N events (1,000,000 at full size) written into the write-ahead buffer stream as
 * 50-event entries (the format the ingest script writes), then moved to PostgreSQL by the minute
 * job, fired back to back through wrangler dev's `/__scheduled?cron=* * * * *` (each run is the
 * real job with its own budget); events/s beside `COPY … FROM STDIN` (psql) of the same rows
 * into the same table (emptied first) in the same run.
 */
import { spawn } from "node:child_process";
import { neon, neonConfig } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis";
import pg from "pg";
import { DRAIN_LIMITS, nextReadCount } from "../../src/cron/drain";
import { RedisBufferStore } from "../../src/storage/buffer-store";
import type { Sql } from "../../src/storage/clients";
import { PostgresStore } from "../../src/storage/postgres-store";
import { EVENT_ARRAY_PARAMS, EVENT_COLUMN_NAMES, INSERT_EVENTS, insertEventsValues } from "../../src/storage/sql";
import { bufferPayload } from "../../src/storage/buffer";
import { copyField } from "../lib/import/copy-text";
import { BUFFER_FIELD } from "../../src/storage/redis-keys";
import type { EventRow } from "../../src/domain/event";
import { drainViaCron, realisticRows } from "./e2e";
import { loadEventId } from "./fixtures";
import { newRunId } from "./load";
import type { PartResult, Size } from "./report";
import { redisClient, replyInt, startBenchStack, type BenchStack } from "./stack";
import { log, median, progress, round } from "./util";

/** Every column INSERT_EVENTS writes (the dimensions and visitor id included): COPY stores the same rows. */
const COLUMNS = EVENT_COLUMN_NAMES;

/**
 * INSERT_EVENTS' parameters and nothing else: timing it with the same values gives what the
 * parameters cost alone (the client's array literals, the bytes on the wire, the server parsing
 * every element), which the statement's time includes.
 */
const PARAMETERS_ONLY = `SELECT ${EVENT_ARRAY_PARAMS.map((p) => `cardinality(${p})`).join(" + ")} AS n`;

/** Entry `n`'s rows: a template batch with this run's event ids. */
function entryRows(templates: EventRow[][], run: string, n: number): EventRow[] {
  return templates[n % templates.length]!.map((row, i) => ({ ...row, event_id: loadEventId(run, n, i) }));
}

async function copyRows(databaseUrl: string, templates: EventRow[][], run: string, entries: number): Promise<number> {
  const started = Date.now();
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn("psql", [databaseUrl, "-v", "ON_ERROR_STOP=1", "-q", "-c", `\\copy analytics_events_ts (${COLUMNS.join(", ")}) FROM STDIN`], {
      stdio: ["pipe", "ignore", "inherit"],
    });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolvePromise() : reject(new Error(`psql \\copy exited with ${code}`))));
    let n = 0;
    const write = () => {
      while (n < entries) {
        const chunk = entryRows(templates, run, n++)
          .map((row) => COLUMNS.map((c) => copyField(row[c])).join("\t"))
          .join("\n");
        if (!child.stdin.write(`${chunk}\n`)) {
          child.stdin.once("drain", write);
          return;
        }
      }
      child.stdin.end();
    };
    write();
  });
  return (Date.now() - started) / 1000;
}

interface Breakdown {
  chunks: number;
  rows: number;
  /** Per 10,000 events, median over chunks scaled: ms. */
  readMs: number;
  decodeMs: number;
  insertHttpMs: number;
  statementMs: number;
  /** Of statementMs: the parameters alone (PARAMETERS_ONLY). */
  parametersMs: number;
  removeMs: number;
}

/**
 * Where a drain chunk's time goes, phase by phase, with the Worker's own adapters run from Node
 * through the same bridges: the XRANGE (Upstash REST, base64 and JSON decode), of which the JSON
 * decode alone; the INSERT_EVENTS over the Neon HTTP driver; the same statement with other ids
 * straight over the PostgreSQL protocol (≈ the statement itself); the buffer delete. Figures are
 * ms per 10,000 events; the drain overlaps the read with the insert, so the sum is an upper bound.
 */
async function drainBreakdown(stack: BenchStack, templates: EventRow[][], entries: number): Promise<Breakdown> {
  const conn = await redisClient(stack.dev.redisUrl);
  const key = `${stack.prefix}buffer`;
  const run = newRunId();
  for (let n = 0; n < entries; ) {
    const commands: string[][] = [];
    for (let k = 0; k < 200 && n < entries; k++, n++) commands.push(["XADD", key, "*", BUFFER_FIELD, bufferPayload(entryRows(templates, run, n))]);
    await conn.sendMany(commands);
  }
  const vars = stack.dev.vars;
  const redis = new Redis({ url: vars.UPSTASH_REDIS_REST_URL!, token: vars.UPSTASH_REDIS_REST_TOKEN!, enableTelemetry: false });
  const buffer = new RedisBufferStore(redis as unknown as ConstructorParameters<typeof RedisBufferStore>[0], stack.prefix);
  neonConfig.fetchEndpoint = vars.NEON_FETCH_ENDPOINT!;
  const store = new PostgresStore(neon(vars.DATABASE_URL!) as Sql);
  const direct = new pg.Client(stack.databaseUrl);
  direct.on("error", () => {});
  await direct.connect();
  const other = newRunId();
  const per: Array<{ rows: number; read: number; decode: number; insert: number; statement: number; parameters: number; remove: number }> = [];
  let after: string | null = null;
  let rowsSeen = 0;
  let entriesSeen = 0;
  let chunkNo = 0;
  try {
    for (;;) {
      const t0 = performance.now();
      const chunk = await buffer.read(after, nextReadCount(rowsSeen, entriesSeen));
      const t1 = performance.now();
      if (chunk.length === 0) break;
      after = chunk[chunk.length - 1]!.id;
      const rows = chunk.flatMap((e) => ("rows" in e ? e.rows : []));
      rowsSeen += rows.length;
      entriesSeen += chunk.length;
      const payloads = chunk.map((e) => ("rows" in e ? bufferPayload(e.rows) : ""));
      const d0 = performance.now();
      for (const p of payloads) JSON.parse(p);
      const decode = performance.now() - d0;
      const t2 = performance.now();
      await store.insertEvents(rows.slice(0, DRAIN_LIMITS.maxRowsPerInsert));
      const t3 = performance.now();
      const others = rows.map((r, i) => ({ ...r, event_id: loadEventId(other, chunkNo, i) }));
      const values = insertEventsValues(others);
      const t4 = performance.now();
      await direct.query(INSERT_EVENTS, values);
      const t5 = performance.now();
      await direct.query(PARAMETERS_ONLY, values);
      const t6 = performance.now();
      await buffer.remove(chunk.map((e) => e.id));
      const t7 = performance.now();
      chunkNo++;
      per.push({ rows: rows.length, read: t1 - t0, decode, insert: t3 - t2, statement: t5 - t4, parameters: t6 - t5, remove: t7 - t6 });
    }
  } finally {
    await direct.end();
    conn.close();
  }
  const scaled = (pick: (c: (typeof per)[number]) => number) => median(per.map((c) => (pick(c) / c.rows) * 10_000));
  return {
    chunks: per.length,
    rows: per.reduce((n, c) => n + c.rows, 0),
    readMs: scaled((c) => c.read),
    decodeMs: scaled((c) => c.decode),
    insertHttpMs: scaled((c) => c.insert),
    statementMs: scaled((c) => c.statement),
    parametersMs: scaled((c) => c.parameters),
    removeMs: scaled((c) => c.remove),
  };
}

export async function runDrain(size: Size): Promise<Omit<PartResult, "seconds">> {
  const events = size === "full" ? 1_000_000 : 20_000;
  const entries = events / 50;
  const stack = await startBenchStack({ mode: "buffered", label: "drain", vars: { BUFFER_MAX_ENTRIES: String(entries * 2) } });
  try {
    // Probe: does the minute job drain? (It is being built in parallel; skip cleanly if not.)
    const conn = await redisClient(stack.dev.redisUrl);
    const key = `${stack.prefix}buffer`;
    const templates: EventRow[][] = [];
    const rows = await realisticRows(16 * 50, 21);
    for (let t = 0; t < 16; t++) templates.push(rows.slice(t * 50, t * 50 + 50));
    const run = newRunId();
    await conn.send(["XADD", key, "*", BUFFER_FIELD, bufferPayload(entryRows(templates, newRunId(), 0))]);
    const probe = await drainViaCron(stack, 60_000);
    if (probe.seconds === null) {
      return { part: "drain", title: "Drain", status: "skipped", reason: `the minute drain job does not empty the buffer: ${probe.note}`, method: "", figures: [] };
    }
    const pgc = new pg.Client(stack.databaseUrl);
    // A forced DROP DATABASE at cleanup ends this session (57P01): not a crash.
    pgc.on("error", () => {});
    await pgc.connect();
    await pgc.query("TRUNCATE analytics_events_ts, analytics_event_ids");

    log(`drain: writing ${events.toLocaleString("en-US")} events (${entries} entries) into the buffer…`);
    const bar = progress("buffer fill", entries);
    for (let n = 0; n < entries; ) {
      const commands: string[][] = [];
      for (let k = 0; k < 200 && n < entries; k++, n++) commands.push(["XADD", key, "*", BUFFER_FIELD, bufferPayload(entryRows(templates, run, n))]);
      await conn.sendMany(commands);
      bar.update(n);
    }
    bar.stop();
    log(`drain: buffer holds ${replyInt(await conn.send(["XLEN", key]))} entries; firing the minute job back to back…`);
    const drainBar = progress("drain", entries);
    const drained = await drainViaCron(stack, size === "full" ? 900_000 : 120_000, (left) => drainBar.update(entries - left));
    drainBar.stop();
    const stored = Number(((await pgc.query("SELECT count(*)::bigint AS n FROM analytics_events_ts")).rows[0] as { n: string }).n);
    if (drained.seconds === null) throw new Error(`drain did not finish: ${drained.note}`);
    const drainEps = events / drained.seconds;
    log(`drain: ${events} events in ${round(drained.seconds)} s = ${round(drainEps, 0)} events/s (${drained.firings} job runs); stored ${stored}`);

    log("drain: phase breakdown of the drain's chunks (Node, the Worker's adapters, the same bridges)…");
    const breakdown = await drainBreakdown(stack, templates, Math.min(entries, size === "full" ? 2_000 : 200));
    const drainMsPer10k = (drained.seconds / events) * 10_000 * 1000;
    log(
      `drain: per 10,000 events: XRANGE ${round(breakdown.readMs, 0)} ms (JSON decode ${round(breakdown.decodeMs, 0)}), INSERT over Neon HTTP ${round(breakdown.insertHttpMs, 0)} ms (statement alone ${round(breakdown.statementMs, 0)}, of which its parameters ${round(breakdown.parametersMs, 0)}), delete ${round(breakdown.removeMs, 0)} ms; the minute job: ${round(drainMsPer10k, 0)} ms`,
    );

    await pgc.query("TRUNCATE analytics_events_ts, analytics_event_ids");
    await pgc.query("CHECKPOINT");
    log("drain: COPY of the same rows into the same (emptied) table…");
    const copySeconds = await copyRows(stack.databaseUrl, templates, run, entries);
    const copied = Number(((await pgc.query("SELECT count(*)::bigint AS n FROM analytics_events_ts")).rows[0] as { n: string }).n);
    await pgc.end();
    const copyEps = events / copySeconds;
    log(`drain: COPY ${copied} rows in ${round(copySeconds)} s = ${round(copyEps, 0)} events/s`);
    const ratio = drainEps / copyEps;
    return {
      part: "drain",
      title: "Drain",
      status: "ok",
      method: `${events.toLocaleString("en-US")} events as ${entries} 50-event entries in the buffer stream (written directly with XADD), drained by the minute job fired back to back through /__scheduled (Upstash bridge → workerd → Neon bridge → PostgreSQL 15, postgres tier); COPY FROM STDIN through psql of the same rows (every column INSERT_EVENTS writes) into the same emptied table (no dedupe table, no buffer).`,
      figures: [
        {
          name: "minute job: buffer → PostgreSQL",
          value: round(drainEps, 0),
          unit: "events/s",
          target: "≥ 80 % of COPY",
          ratio,
          met: ratio >= 0.8,
          detail: `${round(drained.seconds)} s for ${events} events in ${drained.firings} job runs (${round(drained.seconds / drained.firings, 1)} s per run); ${stored} rows stored (exactly once: ${stored === events ? "yes" : "NO"})`,
        },
        { name: "COPY FROM STDIN, same rows, same table", value: round(copyEps, 0), unit: "events/s", detail: `${round(copySeconds)} s; ${copied} rows` },
        {
          name: "drain breakdown, ms per 10,000 events",
          value: `read ${round(breakdown.readMs, 0)} · insert ${round(breakdown.insertHttpMs, 0)} (statement ${round(breakdown.statementMs, 0)}, its parameters ${round(breakdown.parametersMs, 0)}) · delete ${round(breakdown.removeMs, 0)}`,
          unit: "ms",
          detail: `the minute job took ${round(drainMsPer10k, 0)} ms per 10,000 events; phases timed one at a time from Node with the Worker's adapters through the same bridges over ${breakdown.chunks} chunks (${breakdown.rows} rows): XRANGE via @upstash/redis incl. base64 + JSON decode (JSON.parse alone ${round(breakdown.decodeMs, 0)} ms), INSERT_EVENTS via @neondatabase/serverless (Neon HTTP bridge), the same statement with other ids over the PostgreSQL protocol (≈ the statement alone: the rest of the insert is HTTP, JSON and the bridge), a SELECT of the same parameters and nothing else (the statement's parameters alone: array literals, transfer, parsing), the buffer delete (EVALSHA); medians over chunks. The job overlaps each read with the previous insert.`,
        },
      ],
      raw: { events, drainSeconds: drained.seconds, firings: drained.firings, copySeconds, stored, copied, breakdown },
    };
  } finally {
    await stack.stop();
  }
}
