/**
 * How a read endpoint is declared. An endpoint is one file in src/read/ that calls `readEndpoint`
 * with its path, its query and answer schemas and its `handle` function, and one line in the list
 * of src/read/index.ts. The route (GET, bearer READ_TOKEN, the documented errors and Cache-Control)
 * is built here; src/read/index.ts mounts it with `readAuth` and sets the Cache-Control the answer
 * asks for.
 *
 * `handle` sees the parsed query, the read stores and the request's clock, never the HTTP context,
 * so this file and the endpoints import nothing of the Worker: the dashboard imports their answer
 * types (`import type`) under the browser's tsconfig.
 */
import { createRoute } from "@hono/zod-openapi";
import type * as z from "../zod";
import type { RedisBufferStore } from "../storage/buffer-store";
import { cacheHeader } from "./cache";
import { READ_ERRORS } from "./errors";
import type { RedisMinuteTotals } from "./migration/minutes";
import type { RedisRealtimeStore } from "./realtime";
import type { ReadDatabase } from "./sql";

/** What a read endpoint may ask (built once per env in src/services.ts). */
export interface ReadStores {
  postgres: ReadDatabase;
  realtime: RedisRealtimeStore;
  /** The per-minute totals of the live series (GET /realtime/minutes). */
  minutes: RedisMinuteTotals;
  /** The write-ahead buffer's figures (GET /migration/buffer). */
  buffer: RedisBufferStore;
}

/** An endpoint's answer: the 200 body and its Cache-Control (`cacheControl(…)` or `NO_STORE`). */
export interface Answer<T> {
  body: T;
  cacheControl: string;
}

export interface EndpointSpec<Q extends z.ZodObject, R extends z.ZodType> {
  /** Under /api/v1/analytics. */
  path: `/${string}`;
  summary: string;
  description: string;
  query: Q;
  /** The 200 answer. `cached`: its Cache-Control comes from `cacheControl` (documented as such). */
  ok: { description: string; schema: R; cached: boolean };
  handle(query: z.output<Q>, stores: ReadStores, now: Date): Promise<Answer<z.output<R>>>;
  /** The OpenAPI tag: `read` (the default) or `migration` (the dashboard's health questions). */
  tag?: "read" | "migration";
  /** The failures the route documents; READ_ERRORS unless given. */
  errors?: typeof READ_ERRORS;
  /**
   * The one store `handle` asks, when it says so: an unreachable one becomes 503
   * storage_unavailable naming it (src/read/index.ts). Without it, the app's error boundary
   * guesses the store from the error (`readStoreFailure`).
   */
  store?: "redis" | "postgres";
}

/** A declared read endpoint: its OpenAPI route and its handler. */
export function readEndpoint<Q extends z.ZodObject, R extends z.ZodType>(spec: EndpointSpec<Q, R>) {
  const content = { "application/json": { schema: spec.ok.schema } };
  const route = createRoute({
    method: "get",
    path: spec.path,
    tags: [spec.tag ?? "read"],
    summary: spec.summary,
    description: spec.description,
    request: { query: spec.query },
    responses: {
      200: spec.ok.cached ? { description: spec.ok.description, headers: cacheHeader, content } : { description: spec.ok.description, content },
      ...(spec.errors ?? READ_ERRORS),
    },
    security: [{ readToken: [] }],
  });
  return { route, handle: spec.handle, store: spec.store };
}

export type ReadEndpoint = ReturnType<typeof readEndpoint>;
