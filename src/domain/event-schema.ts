import * as z from "../zod";
import { MAX_BATCH_EVENTS, MAX_ID_LENGTH, MAX_NAME_LENGTH } from "./limits";

/** Any RFC 9562 UUID (any version, any case): 8-4-4-4-12 hex digits. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const TIMESTAMP_HELP = "an ISO-8601 date-time with a timezone (e.g. 2026-11-26T07:00:00.000Z) or epoch milliseconds";

/** `event_id`: a client-generated UUID; the dedupe key. */
export const EventIdSchema = z
  .string()
  .regex(UUID_PATTERN, { error: "must be a UUID (8-4-4-4-12 hex digits)" })
  .describe(
    "Client-generated UUID, any version (v4 or v7 recommended); the exactly-once key. When absent and `timestamp` is present, the server derives a stable UUIDv8 from the event's content, so a resend of the same event gets the same id; with neither, every receipt is a new event.",
  );

/** `timestamp` / `sent_at`: ISO-8601 with a timezone, or epoch milliseconds. */
export const TimestampSchema = z
  .union([z.iso.datetime({ offset: true }), z.number()], { error: `must be ${TIMESTAMP_HELP}` })
  .describe(`When the event happened on the client: ${TIMESTAMP_HELP}.`);

/** Printable-name rules (no controls, format characters or blank) are checked in normalize.ts (text-rules.ts). */
const nameSchema = (what: string) =>
  z
    .string()
    .min(1, { error: "must not be empty" })
    .max(MAX_NAME_LENGTH, { error: `must be at most ${MAX_NAME_LENGTH} characters` })
    .describe(what);

const idSchema = (what: string) =>
  z
    .string()
    .max(MAX_ID_LENGTH, { error: `must be at most ${MAX_ID_LENGTH} characters` })
    .nullish()
    .describe(what);

/**
 * A JSON object of free-form data: `z.looseObject({})` documents as `{ type: "object" }` and, unlike
 * `z.record`, runs no schema per key (half the jitless CPU of the whole event, measured in workerd).
 * The shape limits (depth, keys, string lengths) and the removal of `__proto__`/`constructor`/
 * `prototype` keys happen in `normalize.ts`, in one walk over the raw object.
 */
const jsonObjectSchema = (what: string) => z.looseObject({}).nullish().describe(what);

const urlSchema = (what: string) => z.string().nullish().describe(what);

const alias = <T extends z.ZodType>(schema: T, of: string) =>
  schema.optional().meta({ description: `Alias of \`${of}\` (camelCase, as sent by TypeScript trackers).`, deprecated: true });

/**
 * One analytics event as a client sends it. Unknown top-level fields are ignored (put custom data
 * in `properties`). snake_case is canonical; the camelCase aliases are accepted, and giving both
 * spellings with different values rejects the event (`invalid_field`).
 *
 * Required: `event_name` (or `eventName`) and `category`. Checked in `normalizeEvent`, because an
 * "either spelling" requirement is not expressible per key.
 */
export const EventSchema = z
  .object({
    event_id: EventIdSchema.optional(),
    event_name: nameSchema("What happened, e.g. `page_view`, `asset_generated`. Required (or `eventName`).").optional(),
    category: nameSchema("Coarse grouping used by rollups, e.g. `navigation`, `engagement`. Required.").optional(),
    timestamp: TimestampSchema.optional(),
    user_id: idSchema("Your user id; null or absent for anonymous users. An empty string counts as absent."),
    session_id: idSchema("Session id, used for unique-session counts and the active-sessions view."),
    properties: jsonObjectSchema(
      "Free-form event data (≤ 5 levels deep, ≤ 100 keys in total, strings ≤ 4096 characters). Keys `__proto__`, `constructor` and `prototype` are dropped.",
    ),
    device_info: jsonObjectSchema(
      "Device data, e.g. `{ user_agent, screen, locale }`. `user_agent`/`userAgent` here takes precedence over the request's User-Agent for bot flagging.",
    ),
    page_url: urlSchema(
      "Page URL. Stored scrubbed: query reduced to `utm_*` and `ref`, fragment and credentials dropped; an unparseable URL is stored as null.",
    ),
    referrer: urlSchema("Referrer URL, scrubbed like `page_url`. An empty string counts as absent."),
    eventId: alias(EventIdSchema, "event_id"),
    eventName: alias(nameSchema("Alias of event_name."), "event_name"),
    userId: alias(idSchema("Alias of user_id."), "user_id"),
    sessionId: alias(idSchema("Alias of session_id."), "session_id"),
    deviceInfo: alias(jsonObjectSchema("Alias of device_info."), "device_info"),
    pageUrl: alias(urlSchema("Alias of page_url."), "page_url"),
  })
  .meta({ id: "AnalyticsEvent", description: "One analytics event as sent by a tracker." });

/** The input type of {@link EventSchema} after zod (aliases not yet resolved). */
export type EventInput = z.output<typeof EventSchema>;

/** A timestamp exactly as `Date.prototype.toISOString` writes it: what trackers send. */
const CANONICAL_TIMESTAMP = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

