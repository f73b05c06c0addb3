/**
 * Event ids: the exactly-once key. A client id is validated and lower-cased; without one, the id
 * is derived from the event's content as the client created it, so a resend (which carries a new
 * `sent_at`) gets the same id while the server-side time may differ.
 */
import { UUID_PATTERN } from "./event-schema";

const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const MAX_UUID = "ffffffff-ffff-ffff-ffff-ffffffffffff";

/** Version tag of the canonical form: change it only together with a plan for stored rows, since
 * changing it changes every derived id (and so breaks dedupe of resends across a deploy). */
const CANONICAL_VERSION = "eaw-event-v1";

/** The two lower-case hex digits of each byte value, as character codes: byte b at [2b] and [2b + 1]. */
const HEX_CODES = new Uint16Array(512);
for (let b = 0; b < 256; b++) {
  const hex = b.toString(16).padStart(2, "0");
  HEX_CODES[2 * b] = hex.charCodeAt(0);
  HEX_CODES[2 * b + 1] = hex.charCodeAt(1);
}
const DASH = 0x2d;
const ENCODER = new TextEncoder();

/**
 * Validates a client-supplied event id. Any UUID version is accepted and lower-cased so that
 * `ABC…` and `abc…` dedupe together; the nil and max UUIDs are refused because a tracker that
 * sends a constant would have every later event deduplicated away.
 *
 * @returns the lower-cased UUID, or `null` when it is not an acceptable id.
 * @example normalizeClientEventId("0190F3E2-…") // → "0190f3e2-…"
 */
export function normalizeClientEventId(id: string): string | null {
  if (!UUID_PATTERN.test(id)) return null;
  const lower = id.toLowerCase();
  return lower === NIL_UUID || lower === MAX_UUID ? null : lower;
}

/** The parts of an event, as the client sent them, that define its identity. */
export interface EventIdSource {
  event_name: string;
  category: string;
  /** The timestamp exactly as sent (string or number), not the corrected time. */
  timestamp: string | number | null;
  user_id: string | null;
  session_id: string | null;
  properties: Record<string, unknown>;
  device_info: Record<string, unknown> | null;
  /** Raw (unscrubbed) URLs, so that a change of scrub options does not change ids. */
  page_url: string | null;
  referrer: string | null;
}

/** How {@link canonicalJson} can write a value (see keyOrder). */
const enum KeyOrder {
  /** Every object's keys already in code-unit order: JSON.stringify writes the canonical form. */
  Sorted,
  /** Some keys out of order, none special: JSON.stringify of a copy with sorted keys. */
  Unsorted,
  /** A key that an object would not keep in insertion order (array-index keys such as "7" come
   * first, in numeric order) or could not hold as a plain key (`__proto__`): written key by key. */
  Special,
}

/** The worst KeyOrder within `value`. */
function keyOrder(value: unknown): KeyOrder {
  if (value === null || typeof value !== "object") return KeyOrder.Sorted;
  let worst = KeyOrder.Sorted;
  if (Array.isArray(value)) {
    for (const item of value) {
      const o = keyOrder(item);
      if (o === KeyOrder.Special) return o;
      if (o > worst) worst = o;
    }
    return worst;
  }
  let previous = "";
  for (const key of Object.keys(value)) {
    const c = key.charCodeAt(0);
    if ((c >= 48 && c <= 57) /* a digit */ || key === "__proto__") return KeyOrder.Special;
    if (key < previous) worst = KeyOrder.Unsorted;
    previous = key;
    const o = keyOrder((value as Record<string, unknown>)[key]);
    if (o === KeyOrder.Special) return o;
    if (o > worst) worst = o;
  }
  return worst;
}

/**
 * The keys of `record` in code-unit order, as `Object.keys(record).sort()` gives them. A few keys
 * (the usual properties object) are sorted in place by insertion: in workerd that is twice as fast
 * as Array.prototype.sort on 5 keys and allocates nothing, where sort's work arrays were the
 * largest single allocation of a derived-id batch (~45 KB of ~280 KB, sampling heap profile).
 */
function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/** `value` with every object's keys inserted in code-unit order (only for KeyOrder.Unsorted values). */
function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(sortedCopy);
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of sortedKeys(record)) out[key] = sortedCopy(record[key]);
  return out;
}

