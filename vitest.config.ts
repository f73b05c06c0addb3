import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { defineConfig, type TestProjectConfiguration } from "vitest/config";

/**
 * pg bundled once for the workerd projects, as wrangler bundles it for the Worker: the pool loads
 * pg's CommonJS files one by one and cannot `require` the ES module it resolves pg-protocol to
 * (brianc/node-postgres#3700). Node built-ins stay imports (nodejs_compat provides them).
 */
const PG_FOR_WORKERD = fileURLToPath(new URL("./node_modules/.cache/pg-workerd.mjs", import.meta.url));
buildSync({
  stdin: { contents: `import pg from "pg"; export const Client = pg.Client; export default pg;`, resolveDir: process.cwd() },
  bundle: true,
  format: "esm",
  platform: "node",
  conditions: ["workerd", "worker"],
  external: ["cloudflare:*", "pg-native"],
  outfile: PG_FOR_WORKERD,
  logLevel: "error",
});

const ZOD_AS_BUNDLED = fileURLToPath(new URL("./src/zod/openapi-zod.ts", import.meta.url));

/**
 * The workerd suite once per path to PostgreSQL (DB_DRIVER): `workerd` through Neon's HTTP driver
 * and the Neon bridge, `workerd-hyperdrive` through Hyperdrive bindings (miniflare's local
 * Hyperdrive proxy) and node-postgres, straight to the same databases behind counting relays —
 * one binding per tier, HYPERDRIVE being the `postgres` tier's.
 */
function workerdProject(driver: "neon-http" | "hyperdrive"): TestProjectConfiguration {
  return {
    plugins: [
      cloudflareTest(({ inject }) => {
        const stack = inject("stack");
        return {
          wrangler: { configPath: "./wrangler.toml" },
          miniflare: {
            bindings: {
              UPSTASH_REDIS_REST_URL: stack.upstashUrl,
              UPSTASH_REDIS_REST_TOKEN: stack.upstashToken,
              DATABASE_URL: stack.databaseUrl,
              NEON_FETCH_ENDPOINT: stack.neonEndpoint,
              WRITE_KEYS: "test-write-key,second-test-key",
              READ_TOKEN: "test-read-token-0123456789",
              REDIS_KEY_PREFIX: "test:",
              TEST_CONTROL_URL: stack.controlUrl,
              DB_DRIVER: driver,
            },
            ...(driver === "hyperdrive"
              ? {
                  hyperdrives: {
                    HYPERDRIVE: stack.hyperdriveUrls.postgres,
                    HYPERDRIVE_TIMESCALE: stack.hyperdriveUrls.timescale,
                    HYPERDRIVE_TIMESCALE_APACHE: stack.hyperdriveUrls["timescale-apache"],
                    HYPERDRIVE_CRASHABLE: stack.crashableUrl,
                  },
                }
              : {}),
          },
        };
      }),
    ],
    // `zod` as wrangler.toml's [alias] resolves it for the bundle (src/zod/openapi-zod.ts): the exact
    // specifier only, so `zod/v4` and the other subpaths stay zod's own.
    resolve: { alias: [{ find: "pg", replacement: PG_FOR_WORKERD }, { find: /^zod$/, replacement: ZOD_AS_BUNDLED }] },
    test: {
      name: driver === "neon-http" ? "workerd" : "workerd-hyperdrive",
      // The Worker's own unit tests do not depend on the path: once is enough. What only the
      // Hyperdrive path has (parity with the HTTP driver, its failures) runs in its project only.
      include: driver === "neon-http" ? ["src/**/*.test.ts", "test/worker/**/*.test.ts"] : ["test/worker/**/*.test.ts"],
      exclude: driver === "neon-http" ? ["test/worker/hyperdrive-*.test.ts", "**/node_modules/**"] : ["**/node_modules/**"],
      testTimeout: 30_000,
      // Tests stop and start the shared local servers: one file at a time, and one path after
      // the other (both use the same databases and Redis keys).
      fileParallelism: false,
      sequence: { groupOrder: driver === "neon-http" ? 0 : 1 },
    },
  };
}

/**
 * Three projects: `workerd` and `workerd-hyperdrive` run the Worker and its tests inside the real
 * runtime (through @cloudflare/vitest-pool-workers and the real wrangler.toml), once per path to
 * PostgreSQL; `node` runs the local bridges, migrations and other Node-side tests.
 * test/support/global-setup.ts starts the real local stack (private redis-server, fresh PostgreSQL
 * database, both bridges, the relays) once per run.
 */
export default defineConfig({
  test: {
    globalSetup: ["./test/support/global-setup.ts"],
    projects: [
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      workerdProject("neon-http"),
      workerdProject("hyperdrive"),
    ],
  },
});
