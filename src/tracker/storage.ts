import type { TrackerEvent, TrackerStats } from "./types";

/**
 * Everything the tracker keeps, as one JSON value under one `localStorage` key. The queue lives
 * here rather than in memory: every change is a read-modify-write within one task, so the tabs
 * of a site share one queue and never overwrite each other's events, and a reload finds what
 * the last page could not send. Field names are short because this is rewritten on every event.
 */
export interface State {
  /** Events not yet acknowledged, oldest first. */
  q: TrackerEvent[];
  /** Delivery counters. */
  c: TrackerStats;
  /** Session: id and time of the last event (ms). */
  s?: { i: string; t: number };
  /** User id from `identify`. */
  u?: string;
  /** Set after `optOut()`. */
  o?: 1;
  /** No request before this time (ms): backoff and `Retry-After`, honoured by every tab and the next page. */
  r?: number;
  /** Set when the wait in `r` was asked for by the server (429/5xx), not caused by a network error. */
  w?: 1;
}

export const emptyState = (): State => ({ q: [], c: { sent: 0, rejected: 0, dropped: 0, overflow: 0 } });

/**
 * Load and save {@link State}. When `localStorage` is missing, blocked or full, the state lives
 * in memory for the rest of the page (still delivered, just not across a reload).
 */
export function createStore(key: string) {
  let usable = true;
  let memory = emptyState();
  return {
    load(): State {
      try {
        if (usable) memory = { ...emptyState(), ...JSON.parse(localStorage.getItem(key) || "{}") };
      } catch (e) {
        // A corrupt value is overwritten by the next save; anything else means no storage here.
        if (!(e instanceof SyntaxError)) usable = false;
      }
      return memory;
    },
    save(state: State): void {
      memory = state;
      try {
        if (usable) localStorage.setItem(key, JSON.stringify(state));
      } catch {
        usable = false;
      }
    },
  };
}
