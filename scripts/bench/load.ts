/** Runs scripts/bench/loadgen.ts in a child process and returns its result. */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import type { LoadResult, LoadSpec } from "./loadgen";
import { ROOT } from "./report";
import { onCleanup } from "./util";

export type { LoadResult, LoadSpec };

/** A fresh 8-hex-digit run id for `loadEventId`. */
export function newRunId(): string {
  return Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, "0");
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", resolve(import.meta.dirname, "loadgen.ts"), JSON.stringify(spec)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const stop = onCleanup("load generator", () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    // Hard bound: the run's duration plus the request timeout plus start-up.
    const timer = setTimeout(() => child.kill("SIGKILL"), (spec.durationSec + (spec.timeoutSec ?? 30) + 60) * 1000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      void stop();
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line) return reject(new Error(`load generator exited with ${code}`));
      try {
        resolvePromise(JSON.parse(line) as LoadResult);
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}
