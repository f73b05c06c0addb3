/**
 * The domain entry point of ingestion: from a parsed JSON body to accepted rows, per-event
 * rejections and in-batch duplicates. No I/O, no clock: `receivedAt` is passed in.
 */
import { BatchRejected } from "./batch-rejected";
import { newDimensionCaches } from "./dimensions";
import type { EventRow } from "./event";
import { v7 as uuidv7 } from "uuid";
import { deriveEventIds, type EventIdSource } from "./event-id";
import { acceptedAsIs, EnvelopeMetaSchema, type EventInput, EventSchema, type RejectionCode } from "./event-schema";
import { MAX_BATCH_EVENTS, MAX_EVENT_BYTES } from "./limits";
import { type BatchFacts, DEFAULT_NORMALIZE_OPTIONS, FLAGS, type NormalizeOptions, normalizeEvent, parseClientTime } from "./normalize";

/** Options for {@link prepareBatch}; every field defaults (see DEFAULT_NORMALIZE_OPTIONS). */
export type IngestOptions = NormalizeOptions;
export const DEFAULT_INGEST_OPTIONS: IngestOptions = DEFAULT_NORMALIZE_OPTIONS;

export interface PrepareBatchContext {
  /** When the worker received the request (the only clock reading; taken by the route). */
  receivedAt: Date;
  /** The request's User-Agent header; used for bot flagging when device_info has no user agent. */
  userAgent?: string | null;
  /** The client's country as Cloudflare reports it (`request.cf.country`); absent locally. */
  country?: string | null;
  /** Overrides of {@link DEFAULT_INGEST_OPTIONS}. */
  options?: Partial<IngestOptions>;
  /**
   * UTF-8 size of the decoded body (`ParsedBody.bytes` from readJsonBody). When it is at most
   * MAX_EVENT_BYTES no event can be larger, and the per-event size check (a JSON.stringify per
   * event) is skipped. Omit it to always check.
   */
  bodyBytes?: number;
  /** Most events one batch may hold. @default MAX_BATCH_EVENTS (the import endpoint allows more) */
  maxEvents?: number;
}

/** One event refused by index; the rest of the batch is unaffected. */
export interface RejectedEvent {
  index: number;
  code: RejectionCode;
  message: string;
}

/** The outcome for every event of a batch. */
export interface PreparedBatch {
  /** Accepted rows, in batch order. */
  rows: EventRow[];
  /** `rowIndexes[i]` is the batch index of `rows[i]`. */
  rowIndexes: number[];
  /** Refused events, by index, in batch order. */
  rejected: RejectedEvent[];
  /**
   * Indexes of events whose event_id already occurred earlier in this batch (code
   * `duplicate_in_batch`): counted as duplicates, not rejections, and not in `rows`.
   */
  duplicateIndexes: number[];
  /** The body's write_key/writeKey, or null. Checking it is the route's job. */
  writeKey: string | null;
  /** The body's sent_at as ISO-8601 UTC, or null. */
  sentAt: string | null;
  /** Number of events in the body: rows + rejected + duplicateIndexes. */
  eventCount: number;
}

/** Reason code recorded for in-batch duplicates (they go to `duplicateIndexes`, not `rejected`). */
export const DUPLICATE_IN_BATCH = "duplicate_in_batch";

const ENCODER = new TextEncoder();
/** Reused for measuring UTF-8 sizes without allocating: +4 so that an event exactly at the limit
 * fits and one more character (≤ 4 bytes) shows the overflow. Safe to share: used synchronously. */
const SIZE_SCRATCH = new Uint8Array(MAX_EVENT_BYTES + 4);

/**
 * Whether an event's compact JSON is over MAX_EVENT_BYTES in UTF-8. A string of n UTF-16 units
 * has between n and 3n UTF-8 bytes, so only events near the limit are encoded (into a reused
 * buffer, no allocation).
 */
export function exceedsEventBytes(json: string): boolean {
  if (json.length > MAX_EVENT_BYTES) return true;
  if (json.length * 3 <= MAX_EVENT_BYTES) return false;
  const { read, written } = ENCODER.encodeInto(json, SIZE_SCRATCH);
  return read < json.length || written > MAX_EVENT_BYTES;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out === "" ? "event" : out;
}

