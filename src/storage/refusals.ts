/**
 * Row-level isolation of PostgreSQL refusals: when a batch insert fails because of its data, find
 * the rows PostgreSQL refuses, store the others, and hand the refused ones back with their
 * SQLSTATE and message (for the dead-letter stream). Used by the direct insert after a response
 * and by the minute drain, so that one bad row never takes good rows with it.
 */
import type { DeadLetter } from "../cron/ports";
import type { EventRow } from "../domain/event";
import { bufferPayload } from "./buffer";
import { errorMessage, messageOf, REFUSAL_ERROR_LENGTH } from "../error-text";
import { NO_PARTITION_SQLSTATE } from "./sql";

/** SQLSTATE classes that depend on the data of a row: 22 data exception, 23 integrity constraint. */
const DATA_ERROR_CLASS = /^2[23]/;

/** The SQLSTATE the drivers attach as `code`, or null for errors that never reached PostgreSQL. */
export function sqlState(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

/** Whether PostgreSQL refused the statement because of the rows it carried (SQLSTATE class 22/23). */
export function isDataError(error: unknown): boolean {
  return DATA_ERROR_CLASS.test(sqlState(error) ?? "");
}

/**
 * `postgres` tier: no partition exists yet for a row's time. The remedy is partition upkeep, not
 * the row; a CHECK violation has the same SQLSTATE (23514), hence the message test.
 */
export function isMissingPartition(error: unknown): boolean {
  return sqlState(error) === NO_PARTITION_SQLSTATE && /no partition of relation/i.test(messageOf(error));
}

/** A row PostgreSQL refused on its own. */
export interface RefusedRow {
  row: EventRow;
  sqlstate: string;
  message: string;
}

export interface IsolationResult {
  /** Rows that were new in PostgreSQL (INSERT_EVENTS's count). */
  inserted: number;
  refused: RefusedRow[];
  /**
   * False when `canSpend` said stop before every row was either stored or refused: the caller must
   * keep the batch (stored rows dedupe when it is stored again) and blame nothing.
   */
  complete: boolean;
}

/**
 * Inserts `rows`, bisecting on data errors down to single rows, so that only rows PostgreSQL
 * refuses by themselves are refused. A non-data error (database down, a missing table) is thrown:
 * an outage is never blamed on the data. One bad row among n costs about 2·log2(n) statements.
 *
 * @param insert one INSERT_EVENTS statement (exactly once by event_id, so repeating rows is safe)
 * @param canSpend asked before each further statement (a cron's subrequest budget)
 * @param firstError the error of an insert of these same `rows` the caller already tried
 * @example
 * const { inserted, refused } = await insertIsolatingRefusals(rows, (r) => events.insertEvents(r), () => true);
 */
export async function insertIsolatingRefusals(
  rows: readonly EventRow[],
  insert: (rows: readonly EventRow[]) => Promise<number>,
  canSpend: () => boolean,
  firstError?: unknown,
): Promise<IsolationResult> {
  const result: IsolationResult = { inserted: 0, refused: [], complete: true };
  const visit = async (part: readonly EventRow[], knownError: unknown): Promise<void> => {
    let error = knownError;
    if (error === undefined) {
      if (!canSpend()) {
        result.complete = false;
        return;
      }
      try {
        result.inserted += await insert(part);
        return;
      } catch (caught) {
        if (!isDataError(caught)) throw caught;
        error = caught;
      }
    }
    if (part.length === 1) {
      result.refused.push({ row: part[0]!, sqlstate: sqlState(error)!, message: errorMessage(error, REFUSAL_ERROR_LENGTH) });
      return;
    }
    const middle = Math.ceil(part.length / 2);
    await visit(part.slice(0, middle), undefined);
    if (result.complete) await visit(part.slice(middle), undefined);
  };
  if (firstError !== undefined && !isDataError(firstError)) throw firstError;
  await visit(rows, firstError);
  return result;
}

/** The dead letter of one refused row: a one-row buffer entry, so that a replay reads it like the drain does. */
export function refusedRowDeadLetter(entryId: string, refused: RefusedRow): DeadLetter {
  return {
    id: entryId,
    raw: bufferPayload([refused.row]),
    error: `${refused.sqlstate}: ${refused.message}`,
    sqlstate: refused.sqlstate,
  };
}
