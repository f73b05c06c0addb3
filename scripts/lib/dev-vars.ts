import { existsSync, readFileSync } from "node:fs";
import { ConfigSchema } from "../../src/config";

/**
 * Which Worker variables `npm run dev` passes on: every variable of the configuration schema
 * (src/config.ts, so a new one needs no change here), from the environment or `.dev.vars`
 * (the environment wins), except the ones that wire the Worker to the stack's own bridges.
 */

/** Set by the stack itself: it starts the bridges the Worker talks to. */
export const STACK_OWNED = ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "NEON_FETCH_ENDPOINT"] as const;

/** Every variable the Worker reads, in the schema's order. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(ConfigSchema.shape);

/**
 * Parses a `.dev.vars` file (dotenv format: `NAME=value`, `#` comments, optional single or double
 * quotes, `export ` prefix). A missing file is empty.
 */
export function readDevVars(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const vars: Record<string, string> = {};
  for (const raw of readFileSync(path, "utf8").split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!;
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted) value = quoted[1] === '"' ? quoted[2]!.replace(/\\n/g, "\n") : quoted[2]!;
    else value = value.replace(/\s+#.*$/, "");
    vars[match[1]!] = value;
  }
  return vars;
}

export interface DevVarsChoice {
  /** `--var`s for the Worker (DATABASE_URL excluded: the stack decides it). */
  vars: Record<string, string>;
  /** DATABASE_URL from the environment or .dev.vars: use that PostgreSQL instead of the embedded one. */
  databaseUrl: string | undefined;
  /** Stack-owned names that .dev.vars or the environment set, which the stack replaces. */
  replaced: string[];
}

/**
 * Picks the Worker's variables from `env` and `devVars` (env first), over `defaults`.
 *
 * @example
 * chooseDevVars({ RATE_LIMIT_PER_MINUTE: "5" }, {}, { WRITE_KEYS: "k" }).vars
 * // { WRITE_KEYS: "k", RATE_LIMIT_PER_MINUTE: "5" }
 */
export function chooseDevVars(
  env: Record<string, string | undefined>,
  devVars: Record<string, string>,
  defaults: Record<string, string>,
): DevVarsChoice {
  const vars: Record<string, string> = { ...defaults };
  const replaced: string[] = [];
  let databaseUrl: string | undefined;
  for (const name of CONFIG_VARIABLES) {
    const value = env[name] ?? devVars[name];
    if (value === undefined) continue;
    if ((STACK_OWNED as readonly string[]).includes(name)) replaced.push(name);
    else if (name === "DATABASE_URL") databaseUrl = value || undefined;
    else vars[name] = value;
  }
  return { vars, databaseUrl, replaced };
}
