import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  parseRedisUrl,
  RespConnection,
  type RespArg,
  type RespConnectionOptions,
  type RespReply,
} from "./resp";

/**
 * A local stand-in for the Upstash Redis REST API in front of a real `redis-server`, so that the
 * worker's unmodified `@upstash/redis` client works locally. The wire contract is
 * docs/LOCAL-STACK.md §1.
 */

/** Counters for round-trip assertions and benchmarks. */
export interface BridgeStats {
  /** HTTP requests to `/`, `/pipeline` and `/multi-exec` (any outcome). */
  requests: number;
  /** Redis commands the client asked for (not the MULTI/EXEC the bridge wraps around `/multi-exec`). */
  commands: number;
  /** Error outcomes: each `{error}` item in a 200 array, and each non-2xx answer on those routes. */
  errors: number;
}

/** A running bridge. */
export interface UpstashBridge {
  /** `http://127.0.0.1:PORT`: pass it as `url` to `new Redis({ url, token })`. */
  readonly url: string;
  readonly port: number;
  stats(): BridgeStats;
  resetStats(): void;
  /** Stops listening, drops keep-alive sockets and Redis connections. */
  close(): Promise<void>;
}

/** Options of `startUpstashBridge`. */
export interface UpstashBridgeOptions {
  /** `redis://[user:password@]host:port[/db]` of the real Redis server. */
  redisUrl: string;
  /** The bearer token clients must send (`UPSTASH_REDIS_REST_TOKEN`). */
  token: string;
  /**
   * Port to listen on; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /**
   * Most Redis connections open at once; requests beyond wait for one. Each HTTP request holds
   * one connection exclusively while its commands run.
   * @default 32
   */
  maxConnections?: number;
  /**
   * Largest accepted request body (413 above).
   * @default 16 MiB
   */
  maxBodyBytes?: number;
  /**
   * Connect timeout towards Redis: bounds how long a request waits when Redis is unreachable.
   * @default 1000
   */
  connectTimeoutMs?: number;
  /**
   * A Redis connection that owes replies and sends nothing for this long is dropped (500).
   * @default 15000
   */
  replyTimeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Redis connection pool

interface PoolWaiter {
  resolve: (connection: RespConnection) => void;
  reject: (error: Error) => void;
}

/**
 * Connections are checked out exclusively for one HTTP request, so a `/pipeline` runs on ONE
 * connection in order and `/multi-exec` gets a dedicated connection for MULTI … EXEC. Broken
 * connections leave the pool as soon as their socket closes, which is also how the bridge
 * recovers when Redis restarts on the same port: the next request simply dials again.
 */
class RedisPool {
  private readonly idle: RespConnection[] = [];
  private readonly waiters: PoolWaiter[] = [];
  private open = 0;
  private closed = false;

  constructor(
    private readonly connectOptions: RespConnectionOptions,
    private readonly maxConnections: number,
  ) {}

