import type { EventRow } from "../domain/event";
import { insertIsolatingRefusals, isDataError, isMissingPartition, refusedRowDeadLetter, type RefusedRow } from "../storage/refusals";
import type { Budget } from "./budget";
import type { BufferEntry, BufferPort, DeadLetter, EventSink } from "./ports";
import { UNTRACKED, type Progress } from "./runner";

/**
 * Tuning of the drain. Entries are batches of 1–50 events, so the read size adapts to the rows per
 * entry seen so far: about TARGET_ROWS_PER_READ rows per XRANGE, within [MIN, MAX] entries.
 */
export const DRAIN_LIMITS = {
  /** Entries in the first XRANGE of a run. */
  initialReadCount: 40,
  minReadCount: 20,
  /** Bounds the size of one Redis reply (500 B–25 KB per entry). */
  maxReadCount: 1_000,
  /**
   * Rows per XRANGE: ~1–1.5 MB of reply with realistic events. Upstash caps request and response
   * sizes per plan, and larger reads gave no more throughput. (Replies of 5–7 MB once seemed to
   * make local workerd leak sockets until a scheduled event never completed: that was wrangler's
   * inspector proxy, which the dev stack now leaves off; see scripts/lib/dev-stack.ts.)
   */
  targetRowsPerRead: 2_000,
  /** Rows in one INSERT_EVENTS statement (one JSON parameter of a few MB). */
  maxRowsPerInsert: 10_000,
  /**
   * Subrequests kept free when deciding to start another chunk: one read, two inserts, a few
   * bisection steps, the buffer delete, the run's closing statement.
   */
  chunkReserve: 24,
} as const;

export interface DrainCounts {
  /** Buffer entries stored and deleted. */
  entries: number;
  /** Events in those entries. */
  events: number;
  /** Events that were new in PostgreSQL (the rest were already stored: exactly once). */
  inserted: number;
  chunks: number;
  statements: number;
  /** Rows PostgreSQL refused by themselves (moved to the dead-letter stream, one entry each). */
  rows_refused: number;
  /** Entries added to the dead-letter stream: refused rows, and buffer entries that cannot be read. */
  dead_lettered: number;
  partitions_created: number;
  /** True when the run stopped on its budget with entries left (the next run continues). */
  budget_stop: boolean;
}

/** Read size for the next XRANGE, from the rows per entry seen so far. Pure, exported for tests. */
export function nextReadCount(rowsSeen: number, entriesSeen: number): number {
  if (entriesSeen === 0) return DRAIN_LIMITS.initialReadCount;
  const perEntry = Math.max(1, rowsSeen / entriesSeen);
  const count = Math.round(DRAIN_LIMITS.targetRowsPerRead / perEntry);
  return Math.min(DRAIN_LIMITS.maxReadCount, Math.max(DRAIN_LIMITS.minReadCount, count));
}

