import { neon, neonConfig } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis/cloudflare";
import type { Client } from "pg";
import type { Config } from "../config";

/** One row as both drivers return it: column name → value parsed by pg-types (see `Sql`). */
export type SqlRow = Record<string, any>;

/**
 * How every PostgreSQL adapter sends SQL, whichever path reaches the database (docs/ARCHITECTURE.md,
 * "Two paths to PostgreSQL"):
 *
 * - `neon-http`: Neon's serverless driver, one HTTPS request per statement or transaction;
 * - `hyperdrive`: node-postgres over a Hyperdrive binding's TCP socket.
 *
 * Both parse values with the same pg-types defaults (timestamptz → Date, bigint and numeric →
 * string, json → object, arrays → arrays), so a caller cannot tell them apart. `query` is lazy,
 * as Neon's is: the statement is sent when the result is awaited, or as part of `transaction`.
 */
export interface Sql {
  query(text: string, values?: readonly unknown[]): Promise<SqlRow[]>;
  /** Runs `queries` (made by this client's `query`, not awaited) in one transaction, all or none. */
  transaction(queries: Array<Promise<SqlRow[]>>): Promise<SqlRow[][]>;
}

/**
 * The real Upstash client. Each request is bounded by REDIS_TIMEOUT_MS and retried at most once:
 * the ingest path would rather fall back to PostgreSQL than wait out the client's default five
 * retries (about 4 s).
 */
export function createRedisClient(config: Config): Redis {
  return new Redis({
    url: config.UPSTASH_REDIS_REST_URL,
    token: config.UPSTASH_REDIS_REST_TOKEN,
    enableTelemetry: false,
    // Replies as plain JSON strings instead of base64 (the client's default, for values that are
    // not UTF-8): everything this worker stores is text it wrote itself, and decoding the base64
    // of every reply cost ~2.5 % of an ingest request's CPU and part of each 1–2 MB drain read.
    responseEncoding: false,
    retry: { retries: 1, backoff: () => 50 },
    signal: () => AbortSignal.timeout(config.REDIS_TIMEOUT_MS),
  });
}

/** The client of the configured path (`DB_DRIVER`, validated by loadConfig). */
export function createSqlClient(config: Config): Sql {
  if (config.DB_DRIVER === "hyperdrive") return new HyperdriveSql(config.hyperdrive!.connectionString);
  return neonHttpSql(config.DATABASE_URL!, config.NEON_FETCH_ENDPOINT);
}

/** The Neon serverless driver over HTTP; `fetchEndpoint` points it at the local bridge. */
export function neonHttpSql(databaseUrl: string, fetchEndpoint?: string): Sql {
  if (fetchEndpoint) neonConfig.fetchEndpoint = fetchEndpoint;
  const sql = neon(databaseUrl);
  return {
    query: (text, values = []) => sql.query(text, [...values]),
    transaction: (queries) => sql.transaction(queries as Parameters<typeof sql.transaction>[0]) as Promise<SqlRow[][]>,
  };
}

/**
 * A failure of the TCP path, shaped like Neon's NeonDbError: `code` is the SQLSTATE when the
 * server (or Hyperdrive) answered with an error, absent when the connection itself failed
 * (refused, reset, timed out). The message never carries the connection string.
 */
export class PostgresTcpError extends Error {
  override readonly name = "PostgresTcpError";
  readonly code: string | undefined;
  constructor(cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    const sqlstate = typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
    const message = cause instanceof Error ? cause.message || cause.name : String(cause);
    super(sqlstate ? message : `PostgreSQL connection failed: ${message}`, { cause });
    this.code = sqlstate;
  }
}

/** Whether `error` came from PostgreSQL or the way to it (either path), rather than from Redis or a bug. */
export function isPostgresError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === "NeonDbError" || error instanceof PostgresTcpError;
}

/** How long the TCP path waits for a connection (Hyperdrive answers from the same location). */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * node-postgres through a Hyperdrive binding. A Worker may not reuse a socket across requests, and
 * Hyperdrive keeps the pool of real connections next to the database, so (as Cloudflare
 * recommends) each statement or transaction opens its own client and closes it when done: nothing
 * outlives the request or cron invocation that sent it. Errors become PostgresTcpError.
 */
export class HyperdriveSql implements Sql {
  constructor(private readonly connectionString: string) {}

  query(text: string, values: readonly unknown[] = []): Promise<SqlRow[]> {
    return new PendingQuery(text, [...values], () => this.withClient(async (client) => (await client.query(text, [...values])).rows));
  }

  async transaction(queries: Array<Promise<SqlRow[]>>): Promise<SqlRow[][]> {
    const statements = queries.map((query) => {
      if (!(query instanceof PendingQuery)) throw new TypeError("transaction() takes queries made by the same client's query()");
      return query;
    });
    return this.withClient(async (client) => {
      await client.query("BEGIN");
      try {
        const results: SqlRow[][] = [];
        for (const statement of statements) results.push((await client.query(statement.text, statement.values)).rows);
        await client.query("COMMIT");
        return results;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    });
  }

  private async withClient<T>(run: (client: Client) => Promise<T>): Promise<T> {
    // Loaded on this path's first statement rather than at start-up, so that a neon-http isolate
    // never evaluates node-postgres (README, Benchmarks: "Bundle and start-up").
    const { Client } = await import("pg");
    const client = new Client({ connectionString: this.connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    // A dropped connection is also emitted as an event; without a listener it would be thrown.
    client.on("error", () => undefined);
    try {
      await client.connect();
      return await run(client);
    } catch (error) {
      throw new PostgresTcpError(error);
    } finally {
      // Terminate is written at once; waiting for the socket to close would add a round trip to
      // every statement, and the runtime closes what is left when the invocation ends.
      client.end().catch(() => undefined);
    }
  }
}

/** A statement not sent yet: sent when first awaited, or handed whole to `transaction`. */
class PendingQuery implements Promise<SqlRow[]> {
  readonly [Symbol.toStringTag] = "PendingQuery";
  private sent: Promise<SqlRow[]> | undefined;
  constructor(
    readonly text: string,
    readonly values: unknown[],
    private readonly send: () => Promise<SqlRow[]>,
  ) {}

  private result(): Promise<SqlRow[]> {
    this.sent ??= this.send();
    return this.sent;
  }
  then<A = SqlRow[], B = never>(onFulfilled?: ((rows: SqlRow[]) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.result().then(onFulfilled, onRejected);
  }
  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<SqlRow[] | B> {
    return this.result().catch(onRejected);
  }
  finally(onFinally?: (() => void) | null): Promise<SqlRow[]> {
    return this.result().finally(onFinally);
  }
}
