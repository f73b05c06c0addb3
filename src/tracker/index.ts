/**
 * The browser tracker for `POST /api/v1/analytics`: batched, retried, persisted across
 * reloads, sent on page hide; no dependencies and no cookies.
 *
 * @example
 * import { init, track, page } from "./tracker.mjs";
 * init({ writeKey: "pk_live_…" });
 * page();
 * track("asset_generated", "assets", { asset_type: "logo" });
 *
 * @module
 */
import { createTracker } from "./tracker";
import type { Tracker, TrackerOptions, TrackerStats } from "./types";

export { createTracker };
export type { Tracker, TrackerEvent, TrackerOptions, TrackerStats } from "./types";
export { uuidv7 } from "./uuidv7";

let tracker: Tracker | undefined;

/**
 * Start the page's tracker (calls before this one are ignored; a second call returns the first
 * tracker unchanged). Sends at once whatever earlier pages left queued.
 *
 * @example
 * init({ endpoint: "https://stats.example.com/api/v1/analytics", writeKey: "pk_live_…", respectDoNotTrack: true });
 */
export function init(options: TrackerOptions = {}): Tracker {
  return (tracker ||= createTracker(options));
}

/**
 * Queue an event. Its `event_id` (UUIDv7) and `timestamp` are fixed now and kept on every retry;
 * the session, user id, page URL, referrer and device info are attached too.
 *
 * @example
 * track("asset_generated", "assets", { asset_type: "logo", ms: 812 });
 */
export function track(eventName: string, category: string, properties?: Record<string, unknown>): void {
  tracker?.track(eventName, category, properties);
}

/**
 * Queue a `page_view` event (category `navigation`) with the document title; call it on each
 * route change in a single-page app.
 *
 * @example
 * page({ section: "pricing" });
 */
export function page(properties?: Record<string, unknown>): void {
  tracker?.page(properties);
}

/**
 * Attach `userId` as `user_id` to this and later events, across reloads; `null` forgets it.
 *
 * @example
 * identify("user_123"); // after sign-in
 * identify(null); // after sign-out
 */
export function identify(userId: string | null): void {
  tracker?.identify(userId);
}

/**
 * Send queued events now, unless a retry is already due later (the server asked to wait);
 * resolves when the queue is empty or the next retry is scheduled.
 *
 * @example
 * await flush();
 */
export function flush(): Promise<void> {
  return tracker ? tracker.flush() : Promise.resolve();
}

/**
 * Stop tracking in this browser, across reloads and tabs: queued events, session and user id
 * are deleted; only the opt-out flag stays in `localStorage`.
 *
 * @example
 * optOut();
 */
export function optOut(): void {
  tracker?.optOut();
}

/**
 * Undo {@link optOut}.
 *
 * @example
 * optIn();
 */
export function optIn(): void {
  tracker?.optIn();
}

/**
 * Delivery counters for this browser: sent, rejected by the server, dropped, overflowed.
 *
 * @example
 * const { dropped, overflow } = stats();
 */
export function stats(): TrackerStats | undefined {
  return tracker?.stats();
}
