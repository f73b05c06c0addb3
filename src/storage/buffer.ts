import type { EventRow } from "../domain/event";

/**
 * The write-ahead buffer entry format (one Redis stream entry per accepted batch, field `b`).
 * Versioned so a drain running newer code can still read entries written by older code.
 */
export const BUFFER_ENTRY_VERSION = 1;

/**
 * The entry's text around its rows: the ingest script joins the JSON of the rows it keeps (the
 * events not seen before) between these two.
 */
export const BUFFER_ENTRY_HEAD = `{"v":${BUFFER_ENTRY_VERSION},"rows":[`;
export const BUFFER_ENTRY_TAIL = "]}";

/**
 * How a row's JSON ends when the worker hands it to the ingest script: the script replaces the
 * `null` with the row's visitor id (it alone knows the day's salt) before buffering the row.
 */
export const VISITOR_PLACEHOLDER = ',"visitor_id":null}';

/** A row's JSON for the ingest script: without a visitor id, ending in VISITOR_PLACEHOLDER. */
export function rowAwaitingVisitor(row: EventRow): string {
  // JSON.stringify leaves out undefined values: a row from prepareBatch has no visitor id yet, and
  // is written as it is (copying a 25-field row to drop the key cost more than writing it).
  const json = JSON.stringify(row.visitor_id === undefined ? row : { ...row, visitor_id: undefined });
  return json.slice(0, -1) + VISITOR_PLACEHOLDER;
}

/** Serialises a batch's normalised rows for the buffer stream (what the ingest script writes). */
export function bufferPayload(rows: readonly EventRow[]): string {
  return BUFFER_ENTRY_HEAD + rows.map((row) => JSON.stringify(row)).join(",") + BUFFER_ENTRY_TAIL;
}
