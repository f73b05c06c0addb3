/**
 * The read API for dashboards, mounted at `/api/v1/analytics` next to the ingest route (POST `/`).
 * Every route is a GET under `Authorization: Bearer <READ_TOKEN>` with its middleware attached to
 * the route itself, so nothing here runs for the ingest route. Each answer costs at most one
 * PostgreSQL statement or one Redis request.
 *
 * One endpoint is one file of this folder, or of migration/ for the dashboard's migration-health
 * questions (see src/read/endpoint.ts), and one line of ENDPOINTS.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../app";
import { readUnavailable, unreachableStore } from "../routes/store-errors";
import { readAuth } from "./auth";
import { setCache } from "./cache";
import type { ReadEndpoint } from "./endpoint";
import { invalidParameterHook } from "./errors";
import { breakdownEndpoint } from "./breakdown";
import { checksEndpoint } from "./checks";
import { bufferEndpoint } from "./migration/buffer";
import { consistencyEndpoint } from "./migration/consistency";
import { jobsEndpoint } from "./migration/jobs";
import { latencyEndpoint } from "./migration/latency";
import { minutesEndpoint } from "./migration/minutes";
import { storageEndpoint } from "./migration/storage";
import { popularAssetTypesEndpoint } from "./popular-asset-types";
import { realtimeEndpoint } from "./realtime";
import { seriesEndpoint } from "./series";
import { summaryEndpoint } from "./summary";

/** The read endpoints, in the order `/openapi.json` lists them. */
const ENDPOINTS = [
  summaryEndpoint,
  realtimeEndpoint,
  popularAssetTypesEndpoint,
  seriesEndpoint,
  breakdownEndpoint,
  checksEndpoint,
  // The dashboard's live series and migration-health questions (tag `migration`).
  minutesEndpoint,
  latencyEndpoint,
  consistencyEndpoint,
  bufferEndpoint,
  storageEndpoint,
  jobsEndpoint,
] as const;

export const read = new OpenAPIHono<AppEnv>({ defaultHook: invalidParameterHook });

read.openAPIRegistry.registerComponent("securitySchemes", "readToken", {
  type: "http",
  scheme: "bearer",
  description: "The READ_TOKEN secret.",
});

for (const endpoint of ENDPOINTS as readonly ReadEndpoint[]) {
  read.openapi({ ...endpoint.route, middleware: readAuth }, async (c) => {
    // The list erases each endpoint's own query type; the route's schema parsed it all the same.
    const query = c.req.valid("query" as never) as Parameters<ReadEndpoint["handle"]>[0];
    const answer = await ask(endpoint.store, c.req.path, () => endpoint.handle(query, c.var.services.read, new Date()));
    setCache(c, answer.cacheControl);
    return c.json(answer.body, 200);
  });
}

/** Runs a handler; when it names its store, an unreachable one becomes 503 storage_unavailable. */
async function ask<T>(store: "redis" | "postgres" | undefined, path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (store === undefined || unreachableStore(error) === null) throw error;
    throw readUnavailable(store, path, error);
  }
}
