/**
 * Normalisation of one zod-validated event into an {@link EventRow} (all but `event_id`): alias
 * resolution, clock-skew correction, age/future checks, property-shape limits and prototype-key
 * removal, URL scrubbing and bot flagging. Pure: the clock is an argument.
 */
import { isbot } from "isbot";
import { AGENT_MEMO_SIZE, deriveDimensions, type DimensionCaches, urlParts } from "./dimensions";
import { boundedMemo, cachedIn } from "./memo";
import type { EventRow } from "./event";
import type { EventIdSource } from "./event-id";
import { normalizeClientEventId } from "./event-id";
import type { EventInput, RejectionCode } from "./event-schema";
import {
  MAX_ARRAY_LENGTH,
  MAX_EVENT_AGE_MS,
  MAX_FUTURE_SKEW_MS,
  MAX_KEY_LENGTH,
  MAX_OBJECT_DEPTH,
  MAX_OBJECT_KEYS,
  MAX_STRING_VALUE_LENGTH,
  MAX_URL_LENGTH,
  MIN_EPOCH_MS,
} from "./limits";
import { cleanText, displayText, nameProblem, unstorableChar } from "./text-rules";
import { DEFAULT_URL_SCRUB, scrubUrlParts, type UrlScrubOptions } from "./url-scrub";

/** Row flags this module sets (EventRow.flags). */
export const FLAGS = {
  /** The corrected time was in the future (≤ maxFutureSkewMs) and was set to received_at. */
  futureClamped: "future_clamped",
  /** The user agent (device_info's, else the request's) matched `isbot`. Flagged, never dropped. */
  bot: "bot",
  /** `__proto__`/`constructor`/`prototype` keys were removed from properties or device_info. */
  unsafeKeysDropped: "unsafe_keys_dropped",
  /** page_url could not be parsed as a URL and was stored as null. */
  invalidPageUrl: "invalid_page_url",
  /** referrer could not be parsed as a URL and was stored as null. */
  invalidReferrer: "invalid_referrer",
  /** The event_id was derived from content (the client sent none). Set by prepareBatch. */
  derivedId: "derived_id",
  /**
   * The client sent neither event_id nor timestamp: the server gave the event a fresh id, so a
   * resend of it is a new event. Set by prepareBatch.
   */
  serverId: "server_id",
  /** A string value in properties/device_info held NUL or a lone surrogate, replaced by U+FFFD. */
  textCleaned: "text_cleaned",
} as const;

/** Tunables of normalisation. Every field has a safe default in {@link DEFAULT_NORMALIZE_OPTIONS}. */
export interface NormalizeOptions {
  /** How page_url and referrer are scrubbed. @default DEFAULT_URL_SCRUB (keep utm_* and ref) */
  urlScrub: UrlScrubOptions;
  /** Future offset clamped rather than rejected. @default MAX_FUTURE_SKEW_MS (24 h) */
  maxFutureSkewMs: number;
  /** Oldest accepted corrected time, relative to received_at. @default MAX_EVENT_AGE_MS (7 d) */
  maxEventAgeMs: number;
}

export const DEFAULT_NORMALIZE_OPTIONS: NormalizeOptions = Object.freeze({
  urlScrub: DEFAULT_URL_SCRUB,
  maxFutureSkewMs: MAX_FUTURE_SKEW_MS,
  maxEventAgeMs: MAX_EVENT_AGE_MS,
});

/** Per-batch facts shared by every event of the batch (computed once by prepareBatch). */
export interface BatchFacts {
  receivedAtMs: number;
  receivedAtIso: string;
  /** The envelope's sent_at in epoch ms, or null. */
  sentAtMs: number | null;
  /** The request's User-Agent header, used when device_info carries none. */
  requestUserAgent: string | null;
  options: NormalizeOptions;
  /** The client's country (`request.cf.country`), or null (absent outside Cloudflare). */
  country: string | null;
  /** Parsed User-Agents and URLs within this batch, for the dimensions. */
  dimensionCaches: DimensionCaches;
  /** Scrubbed URLs within this batch (a batch's events mostly share a page and a referrer). */
  urlCache: Map<string, string | null>;
  /** Event names and categories checked within this batch, with their problem (null: printable). */
  nameCache: Map<string, string | null>;
}

