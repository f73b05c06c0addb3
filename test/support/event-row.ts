/** The one EventRow factory of the tests: plain defaults, and what a test cares about on top. */
import type { EventRow } from "../../src/domain/event";

/**
 * A stored event row: a random event_id, `time` now (received at the same instant), a page_view
 * with nothing else set; `over` replaces any column.
 */
export function eventRow(over: Partial<EventRow> = {}): EventRow {
  const time = over.time ?? new Date().toISOString();
  return {
    event_id: crypto.randomUUID(),
    time,
    event_name: "page_view",
    category: "navigation",
    user_id: null,
    session_id: null,
    properties: {},
    device_info: null,
    page_url: null,
    referrer: null,
    received_at: time,
    client_time: null,
    skew_ms: 0,
    flags: [],
    ...over,
  };
}

/** A UUID (version-4 shape) drawn from `rand`, for fixtures that must be the same on every run. */
export function seededUuid(rand: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
