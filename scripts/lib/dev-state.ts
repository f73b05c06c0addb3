import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * Where a running `npm run dev` says how to reach its stack (for `npm run cron` and `npm run
 * dead-letters`; removed when it stops); DEV_STATE_FILE overrides it (the README test points
 * `npm run cron` at its own stack that way).
 */
export const DEV_STATE_FILE = process.env.DEV_STATE_FILE || resolve(import.meta.dirname, "../../.dev-stack/dev.json");

export interface DevState {
  pid: number;
  /** The local worker, e.g. `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** The stack's Neon SQL-over-HTTP bridge (the same endpoint the Worker uses). */
  neonUrl: string;
  /** The Worker's DATABASE_URL (through the Neon bridge). */
  databaseUrl: string;
  /** The Worker's connection settings (UPSTASH_REDIS_REST_URL, …, REDIS_KEY_PREFIX). */
  workerEnv: Record<string, string>;
}

/** The running `npm run dev`'s state, or undefined when none is running. */
export function readDevState(): DevState | undefined {
  if (!existsSync(DEV_STATE_FILE)) return undefined;
  const state = JSON.parse(readFileSync(DEV_STATE_FILE, "utf8")) as DevState;
  try {
    process.kill(state.pid, 0);
  } catch {
    return undefined;
  }
  return state;
}

/** The Worker settings `npm run dead-letters` needs to reach the stack. */
const WORKER_ENV_NAMES = ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "DATABASE_URL", "NEON_FETCH_ENDPOINT", "REDIS_KEY_PREFIX"];

/** The state of a started stack, as this process (`pid`) writes it to DEV_STATE_FILE. */
export function devStateOf(stack: { baseUrl: string; neon: { url: string }; vars: Record<string, string | undefined> }, pid = process.pid): DevState {
  return {
    pid,
    baseUrl: stack.baseUrl,
    neonUrl: stack.neon.url,
    databaseUrl: stack.vars.DATABASE_URL!,
    workerEnv: Object.fromEntries(WORKER_ENV_NAMES.filter((n) => stack.vars[n]).map((n) => [n, stack.vars[n]!])),
  };
}
