/**
 * The engine of `npm run import -- events` and `-- legacy-redis`: validates records with the same
 * schema and normalisation as ingest (`prepareBatch`) and stores the accepted rows in
 * `analytics_events_ts` exactly once by event_id: per chunk, in one transaction, the event ids are
 * claimed in the dedupe table (`claimImportedIds`), only the rows whose id was new are COPYed into
 * the raw table, and the closed hours they touched are marked dirty (`markImportedDirty`). Each
 * chunk's transaction also records how far the import got, so an
 * interrupted run resumes after the last committed chunk; refused records go to a reject file
 * with their line number and reason.
 */
import { appendFile, writeFile } from "node:fs/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type { EventRow } from "../../../src/domain/event";
import { prepareBatch } from "../../../src/domain/ingest-batch";
import {
  claimImportedIds,
  COPY_EVENTS,
  IMPORT_COLUMNS,
  markImportedDirty,
  prepareImport,
  readImportProgress,
  saveImportProgress,
} from "../../../src/storage/sql-import";
import type { SqlStatement } from "../../../src/storage/sql";
import { copyLine } from "./copy-text";
import type { InputRecord } from "./records";

/** Records per transaction: large enough for COPY speed, small enough to lose little on a crash. */
export const DEFAULT_CHUNK_RECORDS = 20_000;
/** Imports take any age the database keeps; raw retention (read from the database) decides. */
const IMPORT_MAX_AGE_MS = 100 * 365 * 24 * 3_600_000;

/** The COPY text of `rows`, a few hundred rows per string. */
function* copyLines(rows: readonly EventRow[]): Generator<string> {
  for (let i = 0; i < rows.length; i += 500) {
    let text = "";
    for (const row of rows.slice(i, i + 500)) text += copyLine(row as unknown as Record<string, unknown>, IMPORT_COLUMNS);
    yield text;
  }
}

/** One refused record, as written to the reject file. */
export interface Rejection {
  position: number;
  code: string;
  reason: string;
}

export interface LoadSummary {
  /** Records read by this run (after the ones skipped on resume). */
  read: number;
  stored: number;
  duplicates: number;
  rejected: number;
  /** Records skipped because an earlier, interrupted run had committed them. */
  resumed_after: number;
  seconds: number;
  reject_file: string | null;
}

export interface LoadOptions {
  databaseUrl: string;
  /** The records, from position `skip + 1` on (positions increase). */
  open(skip: number): AsyncIterable<InputRecord>;
  /** What a position counts, in messages and the reject file: `line`, `element`, `member`. */
  unit: string;
  /** Progress key (a file's SHA-256); null: no resume (standard input). */
  source: string | null;
  /** Where refused records go (NDJSON); null: not written. */
  rejectFile: string | null;
  /** Ignore recorded progress and start over (exactly-once still holds). */
  restart?: boolean;
  chunkRecords?: number;
  /** Stops the run: the chunk in flight is rolled back, committed chunks stay. */
  signal?: AbortSignal;
  /** After every committed chunk. */
  onChunk?(summary: LoadSummary): void;
  /** Every 1,000 records read. */
  onRead?(read: number): void;
  now?: () => Date;
}

/** Raised when `signal` stopped the run; `summary` is what was committed. */
export class ImportInterrupted extends Error {
  override readonly name = "ImportInterrupted";
  constructor(readonly summary: LoadSummary, readonly position: number, unit: string) {
    super(`interrupted: committed up to ${unit} ${position}; run the same command again to resume`);
  }
}

interface Chunk {
  rows: EventRow[];
  positions: number[];
  rejections: Rejection[];
  duplicates: number;
  last: number;
  read: number;
}

/** Validates one chunk of records: rows to store, refusals by position, in-chunk duplicates. */
async function validate(records: InputRecord[], receivedAt: Date): Promise<Chunk> {
  const rejections: Rejection[] = [];
  const values: Record<string, unknown>[] = [];
  const valuePositions: number[] = [];
  for (const r of records) {
    if (r.error !== undefined || !r.value) rejections.push({ position: r.position, code: "malformed", reason: r.error ?? "unreadable" });
    else if (r.value.timestamp === undefined || r.value.timestamp === null || r.value.timestamp === "") {
      rejections.push({ position: r.position, code: "invalid_field", reason: "timestamp: required for imports (the time the event happened)" });
    } else {
      values.push(r.value);
      valuePositions.push(r.position);
    }
  }
  let rows: EventRow[] = [];
  let positions: number[] = [];
  let duplicates = 0;
  if (values.length > 0) {
    const batch = await prepareBatch(values, { receivedAt, maxEvents: values.length, options: { maxEventAgeMs: IMPORT_MAX_AGE_MS } });
    for (const r of batch.rejected) rejections.push({ position: valuePositions[r.index]!, code: r.code, reason: r.message });
    rows = batch.rows;
    positions = batch.rowIndexes.map((i) => valuePositions[i]!);
    duplicates = batch.duplicateIndexes.length;
  }
  rejections.sort((a, b) => a.position - b.position);
  return { rows, positions, rejections, duplicates, last: records[records.length - 1]?.position ?? 0, read: records.length };
}

async function run<R extends pg.QueryResultRow>(client: pg.ClientBase, s: SqlStatement): Promise<R[]> {
  return (await client.query<R>(s.text, [...s.values])).rows;
}

