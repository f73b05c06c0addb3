import type { TrackerEvent } from "./types";

/** What one attempt came to; `status` 0 is a network error. */
export interface Outcome {
  status: number;
  /** The `Retry-After` header, if any. */
  retryAfter?: string | null;
  /** How many events the server rejected one by one (`rejected` in a 2xx body). */
  rejected?: number;
}

/**
 * Most bytes in a keepalive `fetch` body or a beacon: browsers refuse keepalive requests once
 * 64 KiB are in flight (Fetch standard, "keepalive" quota), and `sendBeacon` has the same limit.
 */
export const MAX_UNLOAD_BYTES = 65_536;

const byteLength = (s: string) => new Blob([s]).size;
const iso = () => new Date().toISOString();

const read = async (res: Response): Promise<Outcome> => ({
  status: res.status,
  retryAfter: res.headers.get("Retry-After"),
  rejected: (res.ok && (await res.json().catch(() => 0))?.rejected?.length) || 0,
});

/**
 * A normal send: JSON with the key in the `X-Write-Key` header. Served first-party, this is a
 * same-origin request and needs no CORS preflight. `sent_at` is stamped per attempt, so the
 * server can correct clock skew; the events themselves are sent exactly as queued.
 */
export const postBatch = (endpoint: string, events: TrackerEvent[], writeKey?: string): Promise<Outcome> =>
  fetch(endpoint, {
    method: "POST",
    credentials: "omit",
    headers: { "Content-Type": "application/json", ...(writeKey && { "X-Write-Key": writeKey }) },
    body: JSON.stringify({ events, sent_at: iso() }),
  }).then(read, () => ({ status: 0 }));

/**
 * A send while the page is being hidden or unloaded. `fetch` with `keepalive` outlives the page
 * and, when the page survives (a tab switch), still reports the outcome; if the browser refuses
 * it (keepalive quota, no support) the same body goes by `sendBeacon`. Both are `text/plain`
 * with the key in the body: a beacon cannot set headers, and a CORS-safelisted request (that
 * content type, no custom header) needs no preflight — a second round trip in the page's last
 * moments, which some browsers do not even attempt for keepalive requests. A beacon the browser
 * accepted counts as delivered (202: nothing comes back to read); offline, no beacon is tried
 * and the events stay queued for the next page.
 */
export const sendOnUnload = (endpoint: string, events: TrackerEvent[], writeKey?: string): Promise<Outcome> => {
  const body = new Blob([JSON.stringify({ events, sent_at: iso(), write_key: writeKey })], { type: "text/plain" });
  return fetch(endpoint, { method: "POST", credentials: "omit", keepalive: true, body }).then(read, () => ({
    status: navigator.onLine !== false && navigator.sendBeacon?.(endpoint, body) ? 202 : 0,
  }));
};

/**
 * Split `events` into request bodies of at most `max` events that each stay under
 * {@link MAX_UNLOAD_BYTES}, counting the envelope (`sent_at`, `write_key`). An event too large
 * for any such body is left out; it stays queued for a normal request.
 */
export const unloadChunks = (events: TrackerEvent[], max: number, writeKey?: string): TrackerEvent[][] => {
  const envelope = byteLength(JSON.stringify({ events: [], sent_at: iso(), write_key: writeKey }));
  const chunks: TrackerEvent[][] = [];
  let chunk: TrackerEvent[] = [];
  let size = envelope;
  for (const e of events) {
    const n = byteLength(JSON.stringify(e)) + 1; // + its comma
    if (chunk.length >= max || size + n > MAX_UNLOAD_BYTES) {
      if (chunk.length) chunks.push(chunk);
      chunk = [];
      size = envelope;
    }
    if (size + n <= MAX_UNLOAD_BYTES) {
      chunk.push(e);
      size += n;
    }
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
};
