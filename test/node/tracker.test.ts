/// <reference lib="dom" />
// The tracker is browser code; these tests run it in Node with small fakes of what it touches
// (fetch, navigator.sendBeacon, localStorage, document/window events) and fake timers.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { backoffDelay, retryAfterDelay } from "../../src/tracker/backoff";
import { TRACKER_SCRIPT } from "../../src/tracker/bundle.generated";
import { createTracker } from "../../src/tracker/tracker";
import { MAX_UNLOAD_BYTES, unloadChunks } from "../../src/tracker/transport";
import type { TrackerEvent, TrackerOptions } from "../../src/tracker/types";
import { uuidv7 } from "../../src/tracker/uuidv7";

const ENDPOINT = "https://stats.example/api/v1/analytics";
const KEY = "wk_test";
const STORAGE_KEY = "_ea";
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const START = new Date("2026-01-01T00:00:00.000Z").getTime();

// ---------------------------------------------------------------------------------------------
// Fakes

function fakeStorage() {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, String(v)),
    removeItem: (k: string) => void map.delete(k),
    /** The tracker's persisted state, parsed. */
    state: () => JSON.parse(map.get(STORAGE_KEY) ?? "null"),
  };
}
type FakeStorage = ReturnType<typeof fakeStorage>;

interface Body {
  events: TrackerEvent[];
  sent_at: string;
  write_key?: string;
}
interface Request {
  url: string;
  /** Fake time when fetch was called. */
  at: number;
  init: RequestInit;
  body: Body;
  bytes: number;
  contentType: string | null;
  writeKeyHeader: string | null;
}
/** A scripted answer: a status, a full response, or a network failure. */
type Reply = number | "network" | "hang" | { status: number; headers?: Record<string, string>; body?: unknown };

/** A fake ingest endpoint: records each request and answers from `replies`, then with 202. */
function fakeServer() {
  const requests: Request[] = [];
  const replies: Reply[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const at = Date.now();
    const blob = init.body instanceof Blob ? init.body : undefined;
    const text = blob ? await blob.text() : String(init.body);
    const headers = new Headers(init.headers);
    const body = JSON.parse(text) as Body;
    requests.push({
      url,
      at,
      init,
      body,
      bytes: Buffer.byteLength(text),
      contentType: blob ? blob.type : headers.get("content-type"),
      writeKeyHeader: headers.get("x-write-key"),
    });
    const reply = replies.shift() ?? 202;
    if (reply === "network") throw new TypeError("Failed to fetch");
    if (reply === "hang") return new Promise<Response>(() => {}); // a request the page is left with

    const { status, headers: h, body: b } = typeof reply === "number" ? { status: reply } : reply;
    const accepted = { accepted: body.events.length, duplicates: 0, rejected: [] };
    return new Response(JSON.stringify(b ?? (status < 300 ? accepted : { error: { code: "x" } })), { status, headers: h });
  });
  return {
    requests,
    replies,
    fetch,
    /** Every event id the server has seen, in order, with repeats. */
    ids: () => requests.flatMap((r) => r.body.events.map((e) => e.event_id)),
  };
}
type FakeServer = ReturnType<typeof fakeServer>;

interface PageOptions {
  storage?: FakeStorage;
  server?: FakeServer;
  doNotTrack?: string | null;
  windowDoNotTrack?: string;
  globalPrivacyControl?: boolean;
  currentScript?: { src: string; dataset: Record<string, string> };
}