  acquire(): Promise<RespConnection> {
    if (this.closed) return Promise.reject(new Error("bridge is closed"));
    const idle = this.idle.pop();
    if (idle) return Promise.resolve(idle);
    if (this.open < this.maxConnections) return this.dial();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Returns a connection; `reusable: false` when it may carry state (SELECT, MULTI, …) or failed. */
  release(connection: RespConnection, reusable: boolean): void {
    if (!reusable || connection.closedReason || this.closed) {
      connection.destroy(new Error("Redis connection retired"));
      return; // the close listener decrements `open` and serves a waiter
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(connection);
    else this.idle.push(connection);
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new Error("bridge is closed"));
    for (const connection of this.idle.splice(0)) connection.destroy(new Error("bridge is closed"));
  }

  private dial(): Promise<RespConnection> {
    this.open++;
    return RespConnection.open(this.connectOptions).then(
      (connection) => {
        connection.onClose(() => this.forget(connection));
        return connection;
      },
      (error: Error) => {
        this.open--;
        this.serveWaiter();
        throw error;
      },
    );
  }

  private forget(connection: RespConnection): void {
    this.open--;
    const index = this.idle.indexOf(connection);
    if (index >= 0) this.idle.splice(index, 1);
    this.serveWaiter();
  }

  private serveWaiter(): void {
    if (this.closed || this.open >= this.maxConnections) return;
    const waiter = this.waiters.shift();
    if (waiter) this.dial().then(waiter.resolve, waiter.reject);
  }
}

// ---------------------------------------------------------------------------------------------
// Request validation

/** A request-level failure answered with `{"error": message}`. */
class BridgeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Commands that would make a pooled connection unusable or hang it (RESP3, pub/sub, replies
 * switched off). Upstash does not offer them over REST either (docs/LOCAL-STACK.md §1.4).
 */
const REFUSED_COMMANDS = new Set([
  "hello",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "monitor",
  "sync",
  "psync",
  "quit",
  "reset",
]);

/** Inside `/multi-exec` these would break the MULTI … EXEC the bridge wraps around the body. */
const REFUSED_IN_TRANSACTION = new Set(["multi", "exec", "discard", "watch", "unwatch"]);

/** Commands that leave per-connection state behind: the connection is not reused afterwards. */
const STATEFUL_COMMANDS = new Set([
  "select",
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "client",
  "auth",
  "readonly",
  "readwrite",
]);

interface Command {
  readonly args: RespArg[];
  readonly name: string;
}

function toCommand(value: unknown, where: string): Command {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BridgeError(400, `ERR ${where} must be a non-empty array like ["SET","key","value"]`);
  }
  const args: RespArg[] = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const arg: unknown = value[i];
    if (typeof arg === "string" || typeof arg === "number" || typeof arg === "boolean") {
      args[i] = arg;
    } else {
      // null is what the client sends for `undefined`; writing "" instead would store data the
      // caller never meant to send, so refuse it (docs/LOCAL-STACK.md §1.1).
      throw new BridgeError(
        400,
        `ERR ${where} argument ${i} is ${arg === null ? "null" : typeof arg}: expected a string, number or boolean`,
      );
    }
  }
  return { args, name: String(args[0]).toLowerCase() };
}

function toCommandList(body: unknown): Command[] {
  if (!Array.isArray(body)) throw new BridgeError(400, "ERR request body must be a JSON array of commands");
  if (body.length === 0) throw new BridgeError(400, "ERR empty pipeline: send at least one command");
  return body.map((item, i) => toCommand(item, `command ${i}`));
}

function refusal(command: Command, inTransaction: boolean): string | undefined {
  const { name } = command;
  const refused =
    REFUSED_COMMANDS.has(name) ||
    (inTransaction && REFUSED_IN_TRANSACTION.has(name)) ||
    (name === "client" && String(command.args[1] ?? "").toLowerCase() === "reply");
  return refused ? `ERR Command is not available: '${name}'` : undefined;
}

// ---------------------------------------------------------------------------------------------
// Response encoding (docs/LOCAL-STACK.md §1.2): JSON text is built by hand so integers keep every digit.

function encodeString(bytes: Buffer, base64: boolean): string {
  return base64 ? `"${bytes.toString("base64")}"` : JSON.stringify(bytes.toString("utf8"));
}

function encodeReply(reply: RespReply, base64: boolean): string {
  switch (reply.type) {
    case "integer":
      return reply.value;
    case "bulk":
      return reply.value === null ? "null" : encodeString(reply.value, base64);
    case "simple":
      // Upstash sends +OK verbatim; the client's decoder special-cases "OK".
      if (reply.value.length === 2 && reply.value[0] === 0x4f && reply.value[1] === 0x4b) return '"OK"';
      return encodeString(reply.value, base64);
    case "error":
      // Only reachable nested in an array (e.g. a Lua table holding an error): never encoded.
      return JSON.stringify(reply.message);
    case "array": {
      if (reply.value === null) return "null";
      let out = "[";
      for (let i = 0; i < reply.value.length; i++) {
        if (i > 0) out += ",";
        out += encodeReply(reply.value[i]!, base64);
      }
      return out + "]";
    }
  }
}