/** Splits entries, in order, into groups of at most `maxRows` rows (an entry is never split). */
export function groupByRows<T extends { rows: readonly unknown[] }>(entries: readonly T[], maxRows: number): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let rows = 0;
  for (const entry of entries) {
    if (current.length > 0 && rows + entry.rows.length > maxRows) {
      groups.push(current);
      current = [];
      rows = 0;
    }
    current.push(entry);
    rows += entry.rows.length;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

type Readable = Extract<BufferEntry, { rows: EventRow[] }>;

interface Deps {
  buffer: BufferPort;
  events: EventSink;
  budget: Budget;
  now: Date;
  progress?: Progress;
}

/**
 * The minute drain: moves the write-ahead buffer into `analytics_events_ts`, in stream order, in
 * large statements, exactly once (INSERT_EVENTS dedupes by event_id, so an entry stored twice —
 * after a crash between insert and delete, or by an overlapping run — inserts nothing twice).
 *
 * Per chunk: one XRANGE, one INSERT per ≤ maxRowsPerInsert rows, one XDEL. When a combined insert
 * fails with a data error (SQLSTATE class 22/23) the chunk is bisected to isolate the bad entries,
 * and each bad entry is bisected down to its rows: the rows PostgreSQL refuses by themselves move
 * to the dead-letter stream (one dead letter per row, with SQLSTATE and message) and the rest of
 * the entry is stored. A refusal that depends only on the row cannot pass on a later run; the
 * `dead-letters replay` command stores it once the cause is fixed. An entry that cannot be decoded
 * moves there at once. Any other error (database unreachable, a bug in a statement) stops the run
 * and blames nothing: nothing is dead-lettered for an outage. Out of budget mid-bisection, the
 * unresolved entries stay in the buffer for the next run.
 * On 23514 (no partition, `postgres` tier) it creates partitions once per run and retries.
 */
export async function drainBuffer({ buffer, events, budget, now, progress = UNTRACKED }: Deps): Promise<DrainCounts> {
  const counts: DrainCounts = progress.track({
    entries: 0,
    events: 0,
    inserted: 0,
    chunks: 0,
    statements: 0,
    rows_refused: 0,
    dead_lettered: 0,
    partitions_created: 0,
    budget_stop: false,
  });
  let partitionsEnsured = false;
  let after: string | null = null;
  let rowsSeen = 0;
  let entriesSeen = 0;

  const insert = async (rows: readonly EventRow[]): Promise<number> => {
    counts.statements += 1;
    try {
      return await events.insert(rows);
    } catch (error) {
      if (!isMissingPartition(error) || partitionsEnsured) throw error;
      partitionsEnsured = true;
      counts.partitions_created += await events.ensurePartitions(now);
      counts.statements += 1;
      return events.insert(rows);
    }
  };

  /**
   * Stores a group; returns the entries that held rows PostgreSQL refused, with those rows (the
   * entries' other rows are stored). Entries left unresolved on budget are in neither list.
   */
  const store = async (group: Readable[], stored: Readable[]): Promise<Array<{ entry: Readable; refused: RefusedRow[] }>> => {
    try {
      counts.inserted += await insert(group.flatMap((e) => e.rows));
      stored.push(...group);
      return [];
    } catch (error) {
      if (!isDataError(error)) throw error;
      // Out of budget mid-bisection: leave the rest unblamed for the next run.
      if (budget.exhausted(4)) {
        counts.budget_stop = true;
        return [];
      }
      if (group.length === 1) {
        const entry = group[0]!;
        const isolated = await insertIsolatingRefusals(entry.rows, insert, () => !budget.exhausted(4), error);
        counts.inserted += isolated.inserted;
        if (!isolated.complete) {
          counts.budget_stop = true;
          return [];
        }
        if (isolated.refused.length === 0) {
          stored.push(entry);
          return [];
        }
        return [{ entry, refused: isolated.refused }];
      }
      const middle = Math.ceil(group.length / 2);
      const left = await store(group.slice(0, middle), stored);
      const right = await store(group.slice(middle), stored);
      return [...left, ...right];
    }
  };

  // The next chunk's XRANGE, started while this chunk inserts: Redis and PostgreSQL are separate
  // round trips, so the read costs no wall time when the insert is the longer of the two.
  let prefetched: Promise<BufferEntry[]> | null = null;
  for (;;) {
    // A prefetched read was already spent: the chunk needs one subrequest less.
    if (budget.exhausted(DRAIN_LIMITS.chunkReserve - (prefetched === null ? 0 : 1))) {
      counts.budget_stop = true;
      break;
    }
    const entries: BufferEntry[] = await (prefetched ?? buffer.read(after, nextReadCount(rowsSeen, entriesSeen)));
    prefetched = null;
    if (entries.length === 0) break;
    after = entries[entries.length - 1]!.id;
    counts.chunks += 1;

    const readable: Readable[] = [];
    const dead: DeadLetter[] = [];
    for (const entry of entries) {
      if ("rows" in entry) readable.push(entry);
      else dead.push({ id: entry.id, raw: entry.raw, error: `unreadable entry: ${entry.invalid}`, sqlstate: null });
    }
    entriesSeen += readable.length;
    rowsSeen += readable.reduce((n, e) => n + e.rows.length, 0);
    // Reads are by id after the last one seen, so entries of this chunk (stored, dead-lettered or
    // left for the next run) are never read twice in a run. A chunk that ends the run (an error,
    // the budget) leaves the prefetched entries unprocessed in the buffer, where the next run
    // finds them; a failed prefetch surfaces when it is awaited, never as an unhandled rejection.
    if (!budget.exhausted(DRAIN_LIMITS.chunkReserve * 2)) {
      prefetched = buffer.read(after, nextReadCount(rowsSeen, entriesSeen));
      prefetched.catch(() => undefined);
    }

    const stored: Readable[] = [];
    const failures: Array<{ entry: Readable; refused: RefusedRow[] }> = [];
    try {
      for (const group of groupByRows(readable, DRAIN_LIMITS.maxRowsPerInsert)) {
        failures.push(...(await store(group, stored)));
      }
    } finally {
      // Whatever was stored is deleted even when a later group failed: the buffer only holds
      // what PostgreSQL does not.
      if (stored.length > 0) {
        const ids = stored.map((e) => e.id);
        await buffer.remove(ids);
        counts.entries += stored.length;
        counts.events += stored.reduce((n, e) => n + e.rows.length, 0);
      }
    }

    for (const { entry, refused } of failures) {
      // The entry's other rows are stored: it leaves the buffer with its refused rows.
      counts.rows_refused += refused.length;
      counts.events += entry.rows.length - refused.length;
      for (const r of refused) dead.push(refusedRowDeadLetter(entry.id, r));
    }
    if (dead.length > 0) {
      await buffer.deadLetter(dead);
      counts.dead_lettered += dead.length;
    }
  }
  return counts;
}
