import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * Where a running `npm run dev` says how to reach its stack (for `npm run cron`); DEV_STATE_FILE
 * overrides it (the README test points `npm run cron` at its own stack that way).
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
