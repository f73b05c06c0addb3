/**
 * A small, realistic dataset for the dashboard (its end-to-end tests and `npm run screenshots`),
 * sent through the real ingest API of a running stack, then the cron jobs run once each so the
 * rollups, the reconciliation, the job history and the latency measurements have something to show.
 *
 * - 6 days of history: four hours a day, page views (with a numeric `duration_ms`), clicks,
 *   sign-ups and `asset_generated` events (image, audio, video, model);
 * - the last 10 minutes: a steady trickle for the live panel.
 */
import { prng } from "../../test/support/prng";
import type { DevStack } from "./dev-stack";
import { HOUR_MS } from "../../src/time";

const MINUTE = 60_000;

export interface SeedEvent {
  event_id: string;
  event_name: string;
  category: string;
  timestamp: number;
  user_id: string;
  session_id: string;
  properties: Record<string, unknown>;
  page_url?: string;
}

/** The events of the dataset, relative to `nowMs`. */
export function dashboardEvents(nowMs: number, seed = 13): SeedEvent[] {
  const random = prng(seed);
  const pick = <T,>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const assets = ["image", "image", "image", "audio", "audio", "video", "model"] as const;
  const events: SeedEvent[] = [];
  const add = (timestamp: number, n: number) => {
    for (let i = 0; i < n; i++) {
      const user = `u-${1 + Math.floor(random() * 25)}`;
      const session = `s-${user}-${Math.floor(timestamp / (6 * HOUR_MS))}`;
      const roll = random();
      const base = { event_id: crypto.randomUUID(), timestamp: timestamp + Math.floor(random() * 50 * MINUTE), user_id: user, session_id: session };
      if (roll < 0.5) {
        events.push({ ...base, event_name: "page_view", category: "navigation", properties: { duration_ms: Math.round(80 + random() * 900) }, page_url: `https://shop.example/${pick(["", "product", "cart", "checkout"])}` });
      } else if (roll < 0.75) {
        events.push({ ...base, event_name: "click", category: "interaction", properties: { target: pick(["buy", "menu", "search"]) } });
      } else if (roll < 0.95) {
        events.push({ ...base, event_name: "asset_generated", category: "creation", properties: { asset_type: pick(assets), duration_ms: Math.round(400 + random() * 3000) } });
      } else {
        events.push({ ...base, event_name: "signup", category: "account", properties: { plan: pick(["free", "pro"]) } });
      }
    }
  };
  const today = Math.floor(nowMs / (24 * HOUR_MS)) * 24 * HOUR_MS;
  for (let day = 5; day >= 0; day--) {
    for (const hour of [3, 9, 14, 20]) {
      const start = today - day * 24 * HOUR_MS + hour * HOUR_MS;
      // Whole hours before the current one only (the history), and never over 7 days old.
      if (start + HOUR_MS <= Math.floor(nowMs / HOUR_MS) * HOUR_MS) add(start, 12 + Math.floor(random() * 20));
    }
  }
  // The live trickle: the last 10 minutes, 4 events a minute.
  for (let m = 9; m >= 0; m--) {
    const minute = Math.floor((nowMs - m * MINUTE) / MINUTE) * MINUTE;
    for (let i = 0; i < 4; i++) {
      const user = `u-${1 + Math.floor(random() * 8)}`;
      events.push({
        event_id: crypto.randomUUID(),
        event_name: pick(["page_view", "page_view", "click", "asset_generated"]),
        category: "live",
        timestamp: Math.min(nowMs, minute + Math.floor(random() * MINUTE)),
        user_id: user,
        session_id: `live-${user}`,
        properties: { duration_ms: Math.round(100 + random() * 500), asset_type: pick(assets) },
      });
    }
  }
  return events;
}

/** POSTs events in batches of 50; resolves to the events accepted. */
export async function postEvents(baseUrl: string, writeKey: string, events: readonly SeedEvent[]): Promise<number> {
  let accepted = 0;
  for (let i = 0; i < events.length; i += 50) {
    const response = await fetch(`${baseUrl}/api/v1/analytics`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-write-key": writeKey },
      body: JSON.stringify({ events: events.slice(i, i + 50) }),
    });
    const body = (await response.json()) as { accepted?: number };
    if (response.status !== 202) throw new Error(`seed: ingest answered ${response.status}: ${JSON.stringify(body)}`);
    accepted += body.accepted ?? 0;
  }
  return accepted;
}

/**
 * Sends the dataset and runs each cron job once (drain, hourly, daily). Resolves to the number of
 * events accepted.
 */
export async function seedDashboard(stack: DevStack, writeKey: string, nowMs = Date.now()): Promise<number> {
  const events = dashboardEvents(nowMs);
  const accepted = await postEvents(stack.baseUrl, writeKey, events);
  // The worker writes its latency measurements with an insert once they are 5 s old: one more
  // batch after that makes them visible at once.
  await new Promise((resolve) => setTimeout(resolve, 5_500));
  await postEvents(stack.baseUrl, writeKey, dashboardEvents(nowMs, 14).slice(-4));
  for (const cron of stack.crons) await stack.fireCron(cron);
  return accepted + 4;
}
