import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEV_EMBEDDED_PG_PORT, DEV_IMPORT_KEY, DEV_PORT, DEV_READ_TOKEN, DEV_WRITE_KEY, ROOT, startDevStack, type DevStack } from "../../scripts/lib/dev-stack";
import { devStateOf } from "../../scripts/lib/dev-state";
import { chooseDevVars, CONFIG_VARIABLES, readDevVars, STACK_OWNED } from "../../scripts/lib/dev-vars";
import { ensureProgram, PSQL, type SystemProgram } from "../../scripts/lib/system-deps";
import { ConfigSchema } from "../../src/config";

/**
 * The README as a new user meets it: its shell examples are run, in order, against a fresh local
 * stack (what `npm run dev` starts: embedded TimescaleDB, private Redis, both bridges, wrangler
 * dev), and what they print is compared with the samples next to them. Plus the static promises:
 * no fixed dates, every variable defined once, the documented token equal to the stack's.
 */

const README = readFileSync(resolve(ROOT, "README.md"), "utf8");
const JQ: SystemProgram = { names: ["jq"], aptPackage: "jq", otherwise: "macOS: `brew install jq`" };

interface Block {
  lang: string;
  code: string;
  /** The `## ` section it is in. */
  section: string;
  /** Its index among all the README's fenced blocks. */
  index: number;
}

const FENCE = /^```(\w*)\n([\s\S]*?)^```$/gm;
const SECTION = /^## (.+)$/gm;

function blocks(markdown: string): Block[] {
  const sections = [...markdown.matchAll(SECTION)].map((m) => ({ at: m.index, title: m[1]! }));
  return [...markdown.matchAll(FENCE)].map((m, index) => ({
    lang: m[1]!,
    code: m[2]!,
    section: sections.filter((s) => s.at < m.index).at(-1)?.title ?? "",
    index,
  }));
}

