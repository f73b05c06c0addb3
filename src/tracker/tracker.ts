import { backoffDelay, retryAfterDelay } from "./backoff";
import { touchSession } from "./session";
import { createStore, emptyState, type State } from "./storage";
import { postBatch, sendOnUnload, unloadChunks, type Outcome } from "./transport";
import type { Tracker, TrackerEvent, TrackerOptions } from "./types";
import { uuidv7 } from "./uuidv7";

/** Do Not Track (`navigator` or, in old Safari/IE, `window`) or Global Privacy Control. */
const privacySignal = () =>
  navigator.doNotTrack == "1" ||
  (window as { doNotTrack?: string }).doNotTrack == "1" ||
  (navigator as { globalPrivacyControl?: boolean }).globalPrivacyControl == true;

/**
 * Start a tracker: it sends what earlier pages left queued, then batches events until
 * `batchSize` are queued or `flushInterval` passes, and sends what is left when the page is
 * hidden or unloaded. Delivery is at least once: events stay queued (in `localStorage`) until
 * the server answers for them, and resending is safe because the server dedupes on
 * `event_id`, which, like `timestamp`, is fixed when the event is queued.
 *
 * Answers: 2xx → done (per-event rejections counted); 413 → halve the batch and send again,
 * since the server's byte limits are not known here and halving finds a size it takes within
 * six steps, while a single event it refuses can never be sent (dropped, counted); 429, 5xx
 * and network errors → retry with backoff, at least as long as `Retry-After` says; any other
 * status → the batch is dropped and counted, since resending the same bytes cannot succeed.
 *
 * @example
 * const tracker = createTracker({ endpoint: "https://example.com/api/v1/analytics", writeKey: "pk_live_…" });
 * tracker.track("asset_generated", "assets", { asset_type: "logo" });
 */
export function createTracker(options: TrackerOptions = {}): Tracker {
  const {
    endpoint = "/api/v1/analytics",
    writeKey,
    batchSize = 50,
    flushInterval = 5000,
    maxQueue = 1000,
    sessionTimeout = 1_800_000,
    respectDoNotTrack,
    storageKey = "_ea",
  } = options;
  const store = createStore(storageKey);
  const blocked = respectDoNotTrack && privacySignal();
  /** Ids of events in a request that has not answered yet (this page only). */
  const inflight = new Set<string>();
  /** Ids already handed to a keepalive/beacon send on page hide (hidden and pagehide both fire). */
  const unloading = new Set<string>();

  let limit = batchSize;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** True while `drain` runs; set and cleared synchronously, so no event slips in between its last look at the queue and the end. */
  let busy = false;
  let running = Promise.resolve();

  const off = (st: State) => blocked || st.o;
  const pending = (st: State) => st.q.filter((e) => !inflight.has(e.event_id));
  const mark = (events: TrackerEvent[], on: boolean) =>
    events.forEach((e) => (on ? inflight.add(e.event_id) : inflight.delete(e.event_id)));
  const schedule = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(flush, ms);
  };

  /** Apply one answer; true when the next batch may go at once. */
  const settle = (batch: TrackerEvent[], { status, retryAfter, rejected = 0 }: Outcome): boolean => {
    const st = store.load();
    if (!status || status == 429 || status > 499) {
      st.w = status ? 1 : undefined;
      const wait = Math.max(retryAfterDelay(retryAfter), backoffDelay(++attempt));
      st.r = Date.now() + wait;
      store.save(st);
      schedule(wait);
      return false;
    }
    attempt = 0;
    if (status == 413 && batch.length > 1) {
      limit = Math.ceil(batch.length / 2);
      return true;
    }
    const ids = new Set(batch.map((e) => e.event_id));
    const before = st.q.length;
    st.q = st.q.filter((e) => !ids.has(e.event_id));
    // An event can be answered twice (a page-hide send overlapping a normal one): count it once.
    const removed = before - st.q.length;
    if (status < 300) {
      st.c.sent += Math.max(0, removed - rejected);
      st.c.rejected += Math.min(rejected, removed);
    } else st.c.dropped += removed;
    if (!st.q.length) limit = batchSize;
    store.save(st);
    return true;
  };

  /** Send queued events, one request at a time, until the queue is empty or a retry is due later. */
  const drain = async () => {
    busy = true;
    try {
      for (let batch; (batch = pending(store.load()).slice(0, limit)).length; ) {
        mark(batch, true);
        const outcome = await postBatch(endpoint, batch, writeKey);
        mark(batch, false);
        if (!settle(batch, outcome)) return;
      }
    } finally {
      busy = false;
    }
  };

  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    const st = store.load();
    const wait = (st.r || 0) - Date.now();
    if (off(st)) return Promise.resolve();
    if (wait > 0) {
      schedule(wait);
      return Promise.resolve();
    }
    return busy ? running : (running = drain());
  };

  /**
   * Page hide: hand everything queued to keepalive requests, including events of a normal request
   * still in flight — navigation aborts that request, and its events would otherwise wait for the
   * user's next visit (the server dedupes by event_id, so sending twice is safe). A wait the
   * server asked for is honoured; one caused by a network error (often that very abort) is not.
   * Offline, nothing is sent: the events stay queued for the next page.
   */
  const unload = () => {
    const st = store.load();
    if (off(st) || navigator.onLine === false || (st.w && (st.r || 0) > Date.now())) return;
    for (const chunk of unloadChunks(st.q.filter((e) => !unloading.has(e.event_id)), limit, writeKey)) {
      chunk.forEach((e) => unloading.add(e.event_id));
      sendOnUnload(endpoint, chunk, writeKey).then((outcome) => {
        chunk.forEach((e) => unloading.delete(e.event_id));
        if (settle(chunk, outcome) && !timer) schedule(flushInterval);
      });
    }
  };

  const track = (event_name: string, category: string, properties?: Record<string, unknown>) => {
    const st = store.load();
    if (off(st)) return;
    const now = Date.now();
    const session_id = touchSession(st, now, sessionTimeout);
    // When full, the newest event is the one refused: older ones may already be in flight.
    if (st.q.length >= maxQueue) st.c.overflow++;
    else
      st.q.push({
        event_id: uuidv7(now),
        event_name,
        category,
        timestamp: new Date(now).toISOString(),
        user_id: st.u,
        session_id,
        properties,
        page_url: location.href,
        referrer: document.referrer || undefined,
        device_info: {
          locale: navigator.language,
          screen: `${screen.width}x${screen.height}`,
          timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        },
      });
    store.save(st);
    if (pending(st).length >= limit) flush();
    else if (!timer) schedule(flushInterval);
  };

  if (!blocked) {
    document.addEventListener("visibilitychange", () => document.visibilityState == "hidden" && unload());
    window.addEventListener("pagehide", unload);
    flush();
  }

  return {
    track,
    page: (properties) => track("page_view", "navigation", { title: document.title, ...properties }),
    identify(userId) {
      const st = store.load();
      if (off(st)) return;
      st.u = userId || undefined;
      store.save(st);
    },
    flush,
    optOut() {
      clearTimeout(timer);
      store.save({ ...emptyState(), o: 1 });
    },
    optIn() {
      const st = store.load();
      delete st.o;
      store.save(st);
    },
    stats: () => ({ ...store.load().c }),
  };
}