/** The key-by-key form of {@link canonicalJson}, for any value (the reference the fast paths equal). */
export function canonicalJsonByKey(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonicalJsonByKey(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${canonicalJsonByKey(v)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * JSON with object keys sorted (by UTF-16 code units, locale-independent) at every level, so that
 * key order, which JSON does not define, cannot change an id. Arrays keep their order.
 * Written by one native JSON.stringify where the keys allow (of the value, or of a copy with its
 * keys sorted), key by key otherwise; the output is the same either way (event-id.test.ts).
 *
 * @example canonicalJson({ b: 1, a: [2, { d: 1, c: 0 }] }) // → '{"a":[2,{"c":0,"d":1}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  switch (keyOrder(value)) {
    case KeyOrder.Sorted:
      return JSON.stringify(value) ?? "null";
    case KeyOrder.Unsorted:
      return JSON.stringify(sortedCopy(value));
    default:
      return canonicalJsonByKey(value);
  }
}

/**
 * Formats 16 bytes as an RFC 9562 version-8 ("custom") UUID: version nibble 8, variant bits 10.
 * The remaining 122 bits come from the hash, so collisions are as unlikely as for UUIDv4.
 */
export function formatUuidV8(bytes: Uint8Array): string {
  // One String.fromCharCode of the 36 character codes: concatenating 2-character pieces made a
  // chain of ~15 intermediate strings per id (~430 B of garbage), and was ~10 % slower in workerd.
  const byte = (i: number) => (i === 6 ? (bytes[6]! & 0x0f) | 0x80 : i === 8 ? (bytes[8]! & 0x3f) | 0x80 : bytes[i]!);
  const hi = (i: number) => HEX_CODES[2 * byte(i)]!;
  const lo = (i: number) => HEX_CODES[2 * byte(i) + 1]!;
  return String.fromCharCode(
    hi(0), lo(0), hi(1), lo(1), hi(2), lo(2), hi(3), lo(3), DASH,
    hi(4), lo(4), hi(5), lo(5), DASH,
    hi(6), lo(6), hi(7), lo(7), DASH,
    hi(8), lo(8), hi(9), lo(9), DASH,
    hi(10), lo(10), hi(11), lo(11), hi(12), lo(12), hi(13), lo(13), hi(14), lo(14), hi(15), lo(15),
  );
}

/** The exact string that is hashed for {@link deriveEventId} (exported for tests and debugging). */
export function canonicalEventString(source: EventIdSource): string {
  return canonicalJson([
    CANONICAL_VERSION,
    source.event_name,
    source.category,
    source.timestamp,
    source.user_id,
    source.session_id,
    source.properties,
    source.device_info,
    source.page_url,
    source.referrer,
  ]);
}

/**
 * Derives a stable event id: SHA-256 (Web Crypto) of {@link canonicalEventString}, first 16
 * bytes, formatted as a UUIDv8. Nothing from the envelope (`sent_at`, `write_key`) or the server
 * (`received_at`) is included, so every resend of the event gets the same id.
 *
 * Only used when the event has a `timestamp` (prepareBatch gives an event with neither id nor
 * timestamp a fresh id: each receipt is a new event). Two genuinely separate events with identical
 * content in the same millisecond still get the same id and are counted once. Rows with derived
 * ids carry the flag `derived_id` so this is inspectable.
 *
 * @example await deriveEventId({ event_name: "click", category: "ui", timestamp: 1764140400000, … })
 * // → "3b1f…-…-8…-[89ab]…-…"
 */
export async function deriveEventId(source: EventIdSource): Promise<string> {
  return (await deriveEventIds([source]))[0]!;
}

/**
 * {@link deriveEventId} for a whole batch, with the same output per event. The digests are all
 * started before the first is awaited and awaited once: in workerd each `crypto.subtle.digest`
 * costs a few µs of call and promise overhead beyond hashing ~400 bytes, and an `async` wrapper
 * per event added as much again (measured with `npm run bench -- --cpu`). Pure-JS SHA-256
 * (`@noble/hashes`, `fast-sha256`, `js-sha256`) was slower than Web Crypto there.
 *
 * @example await deriveEventIds([a, b]) // → [deriveEventId(a), deriveEventId(b)]
 */
export async function deriveEventIds(sources: readonly EventIdSource[]): Promise<string[]> {
  const texts = sources.map(canonicalEventString);
  // One buffer for the batch, each text encoded into its own range: in workerd an
  // `encode()` per event (a new ArrayBuffer each) cost 1–2 µs, `encodeInto` 0.2 µs. The ranges
  // never overlap, so no digest can read another's bytes, whenever it copies them.
  let capacity = 0;
  for (const text of texts) capacity += text.length * 3;
  const bytes = new Uint8Array(capacity);
  const subtle = crypto.subtle;
  const digests = new Array<Promise<ArrayBuffer>>(texts.length);
  let offset = 0;
  for (let i = 0; i < texts.length; i++) {
    const { written } = ENCODER.encodeInto(texts[i]!, bytes.subarray(offset));
    digests[i] = subtle.digest("SHA-256", bytes.subarray(offset, offset + written));
    offset += written;
  }
  const ids = await Promise.all(digests);
  return ids.map((digest) => formatUuidV8(new Uint8Array(digest, 0, 16)));
}
