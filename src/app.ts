import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { requestId, type RequestIdVariables } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { ConfigError } from "./config";
import { BatchRejected } from "./domain/batch-rejected";
import { ApiError, fromBatchRejected } from "./errors";
import { errorSummary } from "./error-text";
import { logEvent } from "./log";
import { health } from "./routes/health";
import { ANALYTICS_BASE_PATH, openApiDocument } from "./routes/openapi";
import { read } from "./read";
import { ingest } from "./routes/ingest";
import { importRoute } from "./routes/import";
import { tracker } from "./routes/tracker";
import { dashboard } from "./routes/dashboard";
import { observeReads, readStoreFailure } from "./routes/store-errors";
import type { Services } from "./services";

/** Hono environment shared by every route: Worker bindings plus per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: RequestIdVariables & { services: Services };
};

/** A read API request: the GET routes under /api/v1/analytics (the ingest route is a POST there). */
function isRead(method: string, path: string): boolean {
  return method === "GET" && path.startsWith(`${ANALYTICS_BASE_PATH}/`);
}

/** Builds the services for a request's `env`; tests pass fakes. */
export type ServicesFactory = (env: Env) => Services;

/**
 * The HTTP application. `src/index.ts` wires the real services; route tests call
 * `createApp(() => fakes).request(...)`.
 */
export function createApp(servicesFor: ServicesFactory) {
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));
  app.use(async (c, next) => {
    c.set("services", servicesFor(c.env));
    await next();
  });

  app.route("/health", health);
  // The read API: GET routes only, each with its own auth middleware, so the ingest route
  // (POST on the same base path) is untouched by it.
  app.use(`${ANALYTICS_BASE_PATH}/*`, observeReads);
  app.route(ANALYTICS_BASE_PATH, read);
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  app.route("/api/v1/analytics", ingest);
  app.route("/api/v1/import", importRoute);
  app.route("/tracker.js", tracker);
  app.route("/", dashboard);

  app.notFound((c) => c.json({ error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}`, retryable: false } }, 404));

  // One error boundary: a stable shape, a retry hint, never internals or secrets.
  app.onError((error, c) => {
    if (error instanceof ApiError) {
      return error.getResponse();
    }
    if (error instanceof BatchRejected) {
      return fromBatchRejected(error).getResponse();
    }
    if (error instanceof ConfigError) {
      logEvent("error", "config_invalid", { problems: error.problems });
      c.header("Retry-After", "60");
      return c.json(
        { error: { code: "service_misconfigured", message: error.message, retryable: true } },
        503,
      );
    }
    const unreachable = isRead(c.req.method, c.req.path) ? readStoreFailure(c.req.path, error) : null;
    if (unreachable !== null) return unreachable;
    if (error instanceof HTTPException) {
      return c.json({ error: { code: "http_error", message: error.message, retryable: false } }, error.status);
    }
    const id = c.get("requestId");
    logEvent("error", "unhandled", { request_id: id, error: errorSummary(error) });
    return c.json(
      { error: { code: "internal_error", message: `Unexpected error (request ${id}); it has been logged.`, retryable: true } },
      500,
    );
  });
  return app;
}
