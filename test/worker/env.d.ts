import type { TestStack } from "../support/global-setup";

declare module "vitest" {
  export interface ProvidedContext {
    stack: TestStack;
  }
}

declare global {
  namespace Cloudflare {
    interface Env {
      /** Test-only binding: the control server of test/support/global-setup.ts. */
      TEST_CONTROL_URL: string;
      UPSTASH_REDIS_REST_URL: string;
      UPSTASH_REDIS_REST_TOKEN: string;
      DATABASE_URL: string;
      NEON_FETCH_ENDPOINT: string;
      WRITE_KEYS: string;
      READ_TOKEN: string;
      REDIS_KEY_PREFIX: string;
      /** `neon-http` (project workerd) or `hyperdrive` (project workerd-hyperdrive). */
      DB_DRIVER: "neon-http" | "hyperdrive";
      /** The Hyperdrive bindings of the workerd-hyperdrive project, one per tier. */
      HYPERDRIVE?: Hyperdrive;
      HYPERDRIVE_TIMESCALE?: Hyperdrive;
      HYPERDRIVE_TIMESCALE_APACHE?: Hyperdrive;
      /** A private PostgreSQL the outage test kills (test/support/global-setup.ts). */
      HYPERDRIVE_CRASHABLE?: Hyperdrive;
    }
  }
}
