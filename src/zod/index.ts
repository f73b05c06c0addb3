import { config } from "zod/v4";

// Workers forbid `new Function` in request scope; zod 4's JIT object parser uses it. Every module
// in src/ imports zod from here, so the jitless parser is set once, before any schema is built
// (colinhacks/zod#4638, #4368).
config({ jitless: true });

/**
 * zod's classic API. Import it as a namespace, `import * as z from "../zod"`, and only read its
 * members (`z.object`, `z.output<…>`): the bundler then keeps just the parts of zod that are used.
 * Handing `z` on as a value would keep all of zod, 40-odd translations of its messages included.
 * Do not import `"zod"` itself in src/: in the bundle that name is ./openapi-zod.ts
 * (docs/ARCHITECTURE.md, "Where things live", src/zod/).
 */
export * from "zod/v4";
