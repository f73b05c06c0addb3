import type { EventDimensions } from "./dimensions";

/**
 * One accepted, normalised event: the shape written to the write-ahead buffer and inserted into
 * `analytics_events_ts`. Every field is JSON-safe so the buffer entry is plain JSON.
 */
export interface EventRow extends Partial<EventDimensions> {
  // The dimensions (domain/dimensions.ts) are optional only because buffer entries and dead
  // letters written by an older worker lack them; the database stores null for a missing one.
  /** UUID. Supplied by the client, or derived from the event's content (see domain/event-id.ts). */
  event_id: string;
  /** Event time after clock-skew correction and future clamping, ISO-8601 UTC. Bucketed by rollups. */
  time: string;
  event_name: string;
  category: string;
  user_id: string | null;
  session_id: string | null;
  properties: Record<string, unknown>;
  device_info: Record<string, unknown> | null;
  /** Scrubbed: query string reduced to the allowed parameters, no fragment. */
  page_url: string | null;
  referrer: string | null;
  /** When the worker received the batch, ISO-8601 UTC. */
  received_at: string;
  /** The timestamp exactly as the client stated it (ISO-8601 UTC), or null when it sent none. */
  client_time: string | null;
  /** received_at − sent_at in milliseconds (the client's clock offset), or 0 without sent_at. */
  skew_ms: number;
  /** Markers such as "future_clamped" and "bot"; empty when nothing was noteworthy. */
  flags: string[];
  /**
   * The anonymous visitor: a salted hash that changes every UTC day (domain/visitor.ts), set by the
   * ingest script in Redis; null without a client address or when Redis was down. Absent in rows
   * written before it existed (buffer entries of an older worker, dead letters).
   */
  visitor_id?: string | null;
}

