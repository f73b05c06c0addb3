/**
 * Part 6 — storage: bytes per event (raw table + its indexes, and the dedupe table apart) per
 * tier, after inserting realistic normalised events with the project's INSERT_EVENTS in 5,000-row
 * statements, spread over 6 days (several daily partitions/chunks); then, in `timescale`, after
 * compressing every chunk with the migrated settings (0021: no segmentby, orderby time DESC), and
 * again with each alternative of COMPRESSION_TRIALS on the same rows, so that the settings are
 * chosen by measurement and the choice can be re-checked.
 *
 * postgres: the machine's PostgreSQL 15. timescale and timescale-apache: the embedded TimescaleDB
 * (PGlite WASM, in process) — smaller sizes, labelled; sizes on disk follow the same page format.
 */
import pg from "pg";
import type { EventRow } from "../../src/domain/event";
import { INSERT_EVENTS, insertEventsValues } from "../../src/storage/sql";
import { startEmbeddedTimescale } from "../lib/embedded-postgres";
import { migrate } from "../lib/migrator";
import { createMigratedDatabase } from "./databases";
import { realisticRows } from "./e2e";
import type { Figure, PartResult, Size } from "./report";
import { log, onCleanup, round } from "./util";

const SIX_DAYS = 6 * 24 * 3_600_000;

interface Query {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

async function insertAll(db: Query, rows: EventRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 5_000) await db.query(INSERT_EVENTS, insertEventsValues(rows.slice(i, i + 5_000)));
}

async function num(db: Query, text: string): Promise<number> {
  const row = (await db.query(text)).rows[0] as Record<string, unknown>;
  return Number(Object.values(row)[0]);
}

/** Compression settings to compare with the migrated ones, on the same rows. */
interface CompressionTrial {
  segmentby: string;
  orderby: string;
  /** Chunk interval of a copy of the table; the migrated 1 day when absent. */
  chunk?: string;
}

/** The migrated settings (migrations/0021_compression_settings.timescale.sql). */
const MIGRATED: CompressionTrial = { segmentby: "", orderby: "time DESC" };

const COMPRESSION_TRIALS: CompressionTrial[] = [
  // 0004's settings, the ones before 0021.
  { segmentby: "category, event_name", orderby: "time DESC" },
  { segmentby: "event_name", orderby: "time DESC" },
  { segmentby: "", orderby: "event_name, time DESC" },
  { segmentby: "", orderby: "session_id, time DESC" },
  { segmentby: "", orderby: "page_path, time DESC" },
  // Whether the chunk interval matters: the same rows in 7-day chunks.
  { segmentby: "category, event_name", orderby: "time DESC", chunk: "7 days" },
  { ...MIGRATED, chunk: "7 days" },
];

const trialName = (t: CompressionTrial) =>
  `segmentby ${t.segmentby === "" ? "none" : `(${t.segmentby})`}, orderby ${t.orderby}${t.chunk ? `, ${t.chunk} chunks` : ""}`;

const COMPRESS_ALL = (table: string) => `SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('${table}') c`;
const DECOMPRESS_ALL = (table: string) =>
  `SELECT count(decompress_chunk(format('%I.%I', chunk_schema, chunk_name)::regclass)) FROM timescaledb_information.chunks WHERE hypertable_name = '${table}' AND is_compressed`;
const setCompression = (table: string, t: CompressionTrial) =>
  `ALTER TABLE ${table} SET (timescaledb.compress, timescaledb.compress_segmentby = '${t.segmentby}', timescaledb.compress_orderby = '${t.orderby}')`;

/**
 * Compresses the embedded table's rows with each trial's settings and returns the compressed
 * size per trial. 1-day trials decompress and recompress analytics_events_ts itself; a trial with
 * another chunk interval copies the rows into a hypertable of that interval with the same indexes.
 */
async function runTrials(db: Query, stored: number, before: number): Promise<{ trial: CompressionTrial; raw: number; after: number; seconds: number }[]> {
  const results: { trial: CompressionTrial; raw: number; after: number; seconds: number }[] = [];
  const copies = new Map<string, { table: string; raw: number }>();
  for (const trial of COMPRESSION_TRIALS) {
    let table = "analytics_events_ts";
    let raw = before;
    if (trial.chunk) {
      let copy = copies.get(trial.chunk);
      if (!copy) {
        const name = `storage_trial_${copies.size}`;
        await db.query(`CREATE TABLE ${name} (LIKE analytics_events_ts INCLUDING DEFAULTS INCLUDING INDEXES)`);
        await db.query(`SELECT create_hypertable('${name}', 'time', chunk_time_interval => INTERVAL '${trial.chunk}', create_default_indexes => false)`);
        await db.query(`INSERT INTO ${name} SELECT * FROM analytics_events_ts`);
        await db.query(`VACUUM ANALYZE ${name}`);
        copy = { table: name, raw: await num(db, `SELECT hypertable_size('${name}')`) };
        copies.set(trial.chunk, copy);
      }
      ({ table, raw } = copy);
    }
    const t0 = Date.now();
    await db.query(DECOMPRESS_ALL(table));
    await db.query(setCompression(table, trial));
    await db.query(COMPRESS_ALL(table));
    const after = await num(db, `SELECT hypertable_size('${table}')`);
    const seconds = (Date.now() - t0) / 1000;
    results.push({ trial, raw, after, seconds });
    log(`storage timescale, ${trialName(trial)}: ${round(after / stored)} B/event compressed (${round((1 - after / raw) * 100)} % saved of ${round(raw / stored)} B/event)`);
  }
  return results;
}