/** Install a fresh fake page (window, document, navigator, location, screen, storage, fetch). */
function openPage(o: PageOptions = {}) {
  const storage = o.storage ?? fakeStorage();
  const server = o.server ?? fakeServer();
  const win = Object.assign(new EventTarget(), { doNotTrack: o.windowDoNotTrack });
  const doc = Object.assign(new EventTarget(), {
    visibilityState: "visible",
    referrer: "https://referrer.example/",
    title: "Home",
    currentScript: o.currentScript ?? null,
  });
  const beacons: { url: string; data: Blob }[] = [];
  const nav = {
    language: "en-GB",
    onLine: true,
    doNotTrack: o.doNotTrack ?? null,
    globalPrivacyControl: o.globalPrivacyControl,
    sendBeacon: vi.fn((url: string, data: Blob) => (beacons.push({ url, data }), true)),
  };
  vi.stubGlobal("window", win);
  vi.stubGlobal("document", doc);
  vi.stubGlobal("navigator", nav);
  vi.stubGlobal("location", { href: "https://app.example/pricing?plan=pro" });
  vi.stubGlobal("screen", { width: 1280, height: 800 });
  vi.stubGlobal("localStorage", storage);
  vi.stubGlobal("fetch", server.fetch);
  return {
    storage,
    server,
    nav,
    beacons,
    beaconBodies: () => Promise.all(beacons.map(async (b) => ({ body: JSON.parse(await b.data.text()) as Body, bytes: b.data.size, type: b.data.type }))),
    hide() {
      doc.visibilityState = "hidden";
      doc.dispatchEvent(new Event("visibilitychange"));
    },
    show() {
      doc.visibilityState = "visible";
      doc.dispatchEvent(new Event("visibilitychange"));
    },
    pagehide: () => win.dispatchEvent(new Event("pagehide")),
  };
}

/** Start a tracker on a fresh fake page. */
function start(options: TrackerOptions = {}, page: PageOptions = {}) {
  const p = openPage(page);
  const tracker = createTracker({ endpoint: ENDPOINT, writeKey: KEY, ...options });
  return { ...p, tracker };
}

/**
 * A reload: the old page's timers die with it and a new page starts a new tracker on the same
 * storage (and the same server).
 */
function reload(old: { storage: FakeStorage; server: FakeServer }, options: TrackerOptions = {}) {
  const now = Date.now();
  vi.clearAllTimers(); // (which, in vitest 4, also resets the fake clock to the real time)
  vi.setSystemTime(now);
  return start(options, { storage: old.storage, server: old.server });
}

/** Let pending promises and I/O (Blob reads, Response bodies) finish. */
async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}
/** Advance fake time by `ms`, running timers and the promises they start. */
async function advance(ms: number) {
  await vi.advanceTimersByTimeAsync(ms);
  await settle();
}

const trackN = (t: { track: (n: string, c: string, p?: Record<string, unknown>) => void }, n: number, props?: Record<string, unknown>) => {
  for (let i = 0; i < n; i++) t.track(`event_${i}`, "test", props);
};

