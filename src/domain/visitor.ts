/**
 * Anonymous visitors without cookies (the approach Plausible documents): a visitor id is
 * `hash(daily salt ‖ hash(site ‖ client address ‖ User-Agent))`, truncated to 64 bits. The salt is
 * random, created in Redis by the first batch of each UTC day and expiring when that day ends; it
 * is never written to PostgreSQL or to a log. So within a day the same address and browser on the
 * same site count as one visitor, and once the salt is gone nobody (the operator included) can
 * recompute a day's ids from an address, nor link the ids of two days: they were made with two
 * random salts of which neither exists any more.
 *
 * The worker hashes the site, address and User-Agent here (the address never leaves the worker),
 * and the ingest script (storage/lua/ingest.ts) salts that hash with the day's salt in the same
 * Redis round trip as the rest of the batch. Web-standard crypto only.
 */
import { hex, sha256 } from "../http/digest";
import { DAY_MS } from "../time";

/** Bytes of randomness in a day's salt. */
const SALT_BYTES = 16;
/** What separates the hashed parts: none of a host, an address or a header value holds a newline. */
const SEPARATOR = "\n";

/**
 * The unsalted part of a visitor id for one site (the page's host; "" without one), the client's
 * address (`CF-Connecting-IP`) and its User-Agent header: SHA-256, hex. Only ever sent to the
 * ingest script, which salts it; never stored.
 */
export async function visitorKey(site: string | null, address: string, userAgent: string | null): Promise<string> {
  return hex(await sha256([site ?? "", address, userAgent ?? ""].join(SEPARATOR)));
}

/** A fresh random salt (hex); the ingest script keeps it only if the day has none yet. */
export function saltCandidate(): string {
  return hex(crypto.getRandomValues(new Uint8Array(SALT_BYTES)));
}

/** The UTC day a batch received at `now` takes its salt from: its id and when the salt expires. */
export function saltDay(now: Date): { day: string; expiresAtMs: number } {
  const start = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return { day: new Date(start).toISOString().slice(0, 10), expiresAtMs: start + DAY_MS };
}
