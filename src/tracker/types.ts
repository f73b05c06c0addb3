/** One event as queued, persisted and sent; the server's wire format (snake_case). */
export interface TrackerEvent {
  /** UUIDv7, fixed when the event is queued; the server dedupes on it alone. */
  event_id: string;
  event_name: string;
  category: string;
  /** ISO-8601 time the event was queued; never changes between attempts. */
  timestamp: string;
  user_id?: string;
  session_id?: string;
  properties?: Record<string, unknown>;
  page_url?: string;
  referrer?: string;
  device_info?: Record<string, unknown>;
}

/** Delivery counters, persisted with the queue, so losses are visible rather than silent. */
export interface TrackerStats {
  /** Events the server acknowledged (accepted or already stored), or a beacon handed to the browser. */
  sent: number;
  /** Events the server rejected one by one as invalid (never retried). */
  rejected: number;
  /** Events dropped with a batch the server refused (4xx other than 429, or 413 on one event). */
  dropped: number;
  /** Events not queued because the queue held `maxQueue` events already. */
  overflow: number;
}

/** Configuration for {@link createTracker} / `init`. */
export interface TrackerOptions {
  /**
   * URL of the ingest endpoint. The script-tag build defaults to this path on the origin the
   * script was loaded from.
   * @default "/api/v1/analytics"
   */
  endpoint?: string;
  /** Public write key: sent as `X-Write-Key`, or as `write_key` in the body of unload requests. */
  writeKey?: string;
  /**
   * Events per request; a full batch is sent at once. The server accepts at most 50.
   * @default 50
   */
  batchSize?: number;
  /**
   * Milliseconds a partial batch waits before it is sent.
   * @default 5000
   */
  flushInterval?: number;
  /**
   * Most events held (in `localStorage`, shared by the site's tabs) while the server cannot be
   * reached; further events are counted in `stats().overflow`.
   * @default 1000
   */
  maxQueue?: number;
  /**
   * Milliseconds without an event after which the next event starts a new session.
   * @default 1800000 (30 minutes)
   */
  sessionTimeout?: number;
  /**
   * Track nothing (and store nothing) when the browser sends Do Not Track or Global Privacy Control.
   * @default false
   */
  respectDoNotTrack?: boolean;
  /**
   * The `localStorage` key that holds the queue, session, user id and opt-out flag.
   * @default "_ea"
   */
  storageKey?: string;
}

/** A running tracker; see the module functions in `index.ts` for each method's documentation. */
export interface Tracker {
  track(eventName: string, category: string, properties?: Record<string, unknown>): void;
  page(properties?: Record<string, unknown>): void;
  identify(userId: string | null): void;
  flush(): Promise<void>;
  optOut(): void;
  optIn(): void;
  stats(): TrackerStats;
}
