import type { EventRow } from "../domain/event";
import type { Sql } from "./clients";
import { importEvents, prepareImport } from "./sql-import";

/**
 * What `POST /api/v1/import` asks PostgreSQL: two statements per batch, prepare then insert (the
 * statements are in sql-import.ts, shared with `npm run import`).
 */
export class PostgresImportStore {
  constructor(private readonly sql: Sql) {}

  /**
   * Creates what raw rows at `times` need (daily partitions in the `postgres` tier) and returns
   * the oldest time raw retention keeps (ISO text): events before it are `too_old`.
   */
  async prepare(times: readonly string[]): Promise<string> {
    const statement = prepareImport(times);
    const rows = (await this.sql.query(statement.text, [...statement.values])) as Array<{ cutoff: string }>;
    return rows[0]!.cutoff;
  }

  /** Stores `rows` exactly once by event_id; resolves to how many were new. */
  async insert(rows: readonly EventRow[]): Promise<number> {
    const statement = importEvents(rows);
    const result = (await this.sql.query(statement.text, [...statement.values])) as Array<{ inserted: number }>;
    return Number(result[0]?.inserted ?? 0);
  }
}
