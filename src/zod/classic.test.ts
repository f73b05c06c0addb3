import { describe, expect, it } from "vitest";
import * as zod from "zod/v4";
import * as zodCore from "zod/v4/core";
import en from "zod/v4/locales/en.js";
import * as classic from "./classic";

// The bundle's `zod` (wrangler.toml [alias]) must be zod itself, less the translations: the same
// classes (so `.openapi()` from @hono/zod-openapi reaches the schemas built in src/) and the same
// English messages.
describe("src/zod/classic.ts", () => {
  const apart = new Set(["core", "locales", "z", "default"]);

  it("exports every value of zod's classic API, the very same ones", () => {
    const differing = Object.keys(zod).filter((name) => !apart.has(name) && (classic as Record<string, unknown>)[name] !== (zod as Record<string, unknown>)[name]);
    expect(differing).toEqual([]);
    expect(classic.z.ZodType).toBe(zod.ZodType);
    expect(classic.default).toBe(classic.z);
  });

  it("keeps zod's core, with English as the only locale", () => {
    const differing = Object.keys(zodCore).filter((name) => name !== "locales" && (classic.core as Record<string, unknown>)[name] !== (zodCore as Record<string, unknown>)[name]);
    expect(differing).toEqual([]);
    expect(classic.locales).toEqual({ en });
    expect(classic.core.locales).toBe(classic.locales);
  });

  it("reports errors in the same words as zod", () => {
    const schema = classic.z.object({ name: classic.z.string().max(3), n: classic.z.number().int() });
    const ours = schema.safeParse({ name: "long", n: 1.5 }).error?.issues.map((issue) => issue.message);
    const theirs = zod.z.object({ name: zod.z.string().max(3), n: zod.z.number().int() }).safeParse({ name: "long", n: 1.5 }).error?.issues.map((issue) => issue.message);
    expect(ours).toEqual(theirs);
    expect(ours).toEqual(["Too big: expected string to have <=3 characters", "Invalid input: expected int, received number"]);
  });
});