/** zod issue → (code, message naming the field). String overflows are `too_large`. */
function rejectionFromZod(issue: { code: string; path: readonly PropertyKey[]; message: string; origin?: unknown }): {
  code: RejectionCode;
  message: string;
} {
  const code: RejectionCode = issue.code === "too_big" && issue.origin === "string" ? "too_large" : "invalid_field";
  return { code, message: `${formatPath(issue.path)}: ${issue.message}` };
}

/** Reads the envelope: the event array plus sent_at/write_key. Throws 400/413/422. */
function readEnvelope(body: unknown, maxEvents: number): { events: unknown[]; sentAtRaw: string | number | null; writeKey: string | null } {
  let events: unknown[];
  let sentAtRaw: string | number | null = null;
  let writeKey: string | null = null;
  if (Array.isArray(body)) {
    events = body;
  } else if (isPlainObject(body)) {
    const list = body.events;
    if (!Array.isArray(list)) {
      throw new BatchRejected("invalid_body", "events: required, must be an array of events (or send a bare array)");
    }
    events = list;
  } else {
    throw new BatchRejected("invalid_body", "body must be a JSON object with an `events` array, or an array of events");
  }
  // Count before any per-event work: a 10,000-event body must cost nothing more than its parse.
  if (events.length > maxEvents) {
    const limit = maxEvents === MAX_BATCH_EVENTS ? `${MAX_BATCH_EVENTS} (MAX_BATCH_EVENTS)` : String(maxEvents);
    throw new BatchRejected("too_many_events", `batch has ${events.length} events; at most ${limit} are accepted`);
  }
  if (events.length === 0) throw new BatchRejected("empty_batch", "batch contains no events");
  if (!Array.isArray(body)) {
    const meta = EnvelopeMetaSchema.safeParse(body);
    if (!meta.success) {
      const issue = meta.error.issues[0]!;
      throw new BatchRejected("invalid_body", `${formatPath(issue.path)}: ${issue.message}`);
    }
    const m = meta.data;
    if (m.sent_at != null && m.sentAt != null && m.sent_at !== m.sentAt) {
      throw new BatchRejected("invalid_body", "sent_at: conflicts with sentAt; send one of them");
    }
    if (m.write_key != null && m.writeKey != null && m.write_key !== m.writeKey) {
      throw new BatchRejected("invalid_body", "write_key: conflicts with writeKey; send one of them");
    }
    sentAtRaw = m.sent_at ?? m.sentAt ?? null;
    writeKey = m.write_key ?? m.writeKey ?? null;
  }
  return { events, sentAtRaw, writeKey };
}

interface Candidate {
  index: number;
  row: EventRow;
  clientEventId: string | null;
  idSource: EventIdSource | null;
}

/**
 * Validates and normalises a batch. Request-level problems throw a `BatchRejected` (the HTTP edge maps it); event-level
 * problems become entries of `rejected` and never fail the batch. Every event ends up in exactly
 * one of `rows`, `rejected` or `duplicateIndexes`.
 *
 * Throws: 400 `invalid_body` (not an object/array, `events` not an array, bad sent_at/write_key),
 * 413 `too_many_events` (> MAX_BATCH_EVENTS), 422 `empty_batch`.
 * Rejection codes: `invalid_field`, `too_large`, `too_old`, `too_far_in_future`.
 *
 * @example
 * const body = await readJsonBody(c.req.raw);
 * const batch = await prepareBatch(body.value, {
 *   receivedAt: new Date(),
 *   userAgent: c.req.header("user-agent"),
 *   bodyBytes: body.bytes,
 * });
 * const plan = planCounters(batch.rows);
 */
