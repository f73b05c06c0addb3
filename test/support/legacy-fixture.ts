/**
 * The legacy system, for the history-import tests: its PostgreSQL tables (legacy-schema.sql) and
 * its Redis sorted set of tracker events (score = epoch ms, member = the event's JSON).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { RespConnection, parseRedisUrl } from "../../scripts/lib/resp";
import { prng } from "./prng";

export const LEGACY_SCHEMA = fileURLToPath(new URL("../fixtures/legacy/legacy-schema.sql", import.meta.url));

/** Creates the legacy tables, their rows and get_popular_asset_types() in the database at `url`. */
export async function loadLegacySchema(url: string): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    await client.query(await readFile(LEGACY_SCHEMA, "utf8"));
  } finally {
    await client.end();
  }
}

export interface LegacyEvent {
  event_name: string;
  category: string;
  user_id: string;
  session_id: string;
  timestamp: string;
  properties: Record<string, unknown>;
}

const HOUR = 3_600_000;
const NAMES: Array<[string, string]> = [["page_view", "navigation"], ["click", "interaction"], ["asset_generated", "creation"], ["signup", "account"]];

/** `count` tracker events spread over the `hours` closed hours before `endMs` (deterministic). */
export function legacyEvents(count: number, endMs: number, hours: number, seed = 14): LegacyEvent[] {
  const rand = prng(seed);
  const start = Math.floor(endMs / HOUR) * HOUR - hours * HOUR;
  return Array.from({ length: count }, (_, i) => {
    const [event_name, category] = NAMES[Math.floor(rand() * NAMES.length)]!;
    const time = start + Math.floor(rand() * hours * HOUR);
    return {
      event_name,
      category,
      user_id: `u${Math.floor(rand() * 150)}`,
      session_id: `s${Math.floor(rand() * 400)}`,
      timestamp: new Date(time).toISOString(),
      // `i` keeps members distinct (a sorted set holds each member once).
      properties: event_name === "asset_generated" ? { asset_type: rand() < 0.6 ? "image" : "video", n: i } : { n: i },
    };
  });
}

/** Writes events into the sorted set `key` (ZADD in pages), returns how many were added. */
export async function writeLegacySortedSet(redisUrl: string, key: string, events: readonly LegacyEvent[], rename: (e: LegacyEvent) => object = (e) => e): Promise<number> {
  const conn = await RespConnection.open(parseRedisUrl(redisUrl));
  let added = 0;
  try {
    for (let i = 0; i < events.length; i += 500) {
      const args: string[] = ["ZADD", key];
      for (const e of events.slice(i, i + 500)) args.push(String(Date.parse(e.timestamp)), JSON.stringify(rename(e)));
      const reply = await conn.send(args);
      if (reply.type === "integer") added += Number(reply.value);
    }
  } finally {
    conn.close();
  }
  return added;
}
