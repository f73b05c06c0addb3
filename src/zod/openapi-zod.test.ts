import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import * as z from "./index";

// In the bundle (and in these workerd tests) @hono/zod-openapi's `zod` is ./openapi-zod.ts: the
// schemas src/ builds from ./index must still get its `.openapi()` and land in the document.
describe("zod as @hono/zod-openapi sees it", () => {
  it("documents a schema built from src/zod", () => {
    const app = new OpenAPIHono();
    const query = z.object({ name: z.string().max(8).openapi({ example: "page" }) });
    app.openapi(createRoute({ method: "get", path: "/x", request: { query }, responses: { 200: { description: "ok" } } }), (c) => c.text("ok"));
    const doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "t", version: "1" } });
    expect(doc.paths?.["/x"]?.get?.parameters).toEqual([{ schema: { type: "string", maxLength: 8, example: "page" }, required: true, in: "query", name: "name" }]);
  });

  it("answers with zod's English messages", async () => {
    const app = new OpenAPIHono();
    const query = z.object({ name: z.string().max(3) });
    app.openapi(createRoute({ method: "get", path: "/x", request: { query }, responses: { 200: { description: "ok" } } }), (c) => c.text("ok"));
    const answer = (await (await app.request("/x?name=long")).json()) as { error: { message: string } };
    expect(JSON.parse(answer.error.message)).toMatchObject([{ path: ["name"], message: "Too big: expected string to have <=3 characters" }]);
  });
});