export async function prepareBatch(body: unknown, ctx: PrepareBatchContext): Promise<PreparedBatch> {
  const { events, sentAtRaw, writeKey } = readEnvelope(body, ctx.maxEvents ?? MAX_BATCH_EVENTS);
  const receivedAtMs = ctx.receivedAt.getTime();
  if (Number.isNaN(receivedAtMs)) throw new TypeError("prepareBatch: receivedAt is an invalid Date");

  let sentAtMs: number | null = null;
  if (sentAtRaw !== null) {
    const t = parseClientTime(sentAtRaw);
    if (typeof t === "string") throw new BatchRejected("invalid_body", `sent_at: ${t}`);
    sentAtMs = t;
  }
  const options = ctx.options ? { ...DEFAULT_INGEST_OPTIONS, ...ctx.options } : DEFAULT_INGEST_OPTIONS;
  const facts: BatchFacts = {
    receivedAtMs,
    receivedAtIso: ctx.receivedAt.toISOString(),
    sentAtMs,
    requestUserAgent: ctx.userAgent || null,
    country: ctx.country ?? null,
    dimensionCaches: newDimensionCaches(),
    options,
    urlCache: new Map(),
    nameCache: new Map(),
  };
  const checkEventBytes = !(ctx.bodyBytes !== undefined && ctx.bodyBytes <= MAX_EVENT_BYTES);

  const rejected: RejectedEvent[] = [];
  const candidates: Candidate[] = [];
  for (let index = 0; index < events.length; index++) {
    const raw = events[index];
    if (!isPlainObject(raw)) {
      rejected.push({ index, code: "invalid_field", message: "event: must be a JSON object" });
      continue;
    }
    let tooLarge = false;
    if (checkEventBytes) {
      try {
        tooLarge = exceedsEventBytes(JSON.stringify(raw));
      } catch {
        // JSON.stringify recurses; JSON.parse does not. Absurd nesting overflows the stack here.
        tooLarge = true;
      }
    }
    if (tooLarge) {
      rejected.push({ index, code: "too_large", message: `event: larger than ${MAX_EVENT_BYTES} bytes of JSON (MAX_EVENT_BYTES)` });
      continue;
    }
    let event: EventInput;
    if (acceptedAsIs(raw)) event = raw as EventInput;
    else {
      const parsed = EventSchema.safeParse(raw);
      if (!parsed.success) {
        rejected.push({ index, ...rejectionFromZod(parsed.error.issues[0]!) });
        continue;
      }
      event = parsed.data;
    }
    const outcome = normalizeEvent(event, raw, facts);
    if (!outcome.ok) {
      rejected.push({ index, code: outcome.code, message: outcome.message });
      continue;
    }
    candidates.push({ index, row: outcome.row, clientEventId: outcome.clientEventId, idSource: outcome.idSource });
  }

  // Without event_id and timestamp nothing tells two identical clicks apart from one click sent
  // twice, so each receipt is a new event (fresh UUIDv7). With a timestamp, the id is derived from
  // the event's content, so a resend of it (new sent_at) gets the same id.
  const derived: (string | null)[] = new Array(candidates.length).fill(null);
  const toDerive: number[] = [];
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (c.clientEventId !== null) continue;
    if (c.idSource!.timestamp === null) derived[i] = uuidv7();
    else toDerive.push(i);
  }
  if (toDerive.length > 0) {
    const ids = await deriveEventIds(toDerive.map((i) => candidates[i]!.idSource!));
    for (let k = 0; k < toDerive.length; k++) derived[toDerive[k]!] = ids[k]!;
  }

  const rows: EventRow[] = [];
  const rowIndexes: number[] = [];
  const duplicateIndexes: number[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    const eventId = c.clientEventId ?? derived[i]!;
    if (seen.has(eventId)) {
      duplicateIndexes.push(c.index);
      continue;
    }
    seen.add(eventId);
    if (c.clientEventId === null) c.row.flags.push(c.idSource!.timestamp === null ? FLAGS.serverId : FLAGS.derivedId);
    c.row.event_id = eventId;
    rows.push(c.row);
    rowIndexes.push(c.index);
  }
  return {
    rows,
    rowIndexes,
    rejected,
    duplicateIndexes,
    writeKey,
    sentAt: sentAtMs === null ? null : new Date(sentAtMs).toISOString(),
    eventCount: events.length,
  };
}

