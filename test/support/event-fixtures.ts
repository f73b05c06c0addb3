import type { EventRow } from "../../src/domain/event";
import { eventRow, seededUuid } from "./event-row";
import { prng } from "./prng";

/**
 * A deterministic set of events relative to `now`, and the rollups computed from it in TypeScript,
 * independently of the SQL under test.
 */
export interface EventFixture {
  /** Batches as they are sent; includes duplicates (same event_id, different time/received_at). */
  batches: EventRow[][];
  /** The events that must end up stored: the first occurrence of each event_id. */
  unique: EventRow[];
  /** Events older than 90 days (removed by raw retention; their rollups must stay). */
  old: EventRow[];
}

export interface HourlyRow {
  bucket: string;
  event_name: string;
  category: string;
  event_count: number;
  unique_users: number;
  unique_sessions: number;
}
export interface AssetRow {
  bucket: string;
  asset_type: string;
  generation_count: number;
  unique_creators: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NAMES: [string, string][] = [
  ["page_view", "navigation"],
  ["click", "interaction"],
  ["asset_generated", "creation"],
  ["signup", "account"],
];
const ASSET_TYPES = ["image", "video", "model", "audio"];


function event(rand: () => number, time: number, receivedAt: number): EventRow {
  const [event_name, category] = NAMES[Math.floor(rand() * NAMES.length)]!;
  const user = rand() < 0.2 ? null : `u${Math.floor(rand() * 12)}`;
  const session = rand() < 0.15 ? null : `s${Math.floor(rand() * 9)}`;
  const properties: Record<string, unknown> = { n: Math.floor(rand() * 100) };
  // One asset_generated in ten names no asset_type: it is counted in hourly/daily, not in popularity.
  if (event_name === "asset_generated" && rand() < 0.9) {
    properties.asset_type = ASSET_TYPES[Math.floor(rand() * ASSET_TYPES.length)];
  }
  return eventRow({
    event_id: seededUuid(rand),
    time: new Date(time).toISOString(),
    event_name,
    category,
    user_id: user,
    session_id: session,
    properties,
    device_info: rand() < 0.5 ? { ua: "test" } : null,
    page_url: "https://example.test/p",
    received_at: new Date(receivedAt).toISOString(),
    skew_ms: Math.floor(rand() * 2000) - 1000,
    flags: rand() < 0.1 ? ["bot"] : [],
  });
}

/**
 * ~400 recent events between 2 hours and 3 days before `now` (all in closed hours), 12 events about
 * 100 days old, and retries of 30 events carrying a different time (as a new sent_at would give).
 */
export function buildFixture(now: Date, seed = 42): EventFixture {
  const rand = prng(seed);
  const t0 = now.getTime();
  const recent: EventRow[] = [];
  for (let i = 0; i < 400; i++) {
    const time = t0 - 2 * HOUR - Math.floor(rand() * (3 * DAY - 2 * HOUR));
    recent.push(event(rand, time, t0 - Math.floor(rand() * HOUR)));
  }
  const old: EventRow[] = [];
  for (let i = 0; i < 12; i++) {
    old.push(event(rand, t0 - 100 * DAY - Math.floor(rand() * 2 * DAY), t0 - 100 * DAY + HOUR));
  }
  const unique = [...recent, ...old];
  const batches: EventRow[][] = [];
  for (let i = 0; i < recent.length; i += 50) batches.push(recent.slice(i, i + 50));
  batches.push(old);
  // Retries: same event_id, time shifted by up to ±90 minutes (often into another hour), later receipt.
  const retries = recent.slice(0, 30).map((e, i) => ({
    ...e,
    time: new Date(Date.parse(e.time) + (i % 2 ? 1 : -1) * (5 + Math.floor(rand() * 85)) * 60_000).toISOString(),
    received_at: new Date(t0).toISOString(),
    skew_ms: e.skew_ms + 5000,
  }));
  // A batch that repeats an id within itself, with a different time on the second copy.
  const inBatch = retries.slice(0, 5);
  batches.push([...retries.slice(5), ...inBatch]);
  return { batches, unique, old };
}

const iso = (ms: number) => new Date(ms).toISOString();
export const hourOf = (time: string) => iso(Math.floor(Date.parse(time) / HOUR) * HOUR);
export const dayOf = (time: string) => iso(Math.floor(Date.parse(time) / DAY) * DAY);

function rollup(events: readonly EventRow[], bucketOf: (t: string) => string): HourlyRow[] {
  const groups = new Map<string, { row: HourlyRow; users: Set<string>; sessions: Set<string> }>();
  for (const e of events) {
    const bucket = bucketOf(e.time);
    const key = `${bucket}|${e.event_name}|${e.category}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        row: { bucket, event_name: e.event_name, category: e.category, event_count: 0, unique_users: 0, unique_sessions: 0 },
        users: new Set(),
        sessions: new Set(),
      };
      groups.set(key, g);
    }
    g.row.event_count++;
    if (e.user_id !== null) g.users.add(e.user_id);
    if (e.session_id !== null) g.sessions.add(e.session_id);
  }
  return [...groups.values()]
    .map((g) => ({ ...g.row, unique_users: g.users.size, unique_sessions: g.sessions.size }))
    .sort(compareRows);
}

export function compareRows(a: { bucket: string }, b: { bucket: string }): number {
  const ka = JSON.stringify(Object.values(a));
  const kb = JSON.stringify(Object.values(b));
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export const expectedHourly = (events: readonly EventRow[]) => rollup(events, hourOf);
export const expectedDaily = (events: readonly EventRow[]) => rollup(events, dayOf);

export function expectedAssetPopularity(events: readonly EventRow[]): AssetRow[] {
  const groups = new Map<string, { row: AssetRow; users: Set<string> }>();
  for (const e of events) {
    const type = e.properties.asset_type;
    if (e.event_name !== "asset_generated" || typeof type !== "string") continue;
    const bucket = dayOf(e.time);
    const key = `${bucket}|${type}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { row: { bucket, asset_type: type, generation_count: 0, unique_creators: 0 }, users: new Set() }));
    g.row.generation_count++;
    if (e.user_id !== null) g.users.add(e.user_id);
  }
  return [...groups.values()].map((g) => ({ ...g.row, unique_creators: g.users.size })).sort(compareRows);
}

/**
 * get_popular_asset_types_ts(from, to, limit): per asset type over the day buckets meeting
 * [from, to), generation_count summed and unique_creators summed from each day's distinct creators,
 * ordered by generation_count desc then asset_type.
 */
export function expectedPopularAssetTypes(events: readonly EventRow[], from: Date, to: Date, limit: number) {
  const totals = new Map<string, { asset_type: string; generation_count: number; unique_creators: number }>();
  for (const r of expectedAssetPopularity(events)) {
    const start = Date.parse(r.bucket);
    if (!(start + DAY > from.getTime() && start < to.getTime())) continue;
    const t = totals.get(r.asset_type) ?? { asset_type: r.asset_type, generation_count: 0, unique_creators: 0 };
    t.generation_count += r.generation_count;
    t.unique_creators += r.unique_creators;
    totals.set(r.asset_type, t);
  }
  return [...totals.values()]
    .sort((a, b) => b.generation_count - a.generation_count || (a.asset_type < b.asset_type ? -1 : 1))
    .slice(0, limit);
}