/** A normalised event, or the reason it is rejected. */
export type NormalizeOutcome =
  | {
      ok: true;
      /** The row; its event_id is "" until the caller sets it (once every id of the batch is known). */
      row: EventRow;
      /** Lower-cased client id, or null when the id must be derived from `idSource`. */
      clientEventId: string | null;
      /** Present when clientEventId is null. */
      idSource: EventIdSource | null;
    }
  | { ok: false; code: RejectionCode; message: string };

/** isbot across batches of this isolate (see memo.ts): its patterns are tried on every new User-Agent. */
const isBotMemo = boundedMemo(isbot, AGENT_MEMO_SIZE);

const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);
/** The YYYY-MM-DD prefix that `z.iso.datetime` guarantees; used to refuse Feb 30 (Date.parse rolls it over). */
const ISO_DATE_PREFIX = /^\d{4}-\d{2}-\d{2}/;
/** Largest time value a JS Date can represent (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

/** Smallest number read as epoch seconds by mistake (1973-03-03 in seconds). */
const PLAUSIBLE_EPOCH_SECONDS = MIN_EPOCH_MS / 1000;

/** The exact form `Date.prototype.toISOString` produces; such a client string is reused as is. */
const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const reject = (code: RejectionCode, message: string): NormalizeOutcome => ({ ok: false, code, message });

/**
 * Parses a client timestamp (already shape-checked by zod) to epoch ms.
 * @returns the time, or an error message.
 */
export function parseClientTime(value: string | number): number | string {
  if (typeof value === "number") {
    if (value <= 0) return `must be a positive number of epoch milliseconds (got ${value})`;
    if (value < MIN_EPOCH_MS) {
      // Epoch seconds of any date since 1973 are ≥ 1e8; a smaller number is no plausible time at all.
      return value >= PLAUSIBLE_EPOCH_SECONDS
        ? `must be epoch milliseconds; ${value} looks like seconds`
        : `must be epoch milliseconds of a date after 1973-03-03 (got ${value})`;
    }
    if (value > MAX_DATE_MS) return "is beyond the representable date range";
    return Math.floor(value);
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || !ISO_DATE_PREFIX.test(value)) return `is not a valid date-time: ${JSON.stringify(value)}`;
  // Date.parse turns 2024-02-30 into March 1st; a calendar date that does not exist is an error.
  // Every month has days 1–28, so only a later day needs the month's length.
  const day = Number(value.slice(8, 10));
  if (day > 28 && day > new Date(Date.UTC(Number(value.slice(0, 4)), Number(value.slice(5, 7)), 0)).getUTCDate()) {
    return `is not a valid date-time: ${JSON.stringify(value)}`;
  }
  return ms;
}

/** Result of the time arithmetic (exported for direct table tests). */
export type EventTime =
  | { ok: true; timeMs: number; clientTimeMs: number | null; skewMs: number; futureClamped: boolean }
  | { ok: false; code: "too_old" | "too_far_in_future"; message: string };

/**
 * Segment's clock-skew correction: the client's clock may be wrong, but the interval between
 * creating and sending an event is measured on that same clock, so
 * `time = received_at − (sent_at − timestamp)`. Without sent_at the timestamp is trusted; without
 * a timestamp the event happened "now" (received_at).
 *
 * @example
 * // device clock 1 h fast; the event was created 10 s before sending
 * computeEventTime({ receivedAtMs: T, sentAtMs: T + 3_600_000, clientTimeMs: T + 3_590_000 }, opts)
 * // → { ok: true, timeMs: T - 10_000, skewMs: -3_600_000, … }
 */
