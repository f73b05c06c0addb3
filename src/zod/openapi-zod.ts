import { ZodType } from "zod/v4";

/**
 * What `@hono/zod-openapi` gets for its `import { z } from "zod"` in the Worker bundle
 * (wrangler.toml `[alias]`; vitest.config.ts does the same for the workerd tests).
 *
 * It hands `z` to `extendZodWithOpenApi`, which reads `z.ZodType` alone (to add `.openapi()` to
 * its prototype); but passing zod's whole namespace as a value keeps every export of zod in the
 * bundle, its translated messages included: ~560 KiB of the upload. With this object it keeps
 * only what src/ uses. The `z` that `@hono/zod-openapi` re-exports is therefore this object in the
 * bundle: import zod from src/zod, never from `@hono/zod-openapi`.
 */
export const z = Object.freeze({ ZodType });
export default z;
