/**
 * Realistic analytics batches, deterministic (seeded): a few hundred event names with skewed
 * (Zipf-like) popularity, many users and sessions, tracker-shaped properties and device info,
 * page URLs with query strings to scrub. About 300 bytes per event, 15 KB per 50-event batch.
 */

import { prng } from "../../test/support/prng";

export { prng };

const CATEGORIES = ["navigation", "interaction", "creation", "account", "billing", "search", "media", "social", "settings", "errors", "onboarding", "export"];
const VERBS = ["view", "click", "open", "close", "submit", "start", "complete", "fail", "share", "save", "delete", "toggle"];
const OBJECTS = ["page", "button", "modal", "form", "project", "asset", "template", "menu", "tab", "editor", "video", "image", "plan", "invite", "comment", "filter", "export", "upload", "tour", "card", "banner", "link", "search", "profile", "team"];
export const ASSET_TYPES = ["image", "video", "model_3d", "audio", "vector", "animation", "texture", "font"];

/** 300 event names: a few common ones first (most popular), then object_verb pairs. */
export const EVENT_NAMES: string[] = (() => {
  const names = ["page_view", "click", "asset_generated", "session_start", "signup"];
  for (const o of OBJECTS) for (const v of VERBS) if (names.length < 300) names.push(`${o}_${v}`);
  return names;
})();

export function categoryOf(nameIndex: number): string {
  return CATEGORIES[nameIndex % CATEGORIES.length]!;
}

/** Index in [0, n) with Zipf-like skew: index 0 is by far the most frequent. */
export function skewed(rand: () => number, n: number, power = 3): number {
  return Math.min(n - 1, Math.floor(n * rand() ** power));
}

const HEX = "0123456789abcdef";
export function randomUuid(rand: () => number): string {
  let s = "";
  for (let i = 0; i < 32; i++) s += HEX[Math.floor(rand() * 16)];
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-7${s.slice(13, 16)}-a${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
];

export interface BatchOptions {
  /** Events per batch. @default 50 */
  events?: number;
  /** Give each event a client event_id (what the tracker sends). @default true */
  clientIds?: boolean;
  /** Event time base (epoch ms); events fall in the preceding 30 s. @default Date.now() */
  nowMs?: number;
  /** Produces the event_id of event `i` (default: random UUIDs from the seed). */
  eventId?: (i: number) => string;
  writeKey?: string;
}

/** One request body: `{ sent_at, events: [...] }`, as the tracker sends it. */
export function makeBatch(rand: () => number, options: BatchOptions = {}): { sent_at: string; write_key?: string; events: unknown[] } {
  const n = options.events ?? 50;
  const now = options.nowMs ?? Date.now();
  const userNo = Math.floor(rand() ** 2 * 200_000);
  const user = rand() < 0.2 ? null : `usr_${userNo.toString(36)}`;
  const session = `ses_${Math.floor(rand() * 1e9).toString(36)}`;
  const ua = USER_AGENTS[Math.floor(rand() * USER_AGENTS.length)]!;
  const events: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const nameIndex = skewed(rand, EVENT_NAMES.length);
    const name = EVENT_NAMES[nameIndex]!;
    const properties: Record<string, unknown> = {
      path: `/projects/${Math.floor(rand() * 5000)}/editor`,
      plan: rand() < 0.8 ? "free" : "pro",
      duration_ms: Math.floor(rand() * 20_000),
    };
    if (name === "asset_generated") properties.asset_type = ASSET_TYPES[skewed(rand, ASSET_TYPES.length, 2)];
    if (rand() < 0.3) properties.experiment = `exp_${Math.floor(rand() * 20)}`;
    const event: Record<string, unknown> = {
      event_name: name,
      category: categoryOf(nameIndex),
      timestamp: new Date(now - Math.floor(rand() * 30_000)).toISOString(),
      user_id: user,
      session_id: session,
      properties,
      device_info: { user_agent: ua, screen: "1920x1080", locale: "en-US" },
      page_url: `https://app.example.com/projects/${Math.floor(rand() * 5000)}?utm_source=newsletter&tab=${i % 7}`,
      referrer: i === 0 ? "https://www.google.com/" : null,
    };
    if (options.clientIds ?? true) event.event_id = options.eventId ? options.eventId(i) : randomUuid(rand);
    events.push(event);
  }
  return {
    sent_at: new Date(now).toISOString(),
    ...(options.writeKey ? { write_key: options.writeKey } : {}),
    events,
  };
}

/**
 * Event ids that name their load run and batch, so the final count can check exactly the batches
 * that were answered 202: `RRRRRRRR-SSSS-7SSS-aSSS-SSSSIIII0000` (12 hex digits in the last group) (run, batch sequence, index).
 * Parse back with `BATCH_SEQ_SQL`.
 */
export function loadEventId(run: string, seq: number, index: number): string {
  const s = seq.toString(16).padStart(14, "0");
  const i = index.toString(16).padStart(4, "0");
  return `${run}-${s.slice(0, 4)}-7${s.slice(4, 7)}-a${s.slice(7, 10)}-${s.slice(10, 14)}${i}0000`;
}

/** SQL: the run prefix and batch sequence of a `loadEventId` (event_id is a uuid column). */
export const RUN_OF_ID_SQL = `left(event_id::text, 8)`;
export const BATCH_SEQ_SQL = `('x' || lpad(substr(event_id::text, 10, 4) || substr(event_id::text, 16, 3) || substr(event_id::text, 21, 3) || substr(event_id::text, 25, 4), 16, '0'))::bit(64)::bigint`;