export function computeEventTime(
  input: { receivedAtMs: number; sentAtMs: number | null; clientTimeMs: number | null },
  options: Pick<NormalizeOptions, "maxFutureSkewMs" | "maxEventAgeMs">,
): EventTime {
  const { receivedAtMs, sentAtMs, clientTimeMs } = input;
  const skewMs = sentAtMs === null ? 0 : receivedAtMs - sentAtMs;
  let timeMs = clientTimeMs === null ? receivedAtMs : clientTimeMs + skewMs;
  let futureClamped = false;
  if (timeMs > receivedAtMs) {
    const ahead = timeMs - receivedAtMs;
    if (ahead > options.maxFutureSkewMs) {
      return {
        ok: false,
        code: "too_far_in_future",
        message: `timestamp: corrected time is ${formatDuration(ahead)} after received_at; at most ${formatDuration(options.maxFutureSkewMs)} is accepted`,
      };
    }
    timeMs = receivedAtMs;
    futureClamped = true;
  } else if (receivedAtMs - timeMs > options.maxEventAgeMs) {
    return {
      ok: false,
      code: "too_old",
      message: `timestamp: corrected time is ${formatDuration(receivedAtMs - timeMs)} before received_at; at most ${formatDuration(options.maxEventAgeMs)} is accepted`,
    };
  }
  return { ok: true, timeMs, clientTimeMs, skewMs, futureClamped };
}