/** Imports the records of `options.open` (see the module comment); resolves to the summary. */
export async function loadEvents(options: LoadOptions): Promise<LoadSummary> {
  const started = Date.now();
  const now = options.now ?? (() => new Date());
  const chunkRecords = options.chunkRecords ?? DEFAULT_CHUNK_RECORDS;
  const client = new pg.Client(options.databaseUrl);
  await client.connect();
  const summary: LoadSummary = { read: 0, stored: 0, duplicates: 0, rejected: 0, resumed_after: 0, seconds: 0, reject_file: options.rejectFile };
  const totals = { stored: 0, duplicates: 0, rejected: 0 };
  try {
    // Sorting the claimed ids and the dedupe of a chunk stay in memory.
    await client.query("SET work_mem = '64MB'");
    if (options.source && !options.restart) {
      const [done] = await run<{ position: string; stored: string; duplicates: string; rejected: string }>(client, readImportProgress(options.source));
      if (done) {
        summary.resumed_after = Number(done.position);
        totals.stored = Number(done.stored);
        totals.duplicates = Number(done.duplicates);
        totals.rejected = Number(done.rejected);
      }
    }
    // Created at the first rejection (a clean import leaves no file); a resumed run appends.
    let rejectFileOpen = summary.resumed_after > 0;
    let lastCommitted = summary.resumed_after;

    const write = async (chunk: Chunk) => {
      const tooOld: Rejection[] = [];
      const before = { ...summary };
      await client.query("BEGIN");
      try {
        let inserted = 0;
        if (chunk.rows.length > 0) {
          const [{ cutoff } = { cutoff: "" }] = await run<{ cutoff: string }>(client, prepareImport(chunk.rows.map((r) => r.time)));
          const cutoffMs = Date.parse(cutoff);
          const kept = chunk.rows.filter((row, i) => {
            if (Date.parse(row.time) >= cutoffMs) return true;
            tooOld.push({ position: chunk.positions[i]!, code: "too_old", reason: `timestamp: older than raw retention (before ${cutoff})` });
            return false;
          });
          if (kept.length > 0) {
            const fresh = new Set((await run<{ event_id: string }>(client, claimImportedIds(kept))).map((r) => r.event_id));
            const rows = kept.filter((r) => fresh.has(r.event_id));
            if (rows.length > 0) {
              const copy = client.query(copyFrom(COPY_EVENTS));
              await pipeline(Readable.from(copyLines(rows)), copy);
              await run(client, markImportedDirty(rows.map((r) => r.time)));
            }
            inserted = rows.length;
          }
          summary.duplicates += kept.length - inserted;
        }
        summary.stored += inserted;
        summary.duplicates += chunk.duplicates;
        const rejections = [...chunk.rejections, ...tooOld].sort((a, b) => a.position - b.position);
        summary.rejected += rejections.length;
        summary.read += chunk.read;
        if (options.source) {
          await run(client, saveImportProgress(options.source, {
            position: chunk.last,
            stored: totals.stored + summary.stored,
            duplicates: totals.duplicates + summary.duplicates,
            rejected: totals.rejected + summary.rejected,
            finished: false,
          }));
        }
        if (options.signal?.aborted) throw new ImportInterrupted({ ...summary }, 0, options.unit);
        await client.query("COMMIT");
        if (options.rejectFile && rejections.length > 0) {
          const lines = rejections.map((r) => `${JSON.stringify({ [options.unit]: r.position, code: r.code, reason: r.reason })}\n`).join("");
          await (rejectFileOpen ? appendFile : writeFile)(options.rejectFile, lines);
          rejectFileOpen = true;
        }
        options.onChunk?.({ ...summary, seconds: (Date.now() - started) / 1000 });
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        Object.assign(summary, before);
        throw error;
      }
    };

    // The next chunk is read and validated while the database stores the previous one.
    let writing: Promise<void> = Promise.resolve();
    const enqueue = async (records: InputRecord[]) => {
      const chunk = await validate(records, now());
      await writing;
      writing = write(chunk).then(() => {
        lastCommitted = chunk.last;
      });
      writing.catch(() => undefined);
    };
    let buffer: InputRecord[] = [];
    let read = 0;
    for await (const record of options.open(summary.resumed_after)) {
      buffer.push(record);
      if (++read % 1_000 === 0) options.onRead?.(read);
      if (buffer.length >= chunkRecords) {
        await enqueue(buffer);
        buffer = [];
      }
    }
    if (buffer.length > 0) await enqueue(buffer);
    await writing;
    if (options.source) {
      await run(client, saveImportProgress(options.source, {
        position: lastCommitted,
        stored: totals.stored + summary.stored,
        duplicates: totals.duplicates + summary.duplicates,
        rejected: totals.rejected + summary.rejected,
        finished: true,
      }));
    }
    summary.seconds = (Date.now() - started) / 1000;
    return summary;
  } catch (error) {
    if (error instanceof ImportInterrupted) {
      const [done] = options.source ? await run<{ position: string }>(client, readImportProgress(options.source)) : [];
      throw new ImportInterrupted({ ...summary, seconds: (Date.now() - started) / 1000 }, Number(done?.position ?? 0), options.unit);
    }
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}