const ALL = blocks(README);
const SHELL = ALL.filter((b) => b.lang === "sh");
const apiShell = SHELL.filter((b) => b.section === "API");
const DEFINITIONS = apiShell[0]!;
/** A command line of a shell block (not a comment: comments carry the sample output). */
const commandLines = (b: Block) => b.code.split("\n").filter((line) => !line.trimStart().startsWith("#"));
const defined = (name: string) => new RegExp(`^${name}=(\\S+)`, "m").exec(DEFINITIONS.code)?.[1];
const ISO_DATE = /\b\d{4}-\d{2}-\d{2}\b/;
const VARIABLE_USE = /\$\{?([A-Z_][A-Z0-9_]*)/g;

function run(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(file, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolvePromise({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The sample output of a block: its `# …` comment lines that hold JSON (the commands' own comments excluded). */
function commentOutput(b: Block): string[] {
  return b.code
    .split("\n")
    .filter((line) => /^#\s+[{["]/.test(line))
    .map((line) => line.replace(/^#\s/, ""));
}

/**
 * `actual` has the documented shape of `sample`: every key of the sample (recursively), values of
 * the same JSON type (`null` in the sample stands for any value), arrays compared by their first
 * element when both have one. Values differ from run to run (times, counts, latencies).
 */
function expectShape(actual: unknown, sample: unknown, path = "$"): void {
  if (sample === null) return;
  if (Array.isArray(sample)) {
    expect(Array.isArray(actual), `${path} is an array`).toBe(true);
    const list = actual as unknown[];
    if (sample.length > 0 && list.length > 0) expectShape(list[0], sample[0], `${path}[0]`);
    return;
  }
  if (typeof sample === "object") {
    expect(typeof actual === "object" && actual !== null && !Array.isArray(actual), `${path} is an object`).toBe(true);
    for (const [key, value] of Object.entries(sample)) {
      expect(actual, `${path} has "${key}"`).toHaveProperty([key]);
      expectShape((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    }
    return;
  }
  expect(typeof actual, `${path} is a ${typeof sample}`).toBe(typeof sample);
}

/** The JSON values one after the other in `text` (jq prints each value over several lines). */
function jsonValues(text: string): unknown[] {
  const values: unknown[] = [];
  let rest = text.trim();
  while (rest) {
    let end = rest.length;
    for (; end > 0; end--) {
      try {
        values.push(JSON.parse(rest.slice(0, end)));
        break;
      } catch {
        /* shorter */
      }
    }
    if (end === 0) throw new Error(`not JSON: ${rest.slice(0, 200)}`);
    rest = rest.slice(end).trim();
  }
  return values;
}

describe("README: static promises", () => {
  test("the API examples define BASE, WRITE_KEY, READ_TOKEN, IMPORT_KEY once, equal to what npm run dev uses", () => {
    expect(defined("BASE")).toBe(`http://127.0.0.1:${DEV_PORT}`);
    expect(defined("WRITE_KEY")).toBe(DEV_WRITE_KEY);
    expect(defined("READ_TOKEN")).toBe(DEV_READ_TOKEN);
    expect(defined("IMPORT_KEY")).toBe(DEV_IMPORT_KEY);
    for (const name of ["BASE", "WRITE_KEY", "READ_TOKEN", "IMPORT_KEY"]) {
      const definitions = SHELL.flatMap((b) => commandLines(b).filter((line) => line.startsWith(`${name}=`)));
      expect(definitions, name).toHaveLength(1);
    }
  });

  test("every variable a shell example uses is defined there", () => {
    const names = new Set(["BASE", "WRITE_KEY", "READ_TOKEN", "IMPORT_KEY"]);
    // The deployment's own settings, documented in the Configuration and Local development tables.
    const documentedElsewhere = new Set(["TEST_TIMESCALE_URL", "TEST_TIMESCALE_APACHE_URL", "DATABASE_URL"]);
    for (const b of SHELL) {
      const local = new Set(commandLines(b).flatMap((line) => [...line.matchAll(/(?:^|\s)([A-Z_][A-Z0-9_]*)=/g)].map((m) => m[1]!)));
      for (const line of commandLines(b)) {
        for (const [, name] of line.matchAll(VARIABLE_USE)) {
          expect(names.has(name!) || local.has(name!) || documentedElsewhere.has(name!), `$${name} in block ${b.index}`).toBe(true);
        }
      }
    }
  });

  test("no shell example carries a fixed date", () => {
    for (const b of SHELL) for (const line of commandLines(b)) expect(line, `block ${b.index}`).not.toMatch(ISO_DATE);
  });

  test("the quick start names the port, and the psql example the embedded database's", () => {
    const quickStart = SHELL.find((b) => b.section === "Quick start")!;
    expect(quickStart.code).toContain(`http://127.0.0.1:${DEV_PORT} (PORT)`);
    const psql = SHELL.find((b) => b.code.startsWith("psql "))!;
    expect(psql.code).toContain(`@127.0.0.1:${DEV_EMBEDDED_PG_PORT}/`);
  });

  test(".dev.vars.example holds the same write key and read token, and a valid configuration", () => {
    const example = readDevVars(resolve(ROOT, ".dev.vars.example"));
    expect(example.WRITE_KEYS).toBe(DEV_WRITE_KEY);
    expect(example.READ_TOKEN).toBe(DEV_READ_TOKEN);
    expect(ConfigSchema.safeParse(example).success).toBe(true);
  });

  test.each([["sh"], ["bash"]])("hours_ago computes UTC times from the clock under %s", async (shell) => {
    const { stdout, code } = await run(shell, ["-c", `${DEFINITIONS.code}\nhours_ago 0; hours_ago 2; hours_ago 0.5`]);
    expect(code).toBe(0);
    const [now, twoAgo, halfAgo] = stdout.trim().split("\n");
    for (const value of [now, twoAgo, halfAgo]) expect(value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    // Computed, not written down: within a minute of this process's clock.
    expect(Math.abs(Date.parse(now!) - Date.now())).toBeLessThan(60_000);
    expect(Math.round((Date.parse(now!) - Date.parse(twoAgo!)) / 60_000)).toBe(120);
    expect(Math.round((Date.parse(now!) - Date.parse(halfAgo!)) / 60_000)).toBe(30);
  });
});

describe("npm run dev's variables", () => {
  test("every variable of the configuration schema is passed on from the environment or .dev.vars", () => {
    const env = Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, `env-${name}`]));
    const fromEnv = chooseDevVars(env, {}, { WRITE_KEYS: "default" });
    const passed = CONFIG_VARIABLES.filter((n) => !(STACK_OWNED as readonly string[]).includes(n) && n !== "DATABASE_URL");
    expect(Object.keys(fromEnv.vars).sort()).toEqual([...passed].sort());
    for (const name of passed) expect(fromEnv.vars[name]).toBe(`env-${name}`);
    expect(fromEnv.databaseUrl).toBe("env-DATABASE_URL");
    expect(fromEnv.replaced.sort()).toEqual([...STACK_OWNED].sort());

    // The schema's optional knobs are part of it (not a hand-kept list).
    for (const knob of ["RATE_LIMIT_PER_MINUTE", "BUFFER_MAX_ENTRIES", "REDIS_DEDUPE_SECONDS", "KEEP_QUERY_PARAMS"]) {
      expect(CONFIG_VARIABLES).toContain(knob);
    }
  });

  test(".dev.vars is read, and the environment wins over it", () => {
    const dir = mkdtempSync(join(tmpdir(), "eaw-devvars-"));
    try {
      const file = join(dir, ".dev.vars");
      writeFileSync(
        file,
        [
          "# comment",
          "RATE_LIMIT_PER_MINUTE=5",
          'ALLOWED_ORIGINS="https://a.example, https://b.example"',
          "export BUFFER_MAX_ENTRIES=10 # trailing comment",
          "UPSTASH_REDIS_REST_URL=http://127.0.0.1:8079",
          "",
        ].join("\n"),
      );
      const devVars = readDevVars(file);
      const chosen = chooseDevVars({ BUFFER_MAX_ENTRIES: "20" }, devVars, { READ_TOKEN: DEV_READ_TOKEN });
      expect(chosen.vars).toEqual({
        READ_TOKEN: DEV_READ_TOKEN,
        RATE_LIMIT_PER_MINUTE: "5",
        ALLOWED_ORIGINS: "https://a.example, https://b.example",
        BUFFER_MAX_ENTRIES: "20",
      });
      expect(chosen.replaced).toEqual(["UPSTASH_REDIS_REST_URL"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("README: the examples against a fresh local stack", () => {
  let stack: DevStack;
  let stateDir: string;
  /** The definitions block, pointed at this stack's worker. */
  let prelude: string;
  const sh = (code: string) => run("bash", ["-c", `set -e\n${prelude}\n${code}`], { DEV_STATE_FILE: join(stateDir, "dev.json") });

  beforeAll(async () => {
    stack = await startDevStack({ quiet: true, vars: { WRITE_KEYS: DEV_WRITE_KEY, READ_TOKEN: DEV_READ_TOKEN, IMPORT_KEYS: DEV_IMPORT_KEY } });
    stateDir = mkdtempSync(join(tmpdir(), "eaw-readme-"));
    writeFileSync(join(stateDir, "dev.json"), JSON.stringify(devStateOf(stack)));
    const definition = `BASE=http://127.0.0.1:${DEV_PORT}`;
    expect(DEFINITIONS.code).toContain(definition);
    prelude = DEFINITIONS.code.replace(definition, `BASE=${stack.baseUrl}`);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  test("the quick start's health check answers as shown", async () => {
    const quick = SHELL.find((b) => b.section === "Quick start" && b.code.includes("/health"))!;
    const { stdout, code } = await sh(quick.code.replace(`http://127.0.0.1:${DEV_PORT}`, stack.baseUrl));
    expect(code).toBe(0);
    expectShape(JSON.parse(stdout), JSON.parse(commentOutput(quick)[0]!));
    // Without the read token /health is the public view: status and which stores answer.
    expect(JSON.parse(stdout)).toMatchObject({ status: "ok", redis: { ok: true }, postgres: { ok: true }, problems: [] });
  });

  test("every API example, in order, prints what its sample shows", async () => {
    ensureProgram(JQ); // the openapi example pipes into jq
    const examples = apiShell.slice(1);
    expect(examples.length).toBeGreaterThanOrEqual(7);
    for (const example of examples) {
      const { stdout, stderr, code } = await sh(example.code);
      expect({ block: example.index, code, stderr }).toEqual({ block: example.index, code: 0, stderr: "" });
      const inline = commentOutput(example);
      const next = ALL[example.index + 1];
      if (inline.length > 0) {
        // Exactly what the sample shows (the ingest answers; the OpenAPI version and routes).
        expect(jsonValues(stdout)).toEqual(jsonValues(inline.join("\n")));
      } else {
        expect(next?.lang, `block ${example.index} is followed by its sample`).toBe("json");
        const answer = JSON.parse(stdout) as Record<string, unknown>;
        expect(answer, `block ${example.index} answered an error`).not.toHaveProperty("error");
        expectShape(answer, JSON.parse(next!.code));
      }
    }
  }, 120_000);

  test("npm run cron runs a job and prints its summary; an unknown expression is reported as one", async () => {
    const cron = SHELL.find((b) => b.code.startsWith("npm run cron"))!;
    const { stdout, code } = await sh(commandLines(cron).join("\n"));
    expect(code).toBe(0);
    const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
    const sample = commentOutput(cron)[0]!;
    expect(summary).toMatchObject({ job: "drain", outcome: "ok" });
    for (const key of [...sample.matchAll(/"(\w+)":/g)].map((m) => m[1]!)) expect(summary).toHaveProperty([key]);

    const unknown = await sh('npm run -s cron -- "5 4 * * *"');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown cron expression "5 4 * * *": the worker ran no job for it');
    const hourly = await sh("npm run -s cron -- hourly");
    expect(hourly.code).toBe(0);
    expect(JSON.parse(hourly.stdout)).toMatchObject({ job: "hourly", outcome: "ok" });
  }, 120_000);

  test("the psql example reaches the embedded database as printed", async () => {
    const psql = SHELL.find((b) => b.code.startsWith("psql "))!;
    const binary = ensureProgram(PSQL);
    const command = psql.code
      .trim()
      .replace(`127.0.0.1:${DEV_EMBEDDED_PG_PORT}`, `127.0.0.1:${stack.database.embedded!.socketPort}`)
      .replace(/^psql /, `"${binary}" `);
    const { stdout, stderr, code } = await sh(command);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toMatch(/^\s*job\s*\|\s*outcome\s*\|\s*counts/);
    expect(stdout).toContain("drain");
  });

  test("npm run cron without a running npm run dev says so", async () => {
    const result = await run("npm", ["run", "-s", "cron", "--", "drain"], { DEV_STATE_FILE: join(stateDir, "missing.json") });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("npm run dev is not running");
  });
});