beforeEach(() => {
  // setImmediate stays real: settle() uses it to let I/O finish.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  vi.setSystemTime(START);
});
afterEach(() => {
  vi.clearAllTimers();
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

// ---------------------------------------------------------------------------------------------

describe("uuidv7", () => {
  test("is a version 7, variant 10 UUID whose first 48 bits are the time in ms", () => {
    const now = Date.UTC(2030, 0, 1);
    const id = uuidv7(now);
    expect(id).toMatch(UUIDV7);
    expect(parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(now);
  });

  test("ids sort in creation order: 10,000 in one millisecond, and when the clock steps back", () => {
    const t = Date.UTC(2031, 0, 1);
    const times = [...Array<number>(10_000).fill(t), t - 5, t - 1000, t + 1, t + 1, t + 2];
    const ids = times.map((now) => uuidv7(now));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // 10,000 ids overflow the 12-bit counter, so the timestamp borrows ahead instead of repeating.
    const stamps = ids.map((id) => parseInt(id.replace(/-/g, "").slice(0, 12), 16));
    expect(stamps.every((s, i) => i == 0 || s >= stamps[i - 1]!)).toBe(true);
  });
});

describe("batching", () => {
  test("a full batch of 50 goes at once; 49 wait", async () => {
    const { tracker, server } = start();
    trackN(tracker, 49);
    await advance(4_000);
    expect(server.requests).toHaveLength(0);
    tracker.track("event_49", "test");
    await settle();
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req!.body.events).toHaveLength(50);
    expect(req!.url).toBe(ENDPOINT);
    expect(req!.contentType).toBe("application/json");
    expect(req!.writeKeyHeader).toBe(KEY);
    expect(req!.body.write_key).toBeUndefined();
    expect(req!.init.credentials).toBe("omit");
  });

  test("a partial batch goes after the flush interval", async () => {
    const { tracker, server } = start();
    trackN(tracker, 3);
    await advance(4_999);
    expect(server.requests).toHaveLength(0);
    await advance(1);
    expect(server.requests.map((r) => r.body.events.length)).toEqual([3]);
    expect(server.requests[0]!.at).toBe(START + 5_000);
  });

  test("a burst of 120 goes as 50, 50, 20, in order, one request at a time", async () => {
    const { tracker, server, storage } = start();
    trackN(tracker, 120);
    await settle();
    expect(server.requests.map((r) => r.body.events.length)).toEqual([50, 50, 20]);
    expect(server.requests.flatMap((r) => r.body.events.map((e) => e.event_name))).toEqual(
      Array.from({ length: 120 }, (_, i) => `event_${i}`),
    );
    expect(storage.state().q).toEqual([]);
    expect(tracker.stats()).toMatchObject({ sent: 120, dropped: 0 });
  });

  test("an event carries what the server's contract names, in snake_case", async () => {
    const { tracker, server } = start();
    tracker.identify("user_1");
    tracker.track("asset_generated", "assets", { asset_type: "logo" });
    tracker.page();
    await tracker.flush();
    const [e, p] = server.requests[0]!.body.events;
    expect(e).toEqual({
      event_id: expect.stringMatching(UUIDV7),
      event_name: "asset_generated",
      category: "assets",
      timestamp: "2026-01-01T00:00:00.000Z",
      user_id: "user_1",
      session_id: expect.stringMatching(UUIDV7),
      properties: { asset_type: "logo" },
      page_url: "https://app.example/pricing?plan=pro",
      referrer: "https://referrer.example/",
      device_info: { locale: "en-GB", screen: "1280x800", timezone: expect.any(String) },
    });
    expect(p).toMatchObject({ event_name: "page_view", category: "navigation", properties: { title: "Home" } });
  });
});

describe("retries", () => {
  test("event_id and timestamp never change between attempts; sent_at does", async () => {
    const { tracker, server } = start();
    server.replies.push("network", 503, 202);
    trackN(tracker, 2);
    await advance(5_000);
    await advance(60_000);
    expect(server.requests).toHaveLength(3);
    const [first, ...rest] = server.requests.map((r) => r.body);
    for (const b of rest) expect(b.events).toEqual(first!.events);
    const sentAts = server.requests.map((r) => Date.parse(r.body.sent_at));
    expect(sentAts[1]).toBeGreaterThan(sentAts[0]!);
    expect(sentAts[2]).toBeGreaterThan(sentAts[1]!);
    expect(tracker.stats().sent).toBe(2);
  });

  for (const [random, name] of [
    [0, "lower"],
    [1, "upper"],
  ] as const)
    test(`backoff doubles from 1 s with equal jitter (${name} bound)`, async () => {
      vi.spyOn(Math, "random").mockReturnValue(random);
      const { tracker, server } = start();
      server.replies.push("network", 503, 502, 429, "network", "network", "network", "network");
      tracker.track("e", "c");
      await tracker.flush();
      for (let i = 0; i < 8; i++) await advance(60_000);
      const gaps = server.requests.slice(1).map((r, i) => r.at - server.requests[i]!.at);
      const nominal = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000];
      expect(gaps).toEqual(nominal.map((d) => (random ? d : d / 2)));
      expect(tracker.stats()).toMatchObject({ sent: 1, dropped: 0 });
    });

  const backoffCases = [
    { attempt: 1, min: 500, max: 1_000 },
    { attempt: 2, min: 1_000, max: 2_000 },
    { attempt: 3, min: 2_000, max: 4_000 },
    { attempt: 6, min: 16_000, max: 32_000 },
    { attempt: 7, min: 30_000, max: 60_000 },
    { attempt: 30, min: 30_000, max: 60_000 },
  ];
  for (const t of backoffCases)
    test(`backoffDelay(${t.attempt}) is within [${t.min}, ${t.max}]`, () => {
      expect(backoffDelay(t.attempt, 0)).toBe(t.min);
      expect(backoffDelay(t.attempt, 1)).toBe(t.max);
      for (let i = 0; i < 100; i++) {
        const d = backoffDelay(t.attempt);
        expect(d).toBeGreaterThanOrEqual(t.min);
        expect(d).toBeLessThanOrEqual(t.max);
      }
    });

  const retryAfterCases = [
    { header: "120", ms: 120_000 },
    { header: "0", ms: 0 },
    { header: "1.5", ms: 1_500 },
    { header: "Thu, 01 Jan 2026 00:01:00 GMT", ms: 60_000 },
    { header: "Wed, 31 Dec 2025 23:00:00 GMT", ms: 0 },
    { header: "soon", ms: 0 },
    { header: "", ms: 0 },
    { header: null, ms: 0 },
    { header: "999999999", ms: 86_400_000 },
  ];
  for (const t of retryAfterCases)
    test(`Retry-After ${JSON.stringify(t.header)} → ${t.ms} ms`, () => {
      expect(retryAfterDelay(t.header, START)).toBe(t.ms);
    });

  for (const status of [429, 503])
    test(`${status} with Retry-After: no attempt before it, one right after`, async () => {
      const { tracker, server } = start();
      server.replies.push({ status, headers: { "Retry-After": "30" } });
      tracker.track("e", "c");
      await tracker.flush();
      await advance(29_999);
      expect(server.requests).toHaveLength(1);
      await advance(1);
      expect(server.requests).toHaveLength(2);
      expect(server.requests[1]!.at - server.requests[0]!.at).toBe(30_000);
    });

  test("Retry-After holds across a reload, and events queued meanwhile wait too", async () => {
    const first = start();
    first.server.replies.push({ status: 503, headers: { "Retry-After": "120" } });
    first.tracker.track("e", "c");
    await first.tracker.flush();
    await advance(10_000);
    const second = reload(first);
    trackN(second.tracker, 60);
    second.hide();
    await advance(100_000);
    expect(first.server.requests).toHaveLength(1);
    await advance(10_000);
    expect(first.server.requests.map((r) => r.body.events.length)).toEqual([1, 50, 11]);
  });

  for (const status of [400, 401, 403, 404, 422])
    test(`${status}: the batch is dropped and counted, never retried`, async () => {
      const { tracker, server, storage } = start();
      server.replies.push(status);
      trackN(tracker, 3);
      await tracker.flush();
      await advance(600_000);
      expect(server.requests).toHaveLength(1);
      expect(tracker.stats()).toMatchObject({ sent: 0, dropped: 3 });
      expect(storage.state().q).toEqual([]);
      tracker.track("later", "c"); // the tracker is not stuck
      await tracker.flush();
      expect(server.requests).toHaveLength(2);
    });

  test("413 splits the batch in halves and sends both; one event that is too large is dropped", async () => {
    const { tracker, server } = start();
    server.replies.push(413, 413);
    trackN(tracker, 50);
    await settle();
    expect(server.requests.map((r) => r.body.events.length)).toEqual([50, 25, 13, 13, 13, 11]);
    expect(new Set(server.ids()).size).toBe(50);
    expect(tracker.stats()).toMatchObject({ sent: 50, dropped: 0 });

    server.replies.push(413);
    tracker.track("huge", "c");
    await tracker.flush();
    expect(server.requests.at(-1)!.body.events.map((e) => e.event_name)).toEqual(["huge"]);
    expect(tracker.stats()).toMatchObject({ sent: 50, dropped: 1 });
    // After the queue emptied, batches are full-size again.
    trackN(tracker, 50);
    await settle();
    expect(server.requests.at(-1)!.body.events).toHaveLength(50);
  });

  test("events the server rejects one by one are counted, not retried; duplicates are success", async () => {
    const { tracker, server } = start();
    server.replies.push({
      status: 202,
      body: { accepted: 1, duplicates: 1, rejected: [{ index: 2, code: "invalid_event", message: "category is required" }] },
    });
    trackN(tracker, 3);
    await tracker.flush();
    await advance(600_000);
    expect(server.requests).toHaveLength(1);
    expect(tracker.stats()).toEqual({ sent: 2, rejected: 1, dropped: 0, overflow: 0 });
  });
});

describe("page hide and unload", () => {
  test("visibilitychange to hidden sends the queue by keepalive fetch, text/plain, key in the body", async () => {
    const { tracker, server, hide, storage } = start();
    trackN(tracker, 3);
    hide();
    await settle();
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req!.init.keepalive).toBe(true);
    expect(req!.init.credentials).toBe("omit");
    expect(req!.contentType).toBe("text/plain");
    expect(req!.writeKeyHeader).toBeNull();
    expect(req!.body.write_key).toBe(KEY);
    expect(req!.body.events).toHaveLength(3);
    expect(storage.state().q).toEqual([]);
    await advance(60_000);
    expect(server.requests).toHaveLength(1);
  });

  test("pagehide sends too; hidden then pagehide sends once", async () => {
    const a = start();
    trackN(a.tracker, 2);
    a.pagehide();
    await settle();
    expect(a.server.requests.map((r) => r.init.keepalive)).toEqual([true]);

    const b = start();
    trackN(b.tracker, 2);
    b.hide();
    b.pagehide();
    await settle();
    expect(b.server.requests).toHaveLength(1);
  });

  test("becoming visible sends nothing", async () => {
    const { tracker, server, show } = start();
    tracker.track("e", "c");
    show();
    await settle();
    expect(server.requests).toHaveLength(0);
  });

  test("when the keepalive fetch fails, a text/plain beacon carries the events and the key", async () => {
    const { tracker, server, hide, nav, beaconBodies, storage } = start();
    server.replies.push("network");
    trackN(tracker, 3);
    hide();
    await settle();
    expect(nav.sendBeacon).toHaveBeenCalledTimes(1);
    const [beacon] = await beaconBodies();
    expect(nav.sendBeacon.mock.calls[0]![0]).toBe(ENDPOINT);
    expect(beacon!.type).toBe("text/plain");
    expect(beacon!.body.write_key).toBe(KEY);
    expect(beacon!.body.events.map((e) => e.event_id)).toEqual(server.requests[0]!.body.events.map((e) => e.event_id));
    expect(storage.state().q).toEqual([]);
    expect(tracker.stats().sent).toBe(3);
  });

  test("a large queue goes as several beacons, each under 64 KiB, each event once and in order", async () => {
    const { tracker, server, hide, beaconBodies } = start();
    trackN(tracker, 49, { blob: "x".repeat(3_000) }); // ~150 KB, one short of a full batch
    server.replies.push(...Array<Reply>(10).fill("network")); // e.g. the keepalive quota is used up
    hide();
    await settle();
    const beacons = await beaconBodies();
    expect(beacons.length).toBe(3);
    for (const b of beacons) expect(b.bytes).toBeLessThan(MAX_UNLOAD_BYTES);
    expect(beacons.flatMap((b) => b.body.events.map((e) => e.event_name))).toEqual(
      Array.from({ length: 49 }, (_, i) => `event_${i}`),
    );
    // The keepalive attempts were cut the same way.
    expect(server.requests.map((r) => r.body.events.length)).toEqual(beacons.map((b) => b.body.events.length));
    for (const r of server.requests) expect(r.bytes).toBeLessThan(MAX_UNLOAD_BYTES);
    expect(tracker.stats().sent).toBe(49);
  });

  test("unload bodies hold at most a batch of events and fill up to just under 64 KiB", () => {
    const event = (i: number, size: number): TrackerEvent => ({
      event_id: `id_${i}`,
      event_name: "e",
      category: "c",
      timestamp: "2026-01-01T00:00:00.000Z",
      properties: { pad: "y".repeat(size) },
    });
    const small = Array.from({ length: 120 }, (_, i) => event(i, 10));
    expect(unloadChunks(small, 50, KEY).map((c) => c.length)).toEqual([50, 50, 20]);
    const big = Array.from({ length: 30 }, (_, i) => event(i, 6_000));
    const chunks = unloadChunks(big, 50, KEY);
    expect(chunks.flat()).toEqual(big);
    for (const events of chunks) {
      const bytes = Buffer.byteLength(JSON.stringify({ events, sent_at: "2026-01-01T00:00:00.000Z", write_key: KEY }));
      expect(bytes).toBeLessThan(MAX_UNLOAD_BYTES);
      expect(bytes).toBeGreaterThan(MAX_UNLOAD_BYTES - 6_200); // one more event would not have fitted
    }
  });

  test("an event too large for a beacon stays queued and goes by normal fetch on the next page", async () => {
    const first = start();
    first.tracker.track("huge", "c", { blob: "x".repeat(70_000) });
    first.tracker.track("small", "c");
    first.hide();
    await settle();
    expect(first.server.requests.map((r) => r.body.events.map((e) => e.event_name))).toEqual([["small"]]);
    const second = reload(first);
    await settle();
    expect(second.server.requests.at(-1)!.body.events.map((e) => e.event_name)).toEqual(["huge"]);
    expect(second.server.requests.at(-1)!.init.keepalive).toBeUndefined();
  });

  test("a refused beacon leaves the events queued; the next page sends them, same ids and timestamps", async () => {
    const first = start();
    first.server.replies.push("network");
    first.nav.sendBeacon.mockReturnValue(false);
    trackN(first.tracker, 2);
    first.hide();
    await settle();
    expect(first.nav.sendBeacon).toHaveBeenCalledTimes(1);
    const queued = first.storage.state().q as TrackerEvent[];
    expect(queued).toHaveLength(2);

    vi.setSystemTime(START + 60_000);
    const second = reload(first);
    await settle();
    expect(second.server.requests.at(-1)!.body.events).toEqual(queued);
    expect(second.storage.state().q).toEqual([]);
  });

  test("offline, page hide sends nothing (it would be lost); the events wait for a normal retry", async () => {
    const { tracker, server, hide, nav, storage } = start();
    nav.onLine = false;
    server.replies.push("network");
    trackN(tracker, 2);
    hide();
    await settle();
    expect(nav.sendBeacon).not.toHaveBeenCalled();
    expect(server.requests).toEqual([]);
    expect(storage.state().q).toHaveLength(2);
    await advance(5_000);
    await advance(60_000);
    expect(server.requests.map((r) => [r.init.keepalive, r.body.events.length])).toEqual([
      [undefined, 2],
      [undefined, 2],
    ]);
    expect(storage.state().q).toEqual([]);
  });

  test("page hide also sends the events of a request still in flight (navigation aborts it)", async () => {
    const { tracker, server, hide } = start();
    server.replies.push("hang");
    trackN(tracker, 50);
    await settle();
    expect(server.requests).toHaveLength(1);
    hide();
    await settle();
    const unloadSends = server.requests.filter((r) => r.init.keepalive);
    expect(unloadSends.flatMap((r) => r.body.events.map((e: { event_id: string }) => e.event_id))).toEqual(
      server.requests[0]!.body.events.map((e: { event_id: string }) => e.event_id),
    );
  });

  test("while a retry is due later, hiding the page sends nothing (the server asked to wait)", async () => {
    const { tracker, server, hide, storage } = start();
    server.replies.push({ status: 429, headers: { "Retry-After": "60" } });
    tracker.track("e", "c");
    await tracker.flush();
    hide();
    await settle();
    expect(server.requests).toHaveLength(1);
    expect(storage.state().q).toHaveLength(1);
  });
});

