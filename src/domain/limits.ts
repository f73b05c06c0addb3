/**
 * Every ingestion limit, in one place, with the reason for its value. They are checked in the
 * order that spends the least work on a bad request: Content-Length → bytes read off the wire →
 * bytes inflated → event count → per-event size → per-field rules.
 *
 * Request-level limits (body bytes, event count) fail the whole request with 413 and the limit in
 * the message. Per-event limits (event bytes, property shape, string lengths) reject that event
 * alone with code `too_large`; the rest of the batch is still ingested.
 *
 * String lengths are counted in UTF-16 code units (JavaScript `string.length`), byte sizes in
 * UTF-8 bytes.
 */

import { DAY_MS, HOUR_MS } from "../time";

const KiB = 1024;

/**
 * Request body bytes as sent on the wire (compressed or not). Checked against Content-Length
 * before reading and again while reading. 50 events of a realistic ~300 B each are ~15 KB, so
 * 512 KiB leaves room for rich properties while bounding memory and `JSON.parse` CPU (Segment caps
 * batches at 500 KB).
 */
export const MAX_BODY_BYTES = 512 * KiB;

/**
 * How much of an oversized body is still read (and dropped) before the 413 is sent, so the client
 * finishes its upload and reads the answer (see readBodyBytes); past this the stream is
 * cancelled. 8 MiB is 16 times the body cap: a misconfigured client's large batch is drained, an
 * endless upload is not.
 */
export const MAX_DRAINED_BYTES = 8 * 1024 * KiB;

/**
 * Body bytes after gzip inflation. Equal to the wire cap: a JSON document costs the same CPU to
 * parse however it travelled, so compression must not buy a client a larger batch. Enforced while
 * inflating, so a gzip bomb is stopped after at most this much (plus one input slice) is expanded.
 */
export const MAX_INFLATED_BODY_BYTES = 512 * KiB;

/**
 * Compressed bytes fed to the inflater per step. workerd's `DecompressionStream` inflates a whole
 * written chunk eagerly (it does not wait for the reader), and deflate expands at most ~1032:1, so
 * 1 KiB slices bound the memory one step can allocate to ~1 MiB.
 */
export const INFLATE_SLICE_BYTES = 1 * KiB;

/** Events per request: the tracker batches at most 50 (legacy contract), and one Redis script
 * and one SQL statement per batch stay small at this size. */
export const MAX_BATCH_EVENTS = 50;

/** Events per `POST /api/v1/import` request (server-side history): one SQL statement per batch
 * stays well under a second at this size. */
export const MAX_IMPORT_EVENTS = 1_000;

/** Bytes of an import request body, on the wire and inflated: 1,000 events of ~5 KiB. */
export const MAX_IMPORT_BODY_BYTES = 5 * 1024 * KiB;

/**
 * UTF-8 bytes of one event's compact JSON as received. Segment and RudderStack drop events over
 * 32 KB; an analytics event bigger than that is almost always an accidental dump (a whole DOM
 * node, a redux store) that would bloat every row and the Redis buffer.
 */
export const MAX_EVENT_BYTES = 32 * KiB;

/**
 * Nesting depth of `properties` and `device_info`: the object itself is depth 1, so
 * `{ a: { b: { c: { d: { e: 1 } } } } }` (5 containers) is the deepest accepted. Deeper data is
 * unqueryable in dashboards and a recursion hazard for every consumer.
 */
export const MAX_OBJECT_DEPTH = 5;

/** Keys across all nesting levels of `properties` (and separately of `device_info`): bounds the
 * jsonb width and the per-event walk; typical events have under 20. */
export const MAX_OBJECT_KEYS = 100;

/** Elements per array inside `properties`/`device_info`. Keeps arrays as lists of tags, not
 * time series. */
export const MAX_ARRAY_LENGTH = 100;

/** Length of one key inside `properties`/`device_info`. */
export const MAX_KEY_LENGTH = 128;

/** Length of one string value inside `properties`/`device_info` (a search query, a title, an
 * error message fit; a base64 image does not). */
export const MAX_STRING_VALUE_LENGTH = 4096;

/** `event_name` and `category`: they become Redis hash fields and rollup group keys, so they must
 * stay short identifiers. */
export const MAX_NAME_LENGTH = 128;

/** `user_id`, `session_id`, `write_key`: ids, not documents. 256 fits any UUID, hash or email. */
export const MAX_ID_LENGTH = 256;

/**
 * `page_url` and `referrer` after scrubbing (query reduced to the kept parameters, fragment
 * dropped). The raw value is bounded only by MAX_EVENT_BYTES so that a long tracking query we are
 * about to strip anyway does not cost the event.
 */
export const MAX_URL_LENGTH = 2048;

/**
 * How old an event's (corrected) time may be. Older events would land in rollup hours that the
 * hourly job has long closed and in Redis counters that have expired; 7 days also covers a mobile
 * app's offline queue over a long weekend. (Mixpanel drops at 5 days, Amplitude dedupes 7 days.)
 */
export const MAX_EVENT_AGE_MS = 7 * DAY_MS;

/**
 * How far in the future a corrected time may be and still be clamped to `received_at` (flagged
 * `future_clamped`) instead of rejected. Skew correction removes a wrong but steady device clock;
 * what remains is a clock changed between creating and sending (offline queue), or, without
 * `sent_at`, a device whose local time is sent as UTC: UTC offsets reach +14 h, plus DST, so 24 h
 * keeps every timezone mistake. Beyond that the timestamp is garbage (PostHog warns at 23 h).
 */
export const MAX_FUTURE_SKEW_MS = 24 * HOUR_MS;

/**
 * Smallest numeric `timestamp` taken as epoch milliseconds (1973-03-03). Anything below is almost
 * certainly epoch *seconds* (now ≈ 1.8e9) and is rejected with a message saying so instead of
 * silently landing in 1970 (PostHog's "epoch treated as ingestion time" complaint).
 */
export const MIN_EPOCH_MS = 100_000_000_000;
