/** The Cache-Control rule of the read API: what may be kept, for how long, and by whom. */
import { MAX_EVENT_AGE_MS } from "../domain/limits";
import { DAY_MS } from "../time";
import type { TimeRange } from "./range";

/** Late events are accepted up to MAX_EVENT_AGE_MS (7 days) after the fact (ingest's `too_old`); a
 * range that ended a day longer ago than that cannot change any more, except by retention. */
const SETTLED_AFTER_MS = MAX_EVENT_AGE_MS + DAY_MS;

/** What an answer that must never be reused carries (live figures, rows a later run appends to). */
export const NO_STORE = "no-store";

/**
 * The Cache-Control of an answer over stored buckets. Only a range that is fully closed and has no
 * dirty bucket may be kept: for 5 minutes, or a day once the range ended beyond the ingest window
 * (events older than 7 days are refused, so only retention can change it). `private`: the answer
 * was fetched with the bearer token, so only the dashboard's own cache may keep it, never a shared
 * cache that could hand it to a request without the token.
 */
export function cacheControl(clean: boolean, range: TimeRange, now: Date): string {
  if (!clean) return NO_STORE;
  return range.to.getTime() <= now.getTime() - SETTLED_AFTER_MS ? "private, max-age=86400" : "private, max-age=300";
}

/** The documented header of an answer whose Cache-Control comes from `cacheControl`. */
export const cacheHeader = {
  "Cache-Control": {
    description: "`private, max-age=300` (or `86400` once the range is beyond the 7-day late-event window) when every bucket is closed and clean; `no-store` otherwise.",
    schema: { type: "string" as const },
  },
};

/**
 * Sets Cache-Control. A cacheable answer (`private`, see cacheControl) also varies by
 * Authorization, so even a private cache does not reuse it for another token.
 */
export function setCache(c: { header(name: string, value: string): void }, value: string) {
  c.header("Cache-Control", value);
  if (value !== NO_STORE) c.header("Vary", "Authorization");
}
