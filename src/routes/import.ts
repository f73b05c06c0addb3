import { Hono, type Context } from "hono";
import type { AppEnv } from "../app";
import { prepareBatch, type RejectedEvent } from "../domain/ingest-batch";
import { MAX_IMPORT_BODY_BYTES, MAX_IMPORT_EVENTS } from "../domain/limits";
import { urlScrubFromList } from "../domain/url-scrub";
import { ApiError } from "../errors";
import { readBody } from "../http/read-body";
import { findSecret } from "../http/secrets";
import { errorSummary } from "../error-text";
import { DAY_MS } from "../time";
import { logEvent } from "../log";

/** How long a client should wait after a 503 before retrying. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 10;
/**
 * The normaliser's age limit is lifted for imports: the database decides (raw retention, read by
 * `prepareImport`), so the limit follows `analytics_settings` without a second configuration.
 */
const IMPORT_MAX_AGE_MS = 100 * 365 * DAY_MS;
const BEARER = /^Bearer\s+(.+)$/i;

/** The import key of a request: `Authorization: Bearer <key>`, else `X-Import-Key`. */
function importKeyOf(c: Context<AppEnv>): string | null {
  const bearer = BEARER.exec(c.req.header("authorization") ?? "");
  return bearer?.[1]?.trim() ?? c.req.header("x-import-key") ?? null;
}

/**
 * `POST /api/v1/import`: up to 1,000 events of any age inside raw retention, from a server (key in
 * IMPORT_KEYS) → `202 { accepted, duplicates, rejected }`, the same body and per-event results as
 * ingest. Stored exactly once by event_id straight into PostgreSQL (two statements: prepare, then
 * insert); Redis and its real-time counters are never touched; the closed hours and days it touched
 * are marked dirty so the hourly job rebuilds their rollups.
 */
export const importRoute = new Hono<AppEnv>();

importRoute.post("/", async (c) => {
  const { config, imports } = c.var.services;
  const origin = c.req.header("origin");
  if (origin) {
    throw new ApiError(403, "origin_not_allowed", `Import keys are for servers: requests from a browser origin (${origin}) are refused.`);
  }
  const key = importKeyOf(c);
  if (!key) throw new ApiError(401, "missing_import_key", "An import key is required: Authorization: Bearer <key> or X-Import-Key.");
  if (!(await findSecret(key, config.IMPORT_KEYS))) {
    throw new ApiError(401, "invalid_import_key", "The import key is not valid (write keys and the read token are not import keys).");
  }

  const receivedAt = new Date();
  const body = await readBody(c.req.raw, { maxBodyBytes: MAX_IMPORT_BODY_BYTES, maxInflatedBytes: MAX_IMPORT_BODY_BYTES });
  const prepared = await prepareBatch(body.value, {
    receivedAt,
    bodyBytes: body.bytes,
    maxEvents: MAX_IMPORT_EVENTS,
    userAgent: c.req.header("user-agent") ?? null,
    options: { urlScrub: urlScrubFromList(config.SCRUB_QUERY_STRINGS, config.KEEP_QUERY_PARAMS), maxEventAgeMs: IMPORT_MAX_AGE_MS },
  });

  let rejected: RejectedEvent[] = prepared.rejected;
  let rows = prepared.rows;
  let inserted = 0;
  if (rows.length > 0) {
    try {
      const cutoff = await imports.prepare(rows.map((r) => r.time));
      const cutoffMs = Date.parse(cutoff);
      const tooOld: RejectedEvent[] = [];
      rows = rows.filter((row, i) => {
        if (Date.parse(row.time) >= cutoffMs) return true;
        tooOld.push({ index: prepared.rowIndexes[i]!, code: "too_old", message: `timestamp: older than raw retention (before ${cutoff})` });
        return false;
      });
      rejected = [...rejected, ...tooOld].sort((a, b) => a.index - b.index);
      if (rows.length > 0) {
        inserted = await imports.insert(rows);
      }
    } catch (error) {
      logEvent("error", "import_failed", { events: rows.length, error: errorSummary(error) });
      throw new ApiError(503, "storage_unavailable", "The database cannot take the import right now; nothing from this batch was stored.", {
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
      });
    }
  }
  if (rows.length === 0) {
    throw new ApiError(422, "no_valid_events", `None of the ${prepared.eventCount} events can be imported; see the per-event reasons.`, {
      details: { rejected },
    });
  }
  return c.json({ accepted: inserted, duplicates: rows.length - inserted + prepared.duplicateIndexes.length, rejected }, 202);
});
