/** Longest wait between attempts, and for any single `Retry-After` (a day; longer would overflow `setTimeout` sooner or later). */
const MAX_BACKOFF_MS = 60_000;
const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * Delay before retry number `attempt` (1, 2, …): exponential from one second, capped at a
 * minute, with "equal jitter" — a random point in the upper half — so that many clients cut off
 * by the same outage do not come back in step, yet each waits at least half the nominal delay.
 */
export const backoffDelay = (attempt: number, random = Math.random()): number => {
  const d = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (attempt - 1));
  return d / 2 + (random * d) / 2;
};

/** Milliseconds a `Retry-After` header asks for (RFC 9110 §10.2.3: seconds or an HTTP date); 0 when absent or unreadable. */
export const retryAfterDelay = (header: string | null | undefined, now = Date.now()): number => {
  if (!header) return 0;
  const seconds = +header;
  const ms = seconds >= 0 ? seconds * 1000 : Date.parse(header) - now;
  return Math.min(MAX_RETRY_AFTER_MS, ms > 0 ? ms : 0);
};
