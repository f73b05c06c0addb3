/**
 * zod's classic API as one namespace, without the translated error messages.
 *
 * `@hono/zod-openapi` passes zod's whole `z` namespace to `extendZodWithOpenApi`, so the bundler
 * keeps every export of it, and with `z.locales` (and `z.core.locales`) the messages of every
 * language zod ships: 364 KB of the Worker's upload. This module is zod's namespace with those
 * two replaced by English alone, which zod's classic API installs by default and which every
 * message this Worker returns is written in. wrangler.toml's `[alias]` points the bare `zod`
 * import (the one `@hono/zod-openapi` makes) here, and src/zod/index.ts builds on it, so the
 * bundle holds one zod whose classes and configuration are those of zod itself.
 */
export * from "zod/v4";
// Local exports take precedence over the names `export *` brings in (ECMA-262, ResolveExport).
import * as core from "./core";
export { core };
export { locales } from "./core";
// The namespace of this very module (a module may import itself), as zod exports `z` and its default.
import * as z from "./classic";
export { z, z as default };
