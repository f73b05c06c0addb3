import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app";
import { ApiError } from "../errors";
import { errorSummary } from "../error-text";
import { logEvent } from "../log";
import { METRICS, isolateLatency } from "../metrics/latency";
import { isPostgresError } from "../storage/clients";

/** How long a dashboard should wait before asking again after a store was unreachable. */
const RETRY_AFTER_SECONDS = 10;

/**
 * Which store an error says is unreachable, or null when it is something else (a bug, a SQL error
 * on the data). Both PostgreSQL paths wrap every failure (Neon's NeonDbError, the Hyperdrive path's
 * PostgresTcpError); a SQL error carries a SQLSTATE, and only classes 08 (connection), 53
 * (insufficient resources: too many connections, out of memory) and 57 (statement timeout 57014,
 * admin shutdown 57P01, cancel) mean "down"; a failure without one (refused, reset, no answer)
 * means "down" too. Otherwise an error whose
 * text says the connection failed (fetch failed, network lost, refused, timed out) comes from the
 * Upstash client; a Redis error reply (a bug) does not match and stays a 500.
 */
export function unreachableStore(error: unknown): "redis" | "postgres" | null {
  if (error instanceof ApiError) return null;
  const name = (error as { name?: unknown } | null)?.name;
  const code = (error as { code?: unknown } | null)?.code;
  const text = error instanceof Error ? error.message : String(error);
  if (isPostgresError(error)) {
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return /^(08|53|57)/.test(code) ? "postgres" : null;
    return "postgres";
  }
  if (/fetch failed|network|connect|reach|timed? ?out|abort|socket|ECONN/i.test(`${String(name)} ${text}`)) return "redis";
  return null;
}

/** The read API's answer when a store does not answer: 503 storage_unavailable, in words. */
export function storageUnavailable(store: "redis" | "postgres", cause: unknown): ApiError {
  const what = store === "redis" ? "Redis (the live counters and the buffer)" : "PostgreSQL (the stored events, rollups and checks)";
  return new ApiError(503, "storage_unavailable", `${what} did not answer, so this read cannot be served right now.`, {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
    details: { store },
    cause,
  });
}

/**
 * The app's error boundary asks this first for a read route (GET under /api/v1/analytics): one
 * whose store did not answer becomes 503 storage_unavailable, logged as a warning; null for
 * anything else, which stays the boundary's own (a 500 is a bug, and only a bug is logged as
 * `unhandled`).
 */
export function readStoreFailure(path: string, error: unknown): Response | null {
  const store = unreachableStore(error);
  return store === null ? null : readUnavailable(store, path, error).getResponse();
}

/** {@link storageUnavailable} for a read of `path`, logged as the warning `read_store_unreachable`. */
export function readUnavailable(store: "redis" | "postgres", path: string, cause: unknown): ApiError {
  logEvent("warn", "read_store_unreachable", { store, path, error: errorSummary(cause) });
  return storageUnavailable(store, cause);
}

/**
 * Around every read route (GET under /api/v1/analytics): times each successful answer as
 * `read:<path>` (kept in memory and written with the next insert; see src/metrics). A failed one
 * was already answered by the error boundary (see {@link readStoreFailure}).
 */
export const observeReads: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method !== "GET") return next();
  const started = performance.now();
  await next();
  if (c.error === undefined && c.res.status === 200) isolateLatency.record(METRICS.read(c.req.path), performance.now() - started);
};
