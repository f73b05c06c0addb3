/**
 * Part 8 — flood: Redis bytes per hour under N events with random names. Batches of 50 events,
 * each with a random event name, category, user id and session id (what the abuse report sent),
 * from many client addresses, through `wrangler dev` into a private Redis (buffered mode, so the
 * buffer holds the rows and is measured apart: the minute drain empties it, and BUFFER_MAX_BYTES
 * bounds it). The flood takes well under an hour, so what it adds is what an hour of it adds.
 *
 * Measured: `MEMORY USAGE <key> SAMPLES 0` summed over every key of the run's prefix but the
 * buffer, beside the bound `worstCaseRedisBytes` documents (README "Limits and abuse"); the
 * counter hashes' widest field count; and the size of the default /realtime answer.
 */
import { worstCaseRedisBytes } from "../../src/storage/redis-budget";
import { redisKeys } from "../../src/storage/redis-keys";
import type { RespConnection } from "../lib/resp";
import type { Figure, PartResult, Size } from "./report";
import { BENCH_WRITE_KEY, redisClient, replyInt, replyStrings, startBenchStack } from "./stack";
import { fmt, log, progress, round } from "./util";

/** The caps the flood runs under: the defaults of src/config.ts. */
const CAPS = { eventNamesPerHour: 500, categoriesPerHour: 100, activeSessions: 50_000 };
const CONCURRENCY = 8;
const READ_TOKEN = "bench-read-token-0123456789";

const random = () => crypto.randomUUID().replaceAll("-", "");

function floodBatch(): unknown[] {
  const now = new Date().toISOString();
  return Array.from({ length: 50 }, () => ({
    event_id: crypto.randomUUID(),
    event_name: `name_${random()}`,
    category: `cat_${random()}`,
    user_id: `u_${random()}`,
    session_id: `s_${random()}`,
    timestamp: now,
  }));
}

/** Every key under `prefix` with its MEMORY USAGE, the keys in `except` left out. */
async function memoryByKey(conn: RespConnection, prefix: string, except: readonly string[]): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  let cursor = "0";
  do {
    const reply = await conn.send(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"]);
    if (reply.type !== "array" || !reply.value) break;
    cursor = reply.value[0]!.type === "bulk" ? (reply.value[0]!.value?.toString() ?? "0") : "0";
    const keys = replyStrings(reply.value[1]!).filter((key) => !except.includes(key));
    const usage = await conn.sendMany(keys.map((key) => ["MEMORY", "USAGE", key, "SAMPLES", "0"]));
    keys.forEach((key, i) => sizes.set(key, replyInt(usage[i]!)));
  } while (cursor !== "0");
  return sizes;
}

export async function runFlood(size: Size): Promise<Omit<PartResult, "seconds">> {
  const events = size === "full" ? 100_000 : 5_000;
  const batches = events / 50;
  const stack = await startBenchStack({
    mode: "buffered",
    label: "flood",
    vars: { READ_TOKEN, RATE_LIMIT_PER_CLIENT_PER_MINUTE: "600" },
  });
  try {
    const conn = await redisClient(stack.dev.redisUrl);
    const keys = redisKeys(stack.prefix);
    const clients = new Set<string>();
    const minutes = new Set<number>();
    const bar = progress(`flood ${fmt(events)} random names`, batches);
    let sent = 0;
    let refused = 0;
    const sender = async (worker: number) => {
      for (let b = worker; b < batches; b += CONCURRENCY) {
        // 200 batches per address: inside the per-client limit of 600 a minute.
        const client = Math.floor(b / 200);
        const ip = `10.0.${(client >> 8) & 255}.${client & 255}`;
        clients.add(ip);
        minutes.add(Math.floor(Date.now() / 60_000));
        const response = await fetch(`${stack.url}/api/v1/analytics`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-write-key": BENCH_WRITE_KEY, "cf-connecting-ip": ip },
          body: JSON.stringify({ events: floodBatch() }),
        });
        await response.arrayBuffer();
        if (response.status !== 202) refused++;
        bar.update(++sent);
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => sender(i)));
    bar.stop();
    const seconds = (Date.now() - started) / 1000;
    if (refused > 0) throw new Error(`flood: ${refused} of ${batches} batches were not accepted`);

    const sizes = await memoryByKey(conn, stack.prefix, [keys.buffer, keys.bufferBytes]);
    const measured = [...sizes.values()].reduce((a, b) => a + b, 0);
    const bufferBytes = replyInt(await conn.send(["MEMORY", "USAGE", keys.buffer, "SAMPLES", "0"]));
    const counterHashes = [...sizes.keys()].filter((key) => /:(h|m):\d+:n$/.test(key));
    const widest = Math.max(0, ...(await conn.sendMany(counterHashes.map((key) => ["HLEN", key]))).map(replyInt));
    const clientsPerMinute = Math.ceil(clients.size / minutes.size);
    const bound = worstCaseRedisBytes(
      { events, sessions: events, minutes: minutes.size, clientsPerMinute, nameBytes: 37, sessionIdBytes: 34 },
      CAPS,
    );
    const realtime = await fetch(`${stack.url}/api/v1/analytics/realtime`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    const realtimeBytes = (await realtime.arrayBuffer()).byteLength;
    const mb = (bytes: number) => round(bytes / 1e6, 2);
    log(`flood: ${fmt(events)} events in ${round(seconds)} s → ${mb(measured)} MB in Redis (bound ${mb(bound.total)} MB), widest counter hash ${widest} fields`);

    const figures: Figure[] = [
      {
        name: `${fmt(events)} events with random names: Redis bytes added (buffer aside)`,
        value: `${mb(measured)} MB (${fmt(measured / events)} B/event)`,
        unit: "",
        target: `≤ the documented bound, ${mb(bound.total)} MB`,
        met: measured <= bound.total,
        detail: `${sizes.size} keys; bound by kind (bytes): ${JSON.stringify(bound)}; ${minutes.size} minute(s), ${clients.size} client addresses`,
      },
      {
        name: "widest counter hash (fields)",
        value: widest,
        unit: "",
        target: `≤ ${CAPS.eventNamesPerHour} names + ${CAPS.categoriesPerHour} categories + 6`,
        met: widest <= CAPS.eventNamesPerHour + CAPS.categoriesPerHour + 6,
      },
      {
        name: "GET /realtime (defaults) answer size",
        value: `${fmt(realtimeBytes)} B`,
        unit: "",
        detail: `status ${realtime.status}; at most 100 names and 100 categories`,
      },
      {
        name: "write-ahead buffer after the flood (drained by the minute cron; ≤ BUFFER_MAX_BYTES)",
        value: `${mb(bufferBytes)} MB`,
        unit: "",
      },
    ];
    return {
      part: "flood",
      title: "Flood of random names",
      status: "ok",
      method: `${fmt(batches)} batches of 50 events, each event with a random event_name, category, user_id and session_id, ${CONCURRENCY} senders, a new CF-Connecting-IP every 200 batches, through wrangler dev (buffered mode) into a private Redis 7 with the default caps; bytes from MEMORY USAGE … SAMPLES 0 over every key of the run but the buffer.`,
      figures,
      raw: { events, seconds, measured, bound, widest, realtimeBytes, bufferBytes, keys: sizes.size },
    };
  } finally {
    await stack.stop();
  }
}
