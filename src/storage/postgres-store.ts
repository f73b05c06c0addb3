import type { EventRow } from "../domain/event";
import type { Sql } from "./clients";
import { INSERT_EVENTS, READ_TIER, insertEventsValues } from "./sql";
import { recordedTier, type Tier } from "./tier";

/** The narrow PostgreSQL surface the ingest path needs (a port: test/worker/hostile-content.test.ts fakes it). */
export interface EventStore {
  /** Inserts rows exactly once by event_id; resolves to how many were new. One statement. */
  insertEvents(rows: readonly EventRow[]): Promise<number>;
}

/**
 * PostgreSQL adapter over the Neon HTTP driver: each method is one statement, one request. The one
 * adapter that sends INSERT_EVENTS: the request path, the drain (through PostgresCronStore) and the
 * dead-letter replay all store rows through it.
 */
export class PostgresStore implements EventStore {
  constructor(private readonly sql: Sql) {}

  async insertEvents(rows: readonly EventRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const result = (await this.sql.query(INSERT_EVENTS, insertEventsValues(rows))) as Array<{ inserted: number | string }>;
    return Number(result[0]?.inserted ?? 0);
  }

  /** The tier the migrations recorded; throws when the database was never migrated. */
  async readTier(): Promise<Tier> {
    const rows = (await this.sql.query(READ_TIER)) as Array<{ tier: string }>;
    return recordedTier(rows[0]?.tier);
  }
}
