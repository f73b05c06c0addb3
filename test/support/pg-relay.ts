import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP relay in front of a PostgreSQL server, for the workerd tests of the Hyperdrive path: the
 * Worker's Hyperdrive binding (miniflare's local Hyperdrive proxy) connects here, and the relay
 * passes every byte on unchanged. It does what the Neon bridge does for the HTTP path:
 *
 * - counts what the Worker sends (the frontend's messages: `Query` and `Execute` are statements,
 *   `Query` and `Sync` end a round trip; BEGIN/COMMIT/ROLLBACK are transaction control, not
 *   statements), so tests assert the same round-trip counts on both paths;
 * - plays an outage on request: while `down`, it accepts and at once closes every connection
 *   (and has cut the open ones), as a database that went away does. It keeps listening, because
 *   miniflare's proxy has no handler for a refused connection and would take the test process down;
 *   for the same reason an upstream that refuses (a killed server) closes the client too.
 */
export interface PgRelay {
  readonly port: number;
  stats(): RelayStats;
  resetStats(): void;
  /** Cuts every open connection and closes new ones until `up()`. */
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export interface RelayStats {
  requests: number;
  statements: number;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const TRANSACTION_CONTROL = /^\s*(BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK)\b/i;

export async function startPgRelay(upstream: { host: string; port: number }): Promise<PgRelay> {
  const stats: RelayStats = { requests: 0, statements: 0 };
  const open = new Set<Socket>();
  let isDown = false;

  const server: Server = createServer((client) => {
    if (isDown) return void client.destroy();
    const db = connect(upstream);
    open.add(client);
    const finish = () => {
      open.delete(client);
      client.destroy();
      db.destroy();
    };
    client.on("error", finish).on("close", finish);
    db.on("error", finish).on("close", finish);
    db.pipe(client);
    let buffered = Buffer.alloc(0);
    let started = false;
    client.on("data", (chunk: Buffer) => {
      db.write(chunk);
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (!started) {
          if (buffered.length < 8) return;
          const length = buffered.readInt32BE(0);
          if (buffered.length < length) return;
          const code = buffered.readInt32BE(4);
          buffered = buffered.subarray(length);
          if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) started = true;
          continue;
        }
        if (buffered.length < 5) return;
        const length = buffered.readInt32BE(1);
        if (buffered.length < length + 1) return;
        const type = String.fromCharCode(buffered[0]!);
        const body = buffered.subarray(5, length + 1);
        buffered = buffered.subarray(length + 1);
        if (type === "Q") {
          const text = body.toString("utf8", 0, Math.max(0, body.length - 1));
          if (!TRANSACTION_CONTROL.test(text)) {
            stats.statements += 1;
            stats.requests += 1;
          }
        } else if (type === "E") {
          stats.statements += 1;
        } else if (type === "S") {
          stats.requests += 1;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    stats: () => ({ ...stats }),
    resetStats() {
      stats.requests = 0;
      stats.statements = 0;
    },
    down() {
      isDown = true;
      for (const socket of open) socket.destroy();
    },
    up() {
      isDown = false;
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
