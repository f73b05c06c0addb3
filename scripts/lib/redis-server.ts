import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { freePort, waitFor } from "./ports";

/** A private `redis-server` process owned by the caller (tests, `npm run dev`, benchmarks). */
export interface PrivateRedis {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s). Safe to call twice. */
  stop(): Promise<void>;
  /** Starts it again on the same port after `stop()`, empty (persistence is off). */
  start(): Promise<void>;
}

const INSTALL_HINT =
  "redis-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install -y redis-server`, " +
  "macOS: `brew install redis`) or set REDIS_URL to a Redis server you already run.";

/** Throws a message that says how to install Redis when `redis-server` is not on PATH. */
export function assertRedisInstalled(): void {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0) throw new Error(INSTALL_HINT);
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
 * Spawns `redis-server` on a free loopback port with persistence off, so nothing is shared with a
 * Redis the machine already runs.
 */
export async function startPrivateRedis(options: { port?: number } = {}): Promise<PrivateRedis> {
  assertRedisInstalled();
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;

  const start = async () => {
    if (child && child.exitCode === null) return;
    child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
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
