/**
 * No-op worker for the harness ceiling (see wrangler.toml beside it). `POST /?sub=S&after=A`:
 * reads the body, makes S sequential subrequests (each POSTing the body to TARGET) before
 * answering 202, and A more in `ctx.waitUntil` after — the ingest route's shape in `direct` mode
 * is S = 1 (Redis), A = 2 (PostgreSQL insert, buffer delete); in `buffered` mode S = 1, A = 0.
 * Typed without the Workers types so that the Node typecheck (scripts/**) covers it.
 */
interface Env {
  TARGET: string;
}
interface Ctx {
  waitUntil(promise: Promise<unknown>): void;
}

async function subrequest(target: string, body: string): Promise<void> {
  const res = await fetch(target, { method: "POST", body, headers: { "content-type": "application/json" } });
  await res.arrayBuffer();
}

export default {
  async fetch(request: Request, env: Env, ctx: Ctx): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST") return new Response("ok");
    const sub = Number(url.searchParams.get("sub") ?? 0);
    const after = Number(url.searchParams.get("after") ?? 0);
    const body = await request.text();
    for (let i = 0; i < sub; i++) await subrequest(env.TARGET, body);
    if (after > 0) {
      ctx.waitUntil(
        (async () => {
          for (let i = 0; i < after; i++) await subrequest(env.TARGET, body).catch(() => undefined);
        })(),
      );
    }
    return Response.json({ accepted: 50, duplicates: 0, rejected: [] }, { status: 202 });
  },
};
