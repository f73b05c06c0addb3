import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/**
 * Two projects: `workerd` runs the Worker and its unit tests inside the real runtime (through
 * @cloudflare/vitest-pool-workers and the real wrangler.toml); `node` runs the local bridges,
 * migrations and other Node-side tests. test/support/global-setup.ts starts the real local stack
 * (private redis-server, fresh PostgreSQL database, both bridges) once per run.
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
      {
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
                },
              },
            };
          }),
        ],
        test: {
          name: "workerd",
          include: ["src/**/*.test.ts", "test/worker/**/*.test.ts"],
          testTimeout: 30_000,
          // Tests stop and start the shared local servers: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
