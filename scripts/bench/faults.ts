/**
 * Part 7 — fault run: a load run (direct mode) during which the Redis server behind the Upstash
 * bridge is stopped for 20 s and, later, the PostgreSQL server behind the Neon bridge for 60 s
 * (a private cluster, never the machine's server; Redis with its append-only file on, so a
 * restart keeps the buffer as a managed Redis would); then both are up and the minute job drains
 * the buffer. Counts: events sent, 202s, 503s, stored, duplicates, and whether every event of
 * every 202 answer is stored exactly once.
 */
import pg from "pg";
import { startPrivateCluster } from "./databases";
import { drainViaCron, storedOfBatches } from "./e2e";
import { newRunId, runLoad } from "./load";
import type { PartResult, Size } from "./report";
import { BENCH_WRITE_KEY, bufferContents, redisClient, startBenchRedis, startBenchStack } from "./stack";
import { log, round, sleep } from "./util";

export async function runFaults(size: Size): Promise<Omit<PartResult, "seconds">> {
  const t = size === "full"
    ? { lead: 10, redisDown: 20, gap: 10, pgDown: 60, tail: 10 }
    : { lead: 3, redisDown: 4, gap: 3, pgDown: 8, tail: 3 };
  const duration = t.lead + t.redisDown + t.gap + t.pgDown + t.tail;
  let cluster;
  try {
    cluster = await startPrivateCluster();
  } catch (error) {
    return { part: "faults", title: "Fault run", status: "skipped", reason: `cannot start a private PostgreSQL cluster to stop and start: ${String(error).slice(0, 200)}`, method: "", figures: [] };
  }
  const redis = await startBenchRedis({ persistent: true });
  const stack = await startBenchStack({ mode: "direct", label: "faults", adminUrl: cluster.adminUrl, redisUrl: redis.url });
  try {
    const run = newRunId();
    const events: string[] = [];
    const mark = (what: string) => {
      events.push(`${round((Date.now() - started) / 1000)} s ${what}`);
      log(`faults: ${what}`);
    };
    const started = Date.now();
    const load = runLoad({ url: stack.url, path: "/api/v1/analytics", connections: 8, durationSec: duration, maxRequests: duration * 5_000, run, writeKey: BENCH_WRITE_KEY, listAccepted: true, timeoutSec: 30 });
    await sleep(t.lead * 1000);
    await redis.stop();
    mark("Redis stopped");
    await sleep(t.redisDown * 1000);
    await redis.start();
    mark("Redis started");
    await sleep(t.gap * 1000);
    await cluster.stop();
    mark("PostgreSQL stopped");
    await sleep(t.pgDown * 1000);
    await cluster.start();
    mark("PostgreSQL started");
    const result = await load;
    mark(`load done: ${JSON.stringify(result.byStatus)}, ${result.errors} without answer`);
    await sleep(3_000);
    const drained = await drainViaCron(stack, 300_000);
    mark(`drain: ${drained.seconds === null ? `not finished (${drained.note})` : `${round(drained.seconds)} s, ${drained.firings} runs`}`);
    const conn = await redisClient(redis.url);
    const buffer = await bufferContents(conn, stack.prefix);
    const client = new pg.Client(stack.databaseUrl);
    // A forced DROP DATABASE at cleanup ends this session (57P01): not a crash.
    client.on("error", () => {});
    await client.connect();
    const row = (await client.query(`SELECT count(*)::bigint AS rows, count(DISTINCT event_id)::bigint AS ids FROM analytics_events_ts`)).rows[0] as { rows: string; ids: string };
    const acceptedSeqs = result.acceptedSeqs ?? [];
    const acceptedStored = await storedOfBatches(client, [{ run, seqs: acceptedSeqs }]);
    await client.end();
    const stored = Number(row.rows);
    const duplicates = stored - Number(row.ids);
    const accepted202 = result.byStatus["202"] ?? 0;
    const s503 = result.byStatus["503"] ?? 0;
    const exact = acceptedStored === acceptedSeqs.length * 50 && duplicates === 0;
    return {
      part: "faults",
      title: "Fault run",
      status: "ok",
      method: `Direct mode, 8 connections for ${duration} s; Redis (AOF on) stopped ${t.lead}–${t.lead + t.redisDown} s, PostgreSQL (private cluster, pg_ctl -m immediate) stopped ${t.lead + t.redisDown + t.gap}–${t.lead + t.redisDown + t.gap + t.pgDown} s; then the minute job fired until the buffer is empty. Exactly-once checked per 202-answered batch by its event ids.`,
      figures: [
        {
          name: "sent / 202 / 503 / other / no answer (requests)",
          value: `${result.requests} / ${accepted202} / ${s503} / ${result.requests - accepted202 - s503 - result.errors} / ${result.errors}`,
          unit: "",
          detail: `statuses ${JSON.stringify(result.byStatus)}; timeline: ${events.join("; ")}`,
        },
        {
          name: "events of 202 answers → stored exactly once",
          value: `${acceptedSeqs.length * 50} → ${acceptedStored}`,
          unit: "",
          target: "all, once",
          met: exact,
          detail: `${stored} rows stored in all (${stored - acceptedStored} from batches not answered 202: 503 after a partial outcome or in flight at the end), ${duplicates} duplicates, ${buffer.events} events left in the buffer`,
        },
        { name: "duplicates in PostgreSQL", value: duplicates, unit: "", target: "0", met: duplicates === 0 },
      ],
      raw: { result: { ...result, acceptedSeqs: undefined }, stored, duplicates, acceptedStored, buffer, drained, timeline: events },
    };
  } finally {
    await stack.stop();
  }
}