function encodeItem(reply: RespReply, base64: boolean): string {
  return reply.type === "error"
    ? `{"error":${JSON.stringify(reply.message)}}`
    : `{"result":${encodeReply(reply, base64)}}`;
}

function errorBody(message: string): string {
  return `{"error":${JSON.stringify(message)}}`;
}

// ---------------------------------------------------------------------------------------------
// HTTP

const ROUTES = new Set(["/", "/pipeline", "/multi-exec"]);
const STATS_PATH = "/__bridge/stats";
const STATS_RESET_PATH = "/__bridge/stats/reset";
const TRAILING_SLASHES = /\/+$/;

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BridgeError(413, `ERR request body is larger than ${limit} bytes`));
        req.removeAllListeners("data");
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on("error", reject);
    // A client that goes away mid-body must not leave this promise pending forever.
    req.on("close", () => {
      if (!req.complete) reject(new BridgeError(400, "ERR request aborted by the client"));
    });
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts the Upstash REST bridge. Routes: `POST /` (one command), `POST /pipeline` (many, not
 * atomic, one Redis connection, always 200 with a `{result}` or `{error}` per command),
 * `POST /multi-exec` (MULTI … EXEC on a dedicated connection), `GET /__bridge/stats` and
 * `POST /__bridge/stats/reset`. Every route needs `Authorization: Bearer <token>`.
 *
 * @example
 * const redisServer = await startPrivateRedis();
 * const bridge = await startUpstashBridge({ redisUrl: redisServer.url, token: "dev-token" });
 * const redis = new Redis({ url: bridge.url, token: "dev-token" });
 * await redis.set("greeting", "hello");
 * await bridge.close();
 */
