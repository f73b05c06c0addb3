/**
 * Part 4 — drain: N events (1,000,000 at full size) written into the write-ahead buffer stream as
 * 50-event entries (the format the ingest script writes), then moved to PostgreSQL by the minute
 * job, fired back to back through wrangler dev's `/__scheduled?cron=* * * * *` (each run is the
 * real job with its own budget); events/s beside `COPY … FROM STDIN` (psql) of the same rows
 * into the same table (emptied first) in the same run.
 */
import { spawn } from "node:child_process";
import pg from "pg";
import { bufferPayload } from "../../src/storage/buffer";
import { copyField } from "../lib/import/copy-text";
import { BUFFER_FIELD } from "../../src/storage/redis-keys";
import type { EventRow } from "../../src/domain/event";
import { drainViaCron, realisticRows } from "./e2e";
import { loadEventId } from "./fixtures";
import { newRunId } from "./load";
import type { PartResult, Size } from "./report";
import { redisClient, replyInt, startBenchStack } from "./stack";
import { log, progress, round } from "./util";

const COLUMNS = ["time", "event_id", "event_name", "category", "user_id", "session_id", "properties", "device_info", "page_url", "referrer", "received_at", "client_time", "skew_ms", "flags"] as const;

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
      method: `${events.toLocaleString("en-US")} events as ${entries} 50-event entries in the buffer stream (written directly with XADD), drained by the minute job fired back to back through /__scheduled (Upstash bridge → workerd → Neon bridge → PostgreSQL 15, postgres tier); COPY FROM STDIN through psql of the same rows into the same emptied table (no dedupe table, no buffer).`,
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
      ],
      raw: { events, drainSeconds: drained.seconds, firings: drained.firings, copySeconds, stored, copied },
    };
  } finally {
    await stack.stop();
  }
}