describe("persistence", () => {
  test("events still queued survive a reload and are sent by the next page, unchanged", async () => {
    const first = start();
    first.server.replies.push("network");
    trackN(first.tracker, 3);
    await first.tracker.flush();
    const queued = first.storage.state().q as TrackerEvent[];
    expect(queued).toHaveLength(3);

    vi.setSystemTime(START + 3_600_000);
    const second = reload(first);
    await settle();
    expect(second.server.requests).toHaveLength(2);
    expect(second.server.requests[1]!.body.events).toEqual(queued);
    expect(second.server.requests[1]!.body.sent_at).toBe("2026-01-01T01:00:00.000Z");
    expect(second.storage.state().q).toEqual([]);
  });

  test("the queue is bounded: what does not fit is counted as overflow, across reloads", async () => {
    const first = start({ maxQueue: 10 });
    first.server.replies.push(...Array<Reply>(20).fill("network"));
    trackN(first.tracker, 15);
    await settle();
    expect(first.storage.state().q).toHaveLength(10);
    expect(first.tracker.stats().overflow).toBe(5);

    first.server.replies.length = 0;
    const second = reload(first, { maxQueue: 10 });
    await settle();
    expect(second.server.requests.at(-1)!.body.events.map((e) => e.event_name)).toEqual(
      Array.from({ length: 10 }, (_, i) => `event_${i}`),
    );
    expect(second.tracker.stats()).toMatchObject({ sent: 10, overflow: 5 });
  });

  test("tabs share one queue: events from two tabs are all delivered", async () => {
    const storage = fakeStorage();
    const server = fakeServer();
    server.replies.push("network", "network");
    const a = start({}, { storage, server });
    const b = start({}, { storage, server });
    a.tracker.track("from_a", "c");
    b.tracker.track("from_b", "c");
    await advance(5_000);
    expect(storage.state().q).toHaveLength(2);
    await advance(60_000);
    expect(new Set(server.requests.flatMap((r) => r.body.events.map((e) => e.event_name)))).toEqual(new Set(["from_a", "from_b"]));
    expect(storage.state().q).toEqual([]);
  });

  test("identify persists across reloads; identify(null) forgets", async () => {
    const first = start();
    first.tracker.identify("user_7");
    const second = reload(first);
    second.tracker.track("a", "c");
    second.tracker.identify(null);
    second.tracker.track("b", "c");
    await second.tracker.flush();
    expect(second.server.requests[0]!.body.events.map((e) => e.user_id)).toEqual(["user_7", undefined]);
  });

  test("without localStorage (blocked), events are still delivered from memory", async () => {
    const { tracker, server } = start();
    vi.stubGlobal("localStorage", {
      getItem() {
        throw new DOMException("denied", "SecurityError");
      },
      setItem() {
        throw new DOMException("denied", "SecurityError");
      },
    });
    server.replies.push("network");
    trackN(tracker, 2);
    await tracker.flush();
    await advance(2_000);
    expect(server.requests.map((r) => r.body.events.length)).toEqual([2, 2]);
    expect(tracker.stats().sent).toBe(2);
  });
});

