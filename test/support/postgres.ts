import pg from "pg";

/**
 * The machine's PostgreSQL server that tests create their own databases on. CI and every developer
 * machine of this project run PostgreSQL 15 on 127.0.0.1:5432 with trust auth; override with
 * TEST_PG_ADMIN_URL elsewhere.
 */
export const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  readonly name: string;
  /** Connection string for the new database (same server, user and password as ADMIN_URL). */
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates a fresh, uniquely named database so tests never touch the server's existing state. */
export async function createTestDatabase(prefix = "eaw_test"): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client(ADMIN_URL);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client(ADMIN_URL);
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
