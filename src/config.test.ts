import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config";

const BASE = { UPSTASH_REDIS_REST_URL: "https://redis.example.com", UPSTASH_REDIS_REST_TOKEN: "token", WRITE_KEYS: "k" };
const PASSWORD = "pw-never-shown";

function problemsOf(env: object): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("DB_DRIVER: the path to PostgreSQL", () => {
  it("defaults to neon-http, which needs DATABASE_URL", () => {
    expect(loadConfig({ ...BASE, DATABASE_URL: `postgres://u:${PASSWORD}@h/db` }).DB_DRIVER).toBe("neon-http");
    expect(problemsOf({ ...BASE })).toEqual(["DATABASE_URL: required (DB_DRIVER is neon-http)"]);
  });

  it("hyperdrive needs the HYPERDRIVE binding and not DATABASE_URL", () => {
    const binding = { connectionString: `postgresql://u:${PASSWORD}@abc.hyperdrive.local:5432/db` };
    const config = loadConfig({ ...BASE, DB_DRIVER: "hyperdrive", HYPERDRIVE: binding });
    expect(config.DB_DRIVER).toBe("hyperdrive");
    expect(config.hyperdrive).toBe(binding);
    expect(problemsOf({ ...BASE, DB_DRIVER: "hyperdrive" })).toEqual([
      "HYPERDRIVE: required (DB_DRIVER is hyperdrive): add a [[hyperdrive]] binding named HYPERDRIVE to wrangler.toml",
    ]);
  });

  it("refuses a HYPERDRIVE that is a variable, an unknown driver, and never shows a value", () => {
    const asVariable = problemsOf({ ...BASE, DB_DRIVER: "hyperdrive", HYPERDRIVE: `postgres://u:${PASSWORD}@h/db` });
    expect(asVariable).toEqual(["HYPERDRIVE: must be a Hyperdrive binding ([[hyperdrive]] in wrangler.toml), not a variable"]);
    const unknown = problemsOf({ ...BASE, DB_DRIVER: "tcp", DATABASE_URL: `mysql://u:${PASSWORD}@h/db` });
    expect(unknown).toHaveLength(2);
    expect(unknown[0]).toMatch(/^DB_DRIVER: /);
    expect(unknown[1]).toMatch(/^DATABASE_URL: must start with postgres:\/\//);
    for (const problem of [...asVariable, ...unknown]) expect(problem).not.toContain(PASSWORD);
  });
});
