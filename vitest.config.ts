import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["./test/support/global-setup.ts"],
    projects: [
      {
        test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node" },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { UPSTASH_REDIS_REST_URL: inject("probe") } },
          })),
        ],
        test: { name: "workerd", include: ["src/**/*.test.ts", "test/worker/**/*.test.ts"] },
      },
    ],
  },
});
