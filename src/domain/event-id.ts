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

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
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

/**
 * JSON with object keys sorted (by UTF-16 code units, locale-independent) at every level, so that
 * key order, which JSON does not define, cannot change an id. Arrays keep their order.
 *
 * @example canonicalJson({ b: 1, a: [2, { d: 1, c: 0 }] }) // → '{"a":[2,{"c":0,"d":1}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonicalJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * Formats 16 bytes as an RFC 9562 version-8 ("custom") UUID: version nibble 8, variant bits 10.
 * The remaining 122 bits come from the hash, so collisions are as unlikely as for UUIDv4.
 */
export function formatUuidV8(bytes: Uint8Array): string {
  const b = (i: number) => HEX[i === 6 ? (bytes[6]! & 0x0f) | 0x80 : i === 8 ? (bytes[8]! & 0x3f) | 0x80 : bytes[i]!]!;
  return (
    b(0) + b(1) + b(2) + b(3) + "-" + b(4) + b(5) + "-" + b(6) + b(7) + "-" + b(8) + b(9) + "-" +
    b(10) + b(11) + b(12) + b(13) + b(14) + b(15)
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
  const digest = await crypto.subtle.digest("SHA-256", ENCODER.encode(canonicalEventString(source)));
  return formatUuidV8(new Uint8Array(digest, 0, 16));
}