function formatDuration(ms: number): string {
  if (ms >= 2 * 86_400_000) return `${+(ms / 86_400_000).toFixed(2)} d`;
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(2)} h`;
  return `${+(ms / 1000).toFixed(3)} s`;
}

/** Mutable state of one sanitize walk (one per object field). */
interface WalkState {
  keys: number;
  dropped: boolean;
  /** A string value was cleaned (NUL or lone surrogate replaced). */
  cleaned: boolean;
  /** Rejection code of the violation: a limit (`too_large`) or a key the stores cannot hold. */
  code: RejectionCode;
  /** Set on the first violation: message, and the path collected while unwinding. */
  error: string | null;
  path: string[];
}

/** Marker returned up the recursion when a limit is exceeded. */
const FAILED = Symbol("failed");

/**
 * Checks one JSON value inside properties/device_info against the shape limits and removes
 * prototype-sensitive keys. Copy-on-write: returns the same object when nothing changed, so the
 * common case allocates nothing.
 */
function sanitizeValue(value: unknown, depth: number, state: WalkState): unknown {
  if (typeof value === "string") {
    if (value.length > MAX_STRING_VALUE_LENGTH) {
      state.error = `string of ${value.length} characters exceeds ${MAX_STRING_VALUE_LENGTH} (MAX_STRING_VALUE_LENGTH)`;
      return FAILED;
    }
    const clean = cleanText(value);
    if (clean !== value) state.cleaned = true;
    return clean;
  }
  if (value === null || typeof value !== "object") return value;
  if (depth > MAX_OBJECT_DEPTH) {
    state.error = `nested deeper than ${MAX_OBJECT_DEPTH} levels (MAX_OBJECT_DEPTH)`;
    return FAILED;
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_ARRAY_LENGTH) {
      state.error = `array of ${value.length} elements exceeds ${MAX_ARRAY_LENGTH} (MAX_ARRAY_LENGTH)`;
      return FAILED;
    }
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const s = sanitizeValue(v, depth + 1, state);
      if (s === FAILED) {
        state.path.push(`[${i}]`);
        return FAILED;
      }
      if (s !== v) {
        out ??= value.slice(0, i);
      }
      if (out) out.push(s);
    }
    return out ?? value;
  }
  const record = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const v = record[key];
    if (UNSAFE_KEYS.has(key)) {
      state.dropped = true;
      out ??= copyBefore(record, key);
      continue;
    }
    if (++state.keys > MAX_OBJECT_KEYS) {
      state.error = `more than ${MAX_OBJECT_KEYS} keys in total (MAX_OBJECT_KEYS)`;
      return FAILED;
    }
    if (key.length > MAX_KEY_LENGTH) {
      state.error = `key of ${key.length} characters exceeds ${MAX_KEY_LENGTH} (MAX_KEY_LENGTH)`;
      state.path.push(`.${displayText(key.slice(0, 32))}…`);
      return FAILED;
    }
    const bad = unstorableChar(key);
    if (bad !== null) {
      // Keys are rejected, not cleaned: two keys could clean to the same one and lose a value.
      state.code = "invalid_field";
      state.error = `key contains ${bad}, which PostgreSQL cannot store`;
      state.path.push(`.${displayText(key)}`);
      return FAILED;
    }
    const s = sanitizeValue(v, depth + 1, state);
    if (s === FAILED) {
      state.path.push(`.${displayText(key)}`);
      return FAILED;
    }
    if (s !== v) out ??= copyBefore(record, key);
    if (out) out[key] = s;
  }
  return out ?? record;
}

/** A fresh object with the (safe) own keys of `record` that come before `stop` in iteration order. */
function copyBefore(record: Record<string, unknown>, stop: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in record) {
    if (key === stop) break;
    if (Object.hasOwn(record, key) && !UNSAFE_KEYS.has(key)) out[key] = record[key];
  }
  return out;
}

/**
 * Validates and cleans properties/device_info. The result never contains `__proto__`,
 * `constructor` or `prototype` keys at any depth, so no consumer that merges it with `[[Set]]`
 * semantics (Object.assign, lodash merge) can reach an object prototype; its string values never
 * hold NUL or a lone surrogate (replaced by U+FFFD, `cleaned`), and a key holding one fails the
 * object with `invalid_field`.
 */
export function sanitizeJsonObject(
  value: Record<string, unknown>,
  field: string,
): { ok: true; value: Record<string, unknown>; dropped: boolean; cleaned: boolean } | { ok: false; code: RejectionCode; message: string } {
  const state: WalkState = { keys: 0, dropped: false, cleaned: false, code: "too_large", error: null, path: [] };
  const out = sanitizeValue(value, 1, state);
  if (out === FAILED) return { ok: false, code: state.code, message: `${field}${state.path.reverse().join("")}: ${state.error}` };
  return { ok: true, value: out as Record<string, unknown>, dropped: state.dropped, cleaned: state.cleaned };
}

/** The rejection message for a top-level string the stores cannot hold, or null. */
function unstorableField(field: string, value: string | null | undefined): string | null {
  if (value == null) return null;
  const bad = unstorableChar(value);
  return bad === null ? null : `${field}: contains ${bad}, which PostgreSQL cannot store`;
}

type Resolved<T> = { ok: true; value: T | null } | { ok: false; message: string };

/** snake_case wins; both spellings with different non-null values is a client bug worth reporting. */
function resolveAlias<T>(snake: T | null | undefined, camel: T | null | undefined, name: string, aliasName: string): Resolved<T> {
  if (snake != null && camel != null && snake !== camel) {
    return { ok: false, message: `${name}: conflicts with ${aliasName}; send one of them` };
  }
  return { ok: true, value: snake ?? camel ?? null };
}

/**
 * The stored (scrubbed) form of a page URL or referrer, once per distinct URL of the batch. The
 * one parse also gives the dimensions their parts of the stored URL (seeded into their cache).
 */
function scrubCached(raw: string, facts: BatchFacts): string | null {
  const options = facts.options.urlScrub;
  // Scrubbing off: stored as sent (scrubUrl's rule), and the dimensions parse it themselves.
  if (!options.enabled) return raw;
  return cachedIn(facts.urlCache, raw, (url) => {
    const scrubbed = scrubUrlParts(url, options);
    if (scrubbed === null) return null;
    facts.dimensionCaches.urls.set(scrubbed.href, urlParts(scrubbed));
    return scrubbed.href;
  });
}

const emptyToNull = (s: string | null): string | null => (s === "" ? null : s);

function userAgentOf(deviceInfo: Record<string, unknown> | null): string | null {
  if (!deviceInfo) return null;
  const ua = deviceInfo.user_agent ?? deviceInfo.userAgent;
  return typeof ua === "string" && ua !== "" ? ua : null;
}

/**
 * Normalises one event that passed {@link EventSchema}. `raw` is the same event as parsed from
 * JSON: properties and device_info are read from it (not from zod's copy) so that the sanitize walk
 * sees every own key, `__proto__` included, and can flag its removal.
 */
export function normalizeEvent(event: EventInput, raw: Record<string, unknown>, facts: BatchFacts): NormalizeOutcome {
  const name = resolveAlias(event.event_name, event.eventName, "event_name", "eventName");
  if (!name.ok) return reject("invalid_field", name.message);
  if (name.value === null) return reject("invalid_field", "event_name: required");
  if (event.category == null) return reject("invalid_field", "category: required");
  const nameIssue = cachedIn(facts.nameCache, name.value, nameProblem);
  if (nameIssue !== null) return reject("invalid_field", `event_name: ${nameIssue}`);
  const categoryIssue = cachedIn(facts.nameCache, event.category, nameProblem);
  if (categoryIssue !== null) return reject("invalid_field", `category: ${categoryIssue}`);
  const user = resolveAlias(event.user_id, event.userId, "user_id", "userId");
  if (!user.ok) return reject("invalid_field", user.message);
  const session = resolveAlias(event.session_id, event.sessionId, "session_id", "sessionId");
  if (!session.ok) return reject("invalid_field", session.message);
  const pageUrlRaw = resolveAlias(event.page_url, event.pageUrl, "page_url", "pageUrl");
  if (!pageUrlRaw.ok) return reject("invalid_field", pageUrlRaw.message);
  // Ids are rejected rather than cleaned: a changed id would count as another user or session.
  const unstorable = unstorableField("user_id", user.value) ?? unstorableField("session_id", session.value);
  if (unstorable !== null) return reject("invalid_field", unstorable);
  const id = resolveAlias(event.event_id, event.eventId, "event_id", "eventId");
  if (!id.ok) return reject("invalid_field", id.message);
  let clientEventId: string | null = null;
  if (id.value !== null) {
    clientEventId = normalizeClientEventId(id.value);
    if (clientEventId === null) return reject("invalid_field", "event_id: the nil and max UUIDs are not event ids");
  }
  if (raw.device_info != null && raw.deviceInfo != null) {
    return reject("invalid_field", "device_info: conflicts with deviceInfo; send one of them");
  }

  // Time first: it is the cheapest check that can reject.
  let clientTimeMs: number | null = null;
  if (event.timestamp !== undefined) {
    const t = parseClientTime(event.timestamp);
    if (typeof t === "string") return reject("invalid_field", `timestamp: ${t}`);
    clientTimeMs = t;
  }
  const time = computeEventTime(
    { receivedAtMs: facts.receivedAtMs, sentAtMs: facts.sentAtMs, clientTimeMs },
    facts.options,
  );
  if (!time.ok) return reject(time.code, time.message);

  const flags: string[] = [];
  if (time.futureClamped) flags.push(FLAGS.futureClamped);

  let properties: Record<string, unknown> = {};
  const rawProperties = raw.properties as Record<string, unknown> | null | undefined;
  if (rawProperties != null) {
    const p = sanitizeJsonObject(rawProperties, "properties");
    if (!p.ok) return reject(p.code, p.message);
    properties = p.value;
    if (p.dropped) flags.push(FLAGS.unsafeKeysDropped);
    if (p.cleaned) flags.push(FLAGS.textCleaned);
  }
  let deviceInfo: Record<string, unknown> | null = null;
  const rawDevice = (raw.device_info ?? raw.deviceInfo) as Record<string, unknown> | null | undefined;
  if (rawDevice != null) {
    const d = sanitizeJsonObject(rawDevice, raw.device_info != null ? "device_info" : "deviceInfo");
    if (!d.ok) return reject(d.code, d.message);
    deviceInfo = d.value;
    if (d.dropped && !flags.includes(FLAGS.unsafeKeysDropped)) flags.push(FLAGS.unsafeKeysDropped);
    if (d.cleaned && !flags.includes(FLAGS.textCleaned)) flags.push(FLAGS.textCleaned);
  }

  const rawPage = emptyToNull(pageUrlRaw.value);
  const rawReferrer = emptyToNull(event.referrer ?? null);
  let pageUrl: string | null = null;
  if (rawPage !== null) {
    pageUrl = scrubCached(rawPage, facts);
    if (pageUrl === null) flags.push(FLAGS.invalidPageUrl);
    else if (pageUrl.length > MAX_URL_LENGTH) {
      return reject("too_large", `page_url: ${pageUrl.length} characters after scrubbing exceeds ${MAX_URL_LENGTH} (MAX_URL_LENGTH)`);
    }
  }
  const urlIssue = unstorableField("page_url", pageUrl);
  if (urlIssue !== null) return reject("invalid_field", urlIssue);
  let referrer: string | null = null;
  if (rawReferrer !== null) {
    referrer = scrubCached(rawReferrer, facts);
    if (referrer === null) flags.push(FLAGS.invalidReferrer);
    else if (referrer.length > MAX_URL_LENGTH) {
      return reject("too_large", `referrer: ${referrer.length} characters after scrubbing exceeds ${MAX_URL_LENGTH} (MAX_URL_LENGTH)`);
    }
  }

  // Scrubbing percent-encodes NUL and surrogates; with SCRUB_QUERY_STRINGS off the URL is kept as sent.
  const referrerIssue = unstorableField("referrer", referrer);
  if (referrerIssue !== null) return reject("invalid_field", referrerIssue);

  const ua = userAgentOf(deviceInfo) ?? facts.requestUserAgent;
  if (ua !== null && isBotMemo(ua)) flags.push(FLAGS.bot);

  const userId = emptyToNull(user.value);
  const sessionId = emptyToNull(session.value);
  const dims = deriveDimensions({ pageUrl, referrer, userAgent: ua, country: facts.country }, facts.dimensionCaches);
  // Every field written out (no spread): one object of a stable shape per event, the hot path's
  // largest allocation. event_id first, as stored; prepareBatch fills it in.
  const row: EventRow = {
    event_id: "",
    time: time.timeMs === facts.receivedAtMs ? facts.receivedAtIso : new Date(time.timeMs).toISOString(),
    event_name: name.value,
    category: event.category,
    user_id: userId,
    session_id: sessionId,
    properties,
    device_info: deviceInfo,
    page_url: pageUrl,
    referrer,
    received_at: facts.receivedAtIso,
    client_time:
      clientTimeMs === null
        ? null
        : typeof event.timestamp === "string" && CANONICAL_ISO.test(event.timestamp)
          ? event.timestamp
          : new Date(clientTimeMs).toISOString(),
    skew_ms: time.skewMs,
    flags,
    country: dims.country,
    device_class: dims.device_class,
    browser: dims.browser,
    os: dims.os,
    page_path: dims.page_path,
    page_host: dims.page_host,
    referrer_host: dims.referrer_host,
    utm_source: dims.utm_source,
    utm_medium: dims.utm_medium,
    utm_campaign: dims.utm_campaign,
  };
  const idSource: EventIdSource | null =
    clientEventId !== null
      ? null
      : {
          event_name: name.value,
          category: event.category,
          timestamp: event.timestamp ?? null,
          user_id: userId,
          session_id: sessionId,
          properties,
          device_info: deviceInfo,
          page_url: rawPage,
          referrer: rawReferrer,
        };
  return { ok: true, row, clientEventId, idSource };
}