export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const connectOptions: RespConnectionOptions = {
    ...parseRedisUrl(options.redisUrl),
    connectTimeoutMs: options.connectTimeoutMs ?? 1_000,
    replyTimeoutMs: options.replyTimeoutMs ?? 15_000,
  };
  const pool = new RedisPool(connectOptions, options.maxConnections ?? 32);
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const expectedAuth = Buffer.from(`Bearer ${options.token}`);
  const stats: BridgeStats = { requests: 0, commands: 0, errors: 0 };
  const redisTarget = `${connectOptions.host}:${connectOptions.port}`;

  const authorized = (header: string | undefined): boolean => {
    if (header === undefined) return false;
    const given = Buffer.from(header);
    return given.length === expectedAuth.length && timingSafeEqual(given, expectedAuth);
  };

  /** Runs commands on one exclusively held connection; failures of the transport become 500. */
  const withConnection = async <T>(
    commands: readonly Command[],
    run: (connection: RespConnection) => Promise<T>,
  ): Promise<T> => {
    let connection: RespConnection;
    try {
      connection = await pool.acquire();
    } catch (error) {
      throw new BridgeError(500, `ERR cannot reach Redis at ${redisTarget}: ${describe(error)}`);
    }
    let reusable = !commands.some((c) => STATEFUL_COMMANDS.has(c.name));
    try {
      return await run(connection);
    } catch (error) {
      reusable = false;
      if (error instanceof BridgeError) throw error;
      throw new BridgeError(500, `ERR Redis at ${redisTarget} failed: ${describe(error)}`);
    } finally {
      pool.release(connection, reusable);
    }
  };

  const runSingle = async (body: unknown, base64: boolean): Promise<[number, string]> => {
    const command = toCommand(body, "command");
    const refused = refusal(command, false);
    if (refused) throw new BridgeError(400, refused);
    stats.commands++;
    const reply = await withConnection([command], (c) => c.send(command.args));
    if (reply.type === "error") throw new BridgeError(400, reply.message);
    return [200, encodeItem(reply, base64)];
  };

  const runPipeline = async (body: unknown, base64: boolean): Promise<[number, string]> => {
    const commands = toCommandList(body);
    stats.commands += commands.length;
    const refusals = commands.map((c) => refusal(c, false));
    const runnable = commands.filter((_, i) => refusals[i] === undefined);
    const replies =
      runnable.length === 0 ? [] : await withConnection(runnable, (c) => c.sendMany(runnable.map((r) => r.args)));
    let next = 0;
    const items = refusals.map((refused) => {
      const reply: RespReply = refused ? { type: "error", message: refused } : replies[next++]!;
      if (reply.type === "error") stats.errors++;
      return encodeItem(reply, base64);
    });
    return [200, `[${items.join(",")}]`];
  };

  const runMultiExec = async (body: unknown, base64: boolean): Promise<[number, string]> => {
    const commands = toCommandList(body);
    for (const command of commands) {
      const refused = refusal(command, true);
      if (refused) throw new BridgeError(400, refused);
    }
    stats.commands += commands.length;
    const replies = await withConnection(commands, (c) =>
      c.sendMany([["MULTI"], ...commands.map((command) => command.args), ["EXEC"]]),
    );
    const exec = replies[replies.length - 1]!;
    if (exec.type === "error") {
      // EXECABORT: a command was refused while queueing, nothing ran. Name the first reason.
      const queued = replies.slice(1, -1).find((r) => r.type === "error");
      const reason = queued?.type === "error" ? ` ${queued.message}` : "";
      throw new BridgeError(400, `${exec.message}${reason}`);
    }
    if (exec.type !== "array" || exec.value === null) {
      throw new BridgeError(400, "EXECABORT Transaction aborted");
    }
    if (exec.value.length !== commands.length) {
      throw new BridgeError(500, `ERR EXEC returned ${exec.value.length} replies for ${commands.length} commands`);
    }
    const items = exec.value.map((reply) => {
      if (reply.type === "error") stats.errors++;
      return encodeItem(reply, base64);
    });
    return [200, `[${items.join(",")}]`];
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawPath = req.url ?? "/";
    const query = rawPath.indexOf("?");
    const path = (query < 0 ? rawPath : rawPath.slice(0, query)).replace(TRAILING_SLASHES, "") || "/";

    if (path === STATS_PATH || path === STATS_RESET_PATH) {
      if (!authorized(req.headers.authorization)) return send(res, 401, errorBody("Unauthorized"));
      if (path === STATS_PATH && req.method === "GET") return send(res, 200, JSON.stringify(stats));
      if (path === STATS_RESET_PATH && req.method === "POST") {
        stats.requests = stats.commands = stats.errors = 0;
        return send(res, 200, JSON.stringify(stats));
      }
      return send(res, 405, errorBody("ERR method not allowed"), { allow: path === STATS_PATH ? "GET" : "POST" });
    }
    if (!ROUTES.has(path)) return send(res, 404, errorBody(`ERR unknown path ${path}`));

    stats.requests++;
    try {
      if (req.method !== "POST") throw new BridgeError(405, "ERR method not allowed: use POST");
      if (!authorized(req.headers.authorization)) throw new BridgeError(401, "Unauthorized");
      const raw = await readBody(req, maxBodyBytes);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch (error) {
        throw new BridgeError(400, `ERR request body is not valid JSON: ${describe(error)}`);
      }
      const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
      const [status, text] =
        path === "/pipeline"
          ? await runPipeline(body, base64)
          : path === "/multi-exec"
            ? await runMultiExec(body, base64)
            : await runSingle(body, base64);
      send(res, status, text);
    } catch (error) {
      stats.errors++;
      const status = error instanceof BridgeError ? error.status : 500;
      const headers: Record<string, string> = status === 405 ? { allow: "POST" } : {};
      if (status === 413) headers.connection = "close";
      send(res, status, errorBody(error instanceof BridgeError ? error.message : `ERR ${describe(error)}`), headers);
    }
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, errorBody(`ERR ${describe(error)}`)));
  });
  // Longer than undici's keep-alive so the client never reuses a socket the bridge is closing:
  // a failed fetch is retried by @upstash/redis and could run a command twice.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    stats: () => ({ ...stats }),
    resetStats: () => {
      stats.requests = stats.commands = stats.errors = 0;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      pool.close();
      await closed;
    },
  };
}