const isAbsent = (value: unknown): boolean => value === undefined;
const isOptionalName = (value: unknown): boolean =>
  value === undefined || (typeof value === "string" && value.length >= 1 && value.length <= MAX_NAME_LENGTH);
const isNullishId = (value: unknown): boolean =>
  value == null || (typeof value === "string" && value.length <= MAX_ID_LENGTH);
const isNullishObject = (value: unknown): boolean => value == null || (typeof value === "object" && !Array.isArray(value));

/**
 * Whether {@link EventSchema} certainly accepts `raw` and outputs its fields unchanged, decided
 * without running zod: true for the common event (snake_case fields of the expected types within
 * their limits, a UUID or no event_id, a `toISOString()` timestamp with a day ≤ 28 or epoch
 * milliseconds, no camelCase alias). Every other event, valid or not, goes through zod, which stays
 * the validator of record and writes every rejection message. zod's object parse costs ~2 µs per
 * event in workerd (a payload and a run per field), the largest share of a batch's CPU after the
 * URLs; this check ~0.1 µs. event-schema.test.ts holds it to zod over generated events.
 */
export function acceptedAsIs(raw: Record<string, unknown>): boolean {
  const id = raw.event_id;
  const timestamp = raw.timestamp;
  return (
    (id === undefined || (typeof id === "string" && UUID_PATTERN.test(id))) &&
    isOptionalName(raw.event_name) &&
    isOptionalName(raw.category) &&
    (timestamp === undefined ||
      (typeof timestamp === "number" ? Number.isFinite(timestamp) : typeof timestamp === "string" && CANONICAL_TIMESTAMP.test(timestamp))) &&
    isNullishId(raw.user_id) &&
    isNullishId(raw.session_id) &&
    isNullishObject(raw.properties) &&
    isNullishObject(raw.device_info) &&
    (raw.page_url == null || typeof raw.page_url === "string") &&
    (raw.referrer == null || typeof raw.referrer === "string") &&
    isAbsent(raw.eventId) &&
    isAbsent(raw.eventName) &&
    isAbsent(raw.userId) &&
    isAbsent(raw.sessionId) &&
    isAbsent(raw.deviceInfo) &&
    isAbsent(raw.pageUrl)
  );
}

/** `sent_at`: when the client sent the batch, by its own clock; used for skew correction. */
export const SentAtSchema = TimestampSchema.describe(
  `When the client sent this batch, by the client's clock (${TIMESTAMP_HELP}). Enables clock-skew correction: time = received_at − (sent_at − timestamp). Send a fresh value on every retry.`,
);

/** `write_key`: the project's public ingestion key, for transports that cannot set headers. */
export const WriteKeySchema = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(MAX_ID_LENGTH, { error: `must be at most ${MAX_ID_LENGTH} characters` })
  .describe("Public write key, for sendBeacon/keepalive requests that cannot set an Authorization header.");

/**
 * Envelope fields other than `events`, as parsed at run time (the events are validated one by one
 * so that one bad event does not fail the batch).
 */
export const EnvelopeMetaSchema = z.object({
  sent_at: SentAtSchema.optional(),
  sentAt: alias(SentAtSchema, "sent_at"),
  write_key: WriteKeySchema.optional(),
  writeKey: alias(WriteKeySchema, "write_key"),
});

/** The object form of the request body (for documentation; see {@link BatchBodySchema}). */
export const BatchEnvelopeSchema = EnvelopeMetaSchema.extend({
  events: z
    .array(EventSchema)
    .min(1)
    .max(MAX_BATCH_EVENTS)
    .describe(`1 to ${MAX_BATCH_EVENTS} events. Invalid events are rejected by index; the others are still accepted.`),
}).meta({ id: "AnalyticsBatch", description: "A batch of events with optional send time and write key." });

/**
 * The request body of `POST /api/v1/analytics`: the envelope object or a bare array of events.
 * Sent as `application/json` or `text/plain` (sendBeacon), optionally gzip-compressed.
 * Documentation only: the route validates through `prepareBatch`, which reports per event.
 */
export const BatchBodySchema = z.union([
  BatchEnvelopeSchema,
  z.array(EventSchema).min(1).max(MAX_BATCH_EVENTS).describe("A bare array of events (no sent_at, no write_key)."),
]);

/** Per-event rejection codes (see {@link RejectionSchema}). */
export const REJECTION_CODES = ["invalid_field", "too_large", "too_old", "too_far_in_future", "refused_by_database"] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

/** One rejected event in the 202 response. */
export const RejectionSchema = z
  .object({
    index: z.number().int().min(0).describe("Position of the event in the submitted batch."),
    code: z.enum(REJECTION_CODES).describe("Machine-readable reason."),
    message: z.string().describe("Human-readable reason naming the field and limit."),
  })
  .meta({ id: "RejectedEvent" });

/** The 202 response body: every event is accepted, a duplicate, or rejected. */
export const IngestResultSchema = z
  .object({
    accepted: z.number().int().min(0).describe("Events stored for the first time."),
    duplicates: z.number().int().min(0).describe("Events already received (same event_id), in this batch or before."),
    rejected: z.array(RejectionSchema),
  })
  .meta({ id: "IngestResult" });