const PARTITIONED_BYTES = `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS b FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'analytics_events_ts'::regclass`;
const DEDUPE_BYTES = `SELECT pg_total_relation_size('analytics_event_ids')::bigint AS b`;

export async function runStorage(size: Size): Promise<Omit<PartResult, "seconds">> {
  const nativeCount = size === "full" ? 500_000 : 20_000;
  const embeddedCount = size === "full" ? 100_000 : 10_000;
  const figures: Figure[] = [];
  const raw: Record<string, unknown> = {};
  log(`storage: preparing ${nativeCount.toLocaleString("en-US")} realistic events…`);
  const rows = await realisticRows(nativeCount, 31, SIX_DAYS);

  // postgres tier, native server.
  {
    const db = await createMigratedDatabase("storage");
    const client = new pg.Client(db.url);
    await client.connect();
    try {
      await insertAll(client, rows);
      await client.query("VACUUM ANALYZE analytics_events_ts");
      const table = await num(client, PARTITIONED_BYTES);
      const dedupe = await num(client, DEDUPE_BYTES);
      const stored = await num(client, "SELECT count(*) FROM analytics_events_ts");
      raw.postgres = { stored, table, dedupe };
      log(`storage postgres: ${round(table / stored)} B/event (+${round(dedupe / stored)} B dedupe)`);
      figures.push({
        name: "postgres tier (PostgreSQL 15): table + 4 indexes",
        value: round(table / stored, 0),
        unit: "B/event",
        detail: `${stored} events; dedupe table (event_id PK + received_at index, kept 8 days) adds ${round(dedupe / stored, 0)} B/event`,
      });
    } finally {
      await client.end();
      await db.drop();
    }
  }

  // TimescaleDB tiers, embedded.
  const sample = rows.slice(0, embeddedCount);
  for (const tier of ["timescale-apache", "timescale"] as const) {
    const embedded = await startEmbeddedTimescale();
    const close = onCleanup(`embedded TimescaleDB (${tier})`, () => embedded.close());
    try {
      await migrate({ databaseUrl: embedded.socketUrl, tier });
      const db = embedded.db as unknown as Query;
      const t0 = Date.now();
      await insertAll(db, sample);
      const insertSeconds = (Date.now() - t0) / 1000;
      await embedded.db.exec("VACUUM ANALYZE analytics_events_ts");
      const stored = await num(db, "SELECT count(*) FROM analytics_events_ts");
      const before = await num(db, "SELECT hypertable_size('analytics_events_ts')");
      const dedupe = await num(db, DEDUPE_BYTES);
      raw[tier] = { stored, before, dedupe, insertSeconds };
      log(`storage ${tier}: ${round(before / stored)} B/event uncompressed (${stored} events, PGlite)`);
      figures.push({
        name: `${tier} tier (embedded, PGlite): hypertable + 4 indexes`,
        value: round(before / stored, 0),
        unit: "B/event",
        detail: `${stored} events (PGlite WASM: a smaller sample); dedupe table adds ${round(dedupe / stored, 0)} B/event`,
      });
      if (tier === "timescale") {
        const chunks = await num(db, "SELECT count(*) FROM show_chunks('analytics_events_ts')");
        const c0 = Date.now();
        await db.query("SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('analytics_events_ts') c");
        const compressSeconds = (Date.now() - c0) / 1000;
        const after = await num(db, "SELECT hypertable_size('analytics_events_ts')");
        const perEvent = after / stored;
        const saved = 1 - after / before;
        log(`storage timescale: ${round(perEvent)} B/event compressed (${chunks} chunks in ${round(compressSeconds)} s)`);
        figures.push({
          name: "timescale tier (embedded): after compression",
          value: round(perEvent, 0),
          unit: "B/event",
          target: "≤ 100 B/event, 90 % saved",
          met: perEvent <= 100 && saved >= 0.9,
          detail: `${chunks} chunks compressed in ${round(compressSeconds, 1)} s; ${round(saved * 100)} % saved of ${round(before / stored, 0)} B/event (migrated: ${trialName(MIGRATED)})`,
        });
        const trials = await runTrials(db, stored, before);
        raw[tier] = { ...(raw[tier] as object), after, chunks, compressSeconds, trials };
        for (const { trial, raw: rawBytes, after: trialAfter, seconds } of trials) {
          figures.push({
            name: `timescale tier (embedded): compressed with ${trialName(trial)}`,
            value: round(trialAfter / stored, 0),
            unit: "B/event",
            detail: `${round((1 - trialAfter / rawBytes) * 100)} % saved of ${round(rawBytes / stored, 0)} B/event; decompress, set, compress: ${round(seconds, 1)} s`,
          });
        }
      }
    } finally {
      await close();
    }
  }
  return {
    part: "storage",
    title: "Storage",
    status: "ok",
    method:
      "Realistic normalised events (prepareBatch output with country and visitor id, ~6 days) inserted with INSERT_EVENTS in 5,000-row statements; pg_total_relation_size of the partitions (postgres) or hypertable_size (TimescaleDB tiers, embedded PGlite) divided by rows, after VACUUM ANALYZE; timescale: again after compress_chunk on every chunk with the migrated settings, then with each alternative setting on the same rows (decompress, ALTER TABLE … SET, compress; other chunk intervals on a copy with the same indexes).",
    figures,
    raw,
  };
}
