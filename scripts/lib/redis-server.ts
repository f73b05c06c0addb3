import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { freePort, waitFor } from "./ports";
import { ensureProgram, REDIS_SERVER } from "./system-deps";

/** A private `redis-server` process owned by the caller (tests, `npm run dev`, benchmarks). */
export interface PrivateRedis {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s). Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Starts it again on the same port after `stop()`: empty without `dataDir`, else with
   * everything it had acknowledged (the append-only file is replayed).
   */
  start(): Promise<void>;
}

/**
 * The `redis-server` binary: from PATH, else installed with apt-get (root on Debian/Ubuntu), else
 * an error that names the command to run (or to set REDIS_URL).
 */
export function redisServerPath(): string {
  try {
    return ensureProgram(REDIS_SERVER, (line) => console.error(`[redis] ${line}`));
  } catch (error) {
    throw new Error(`${(error as Error).message} Or set REDIS_URL to a Redis server you already run.`);
  }
}

function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setTimeout(500);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (d) => {
      socket.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Persistence with a data directory: the append-only file, fsynced every second. Redis writes
 * each command to the file before it answers, so a restart or a crash of redis-server loses
 * nothing it acknowledged; only a crash of the whole machine can lose the last second
 * (`appendfsync always` would close that too, at one fsync per write).
 */
const AOF_ARGS = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""];
const NO_PERSISTENCE_ARGS = ["--appendonly", "no", "--save", ""];

/**
 * Spawns `redis-server` on a free loopback port, so nothing is shared with a Redis the machine
 * already runs. With `dataDir` (`npm run dev`) it keeps its data there in an append-only file;
 * without it (tests) persistence is off and a restart empties it.
 */
export async function startPrivateRedis(options: { port?: number; dataDir?: string } = {}): Promise<PrivateRedis> {
  const executable = redisServerPath();
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const persistence = options.dataDir ? ["--dir", options.dataDir, ...AOF_ARGS] : NO_PERSISTENCE_ARGS;

  const start = async () => {
    if (child && child.exitCode === null) return;
    child = spawn(
      executable,
      ["--port", String(port), "--bind", "127.0.0.1", "--protected-mode", "no", ...persistence],
      { stdio: "ignore" },
    );
    const spawned = child;
    await waitFor(`redis-server on port ${port}`, async () => {
      if (spawned.exitCode !== null) throw new Error(`redis-server exited with code ${spawned.exitCode}`);
      return pingRedis(port);
    });
  };

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), 3_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
