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
    }
  }
}