describe("sessions", () => {
  test("the session id holds while events keep coming, rotates after 30 minutes idle, survives a reload", async () => {
    const first = start();
    const minutes = (m: number) => vi.setSystemTime(START + m * 60_000);
    first.tracker.track("t0", "c");
    minutes(29);
    first.tracker.track("t29", "c");
    minutes(58);
    first.tracker.track("t58", "c");
    const second = reload(first);
    minutes(87);
    second.tracker.track("t87", "c"); // 29 min after the last event, on a new page
    minutes(117);
    second.tracker.track("t117", "c"); // 30 min idle: a new session
    vi.setSystemTime(START + 147 * 60_000 + 1);
    second.tracker.track("t147", "c"); // 30 min + 1 ms idle: another
    await second.tracker.flush();
    const sessions = second.server.requests.flatMap((r) => r.body.events.map((e) => e.session_id));
    expect(sessions).toHaveLength(6);
    const [s0, s29, s58, s87, s117, s147] = sessions;
    expect(new Set([s0, s29, s58, s87])).toEqual(new Set([s0]));
    expect(s117).toBe(s0); // exactly 30 min is not "after" 30 min
    expect(s147).not.toBe(s0);
    expect(s147).toMatch(UUIDV7);
  });
});

describe("privacy", () => {
  const signals: { name: string; page: PageOptions }[] = [
    { name: "navigator.doNotTrack", page: { doNotTrack: "1" } },
    { name: "window.doNotTrack", page: { windowDoNotTrack: "1" } },
    { name: "Global Privacy Control", page: { globalPrivacyControl: true } },
  ];
  for (const s of signals) {
    test(`${s.name} with respectDoNotTrack: nothing is sent or stored`, async () => {
      const { tracker, server, storage, hide } = start({ respectDoNotTrack: true }, s.page);
      trackN(tracker, 60);
      tracker.identify("u");
      hide();
      await advance(60_000);
      expect(server.requests).toHaveLength(0);
      expect(storage.map.size).toBe(0);
    });
    test(`${s.name} without respectDoNotTrack: events are sent`, async () => {
      const { tracker, server } = start({}, s.page);
      tracker.track("e", "c");
      await tracker.flush();
      expect(server.requests).toHaveLength(1);
    });
  }

  test("optOut deletes the queue and identity and stops tracking across reloads; optIn resumes", async () => {
    const first = start();
    first.tracker.identify("u1");
    trackN(first.tracker, 3);
    first.tracker.optOut();
    first.tracker.track("after_opt_out", "c");
    await advance(60_000);
    first.hide();
    await settle();
    expect(first.server.requests).toHaveLength(0);
    expect(first.storage.state()).toMatchObject({ o: 1, q: [] });
    expect(first.storage.state().u).toBeUndefined();
    expect(first.storage.state().s).toBeUndefined();

    const second = reload(first);
    second.tracker.track("still_out", "c");
    await second.tracker.flush();
    expect(second.server.requests).toHaveLength(0);

    second.tracker.optIn();
    second.tracker.track("back", "c");
    await second.tracker.flush();
    expect(second.server.requests.flatMap((r) => r.body.events.map((e) => [e.event_name, e.user_id]))).toEqual([["back", undefined]]);
  });

  test("no cookies: nothing touches document.cookie, and requests omit credentials", async () => {
    const { tracker, server } = start();
    const cookie = vi.fn();
    Object.defineProperty(document, "cookie", { get: cookie, set: cookie });
    tracker.track("e", "c");
    await tracker.flush();
    expect(cookie).not.toHaveBeenCalled();
    expect(server.requests[0]!.init.credentials).toBe("omit");
  });
});

