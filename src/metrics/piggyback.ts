/**
 * Writes the isolate's latency measurements inside statements the worker sends anyway: each
 * INSERT_EVENTS (direct insert, Redis-down fallback, drain) and the statement that ends a cron run.
 * The measurements ride along as one extra JSON parameter and one data-modifying CTE in front of
 * the statement's own, so the number of round trips and statements stays what it was.
 */
import type { IngestRedis } from "../storage/redis-store";
import type { Sql, SqlRow } from "../storage/clients";
import { INSERT_EVENTS, endJobRun } from "../storage/sql";
import { errorSummary } from "../error-text";
import { logEvent } from "../log";
import { METRICS, isolateLatency, type LatencyRecorder, type LatencyRow } from "./latency";

/** The statement that ends a cron run (its text does not depend on its values). */
const END_JOB_RUN = endJobRun("0", "", "", "ok", {}, null).text;
/** SQLSTATE undefined_table: `analytics_latency` is missing (migration 0008 not applied). */
const UNDEFINED_TABLE = "42P01";

/** The CTEs placed in front of a `WITH …` statement; `$n` is the measurements' JSON parameter. */
function latencyCtes(n: number): string {
  return `worker_latency AS (
  INSERT INTO analytics_latency (minute, metric, count, samples)
  SELECT m.minute, m.metric, m.count, m.samples
  FROM json_to_recordset($${n}::json) AS m(minute timestamptz, metric text, count integer, samples real[])
), worker_latency_expired AS (
  DELETE FROM analytics_latency WHERE minute < now() - INTERVAL '30 days'
), `;
}

/** `text` with the latency CTEs in front, or null when it is not a statement that carries them. */
export function withLatencyRows(text: string, paramCount: number): string | null {
  if (text !== INSERT_EVENTS && text !== END_JOB_RUN) return null;
  return `WITH ${latencyCtes(paramCount + 1)}${text.slice("WITH ".length)}`;
}

let tableMissing = false;

/**
 * The SQL client with measurements attached: INSERT_EVENTS sent through it is timed as `metric`,
 * and due measurements ride along with INSERT_EVENTS and the end of a cron run. Every other
 * statement (and `transaction`) passes through untouched.
 */
export function measuredSql(sql: Sql, metric: string, recorder: LatencyRecorder = isolateLatency): Sql {
  const query = (text: string, params: readonly unknown[] = []) => {
    const piggyback = tableMissing ? null : withLatencyRows(text, params.length);
    if (piggyback === null) return sql.query(text, params);
    return (async () => {
      const rows: LatencyRow[] | null = recorder.takeDue();
      const started = performance.now();
      let result: SqlRow[];
      try {
        result = rows ? await sql.query(piggyback, [...params, JSON.stringify(rows)]) : await sql.query(text, params);
      } catch (error) {
        if (!rows) throw error;
        if ((error as { code?: unknown } | null)?.code !== UNDEFINED_TABLE) {
          recorder.restore(rows);
          throw error;
        }
        // Never let a measurement break ingestion: without the table, stop attaching them.
        tableMissing = true;
        logEvent("warn", "latency_table_missing", { error: errorSummary(error) });
        result = await sql.query(text, params);
      }
      if (text === INSERT_EVENTS) recorder.record(metric, performance.now() - started);
      return result;
    })();
  };
  return { query, transaction: (queries) => sql.transaction(queries) };
}

/** The ingest Redis adapter with its one round trip (the ingest script) timed. */
export function measuredIngestRedis(inner: IngestRedis, recorder: LatencyRecorder = isolateLatency): IngestRedis {
  return {
    async recordBatch(input) {
      const started = performance.now();
      const result = await inner.recordBatch(input);
      recorder.record(METRICS.redisIngest, performance.now() - started);
      return result;
    },
    deleteBufferEntry: (entryId) => inner.deleteBufferEntry(entryId),
    deadLetter: (entries) => inner.deadLetter(entries),
    recordDirectInsertFailure: (failure) => inner.recordDirectInsertFailure(failure),
  };
}
