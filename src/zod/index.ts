import { z } from "./classic";

// Workers forbid `new Function` in request scope; zod 4's JIT object parser uses it. Every module
// in src/ imports `z` from here, so the jitless parser is set once, before any schema is built
// (colinhacks/zod#4638, #4368).
z.config({ jitless: true });

export { z };