describe("script-tag build (the committed bundle)", () => {
  const run = () => new Function(TRACKER_SCRIPT)();

  test("replays calls queued by the stub, then exposes the API as window.analytics", async () => {
    const { server } = openPage();
    (window as unknown as { analytics: unknown }).analytics = [
      ["init", { endpoint: ENDPOINT, writeKey: KEY }],
      ["identify", "u1"],
      ["track", "signup", "account", { plan: "pro" }],
    ];
    run();
    const analytics = (window as unknown as { analytics: Record<string, (...a: unknown[]) => unknown> }).analytics;
    expect(Object.keys(analytics).sort()).toEqual(["flush", "identify", "init", "optIn", "optOut", "page", "stats", "track"]);
    analytics.page!();
    await advance(5_000);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.writeKeyHeader).toBe(KEY);
    expect(server.requests[0]!.body.events.map((e) => [e.event_name, e.user_id])).toEqual([
      ["signup", "u1"],
      ["page_view", "u1"],
    ]);
  });

  test("data-write-key starts it and sends a page view to the script's own origin", async () => {
    const { server } = openPage({
      currentScript: { src: "https://stats.example/tracker.js", dataset: { writeKey: KEY } },
    });
    run();
    await advance(5_000);
    expect(server.requests.map((r) => r.url)).toEqual(["https://stats.example/api/v1/analytics"]);
    expect(server.requests[0]!.body.events[0]!.event_name).toBe("page_view");
  });
});
