import { Hono } from "hono";
const app = new Hono<{ Bindings: Env }>();
app.get("/health", (c) => c.json({ status: "ok", u: (c.env as unknown as Record<string, string>).UPSTASH_REDIS_REST_URL }));
export default { fetch: app.fetch, async scheduled() {} } satisfies ExportedHandler<Env>;
