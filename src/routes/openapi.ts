import { OpenAPIHono } from "@hono/zod-openapi";
import * as z from "../zod";
import type { AppEnv } from "../app";
import { BatchBodySchema, EnvelopeMetaSchema, EventSchema, IngestResultSchema } from "../domain/event-schema";
import { MAX_IMPORT_EVENTS } from "../domain/limits";
import { ErrorResponseSchema } from "../read/errors";
import { read } from "../read";

/** Where the read API and the ingest route are mounted (src/app.ts). */
export const ANALYTICS_BASE_PATH = "/api/v1/analytics";

/** The import body: the ingest envelope (or a bare array) with up to MAX_IMPORT_EVENTS events. */
const ImportBodySchema = z.union([
  EnvelopeMetaSchema.extend({ events: z.array(EventSchema).min(1).max(MAX_IMPORT_EVENTS) }),
  z.array(EventSchema).min(1).max(MAX_IMPORT_EVENTS),
]);

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });
const error = (description: string) => ({ description, content: json(ErrorResponseSchema) });

/**
 * Builds the OpenAPI 3.1 document from the zod schemas that validate the requests: the read
 * routes' own definitions (collected by OpenAPIHono when they were declared) and the ingest
 * endpoint from the ingest schemas in `domain/event-schema.ts`. Nothing is written by hand.
 */
function buildDocument() {
  // A documentation-only app: mounting `read` copies its route definitions under the base path.
  const spec = new OpenAPIHono<AppEnv>();
  spec.route(ANALYTICS_BASE_PATH, read);
  spec.openAPIRegistry.registerPath({
    method: "post",
    path: ANALYTICS_BASE_PATH,
    tags: ["ingest"],
    summary: "Ingest a batch of up to 50 events",
    description:
      "JSON (`application/json`) or `text/plain` (sendBeacon), optionally `Content-Encoding: gzip`. The write key comes from `X-Write-Key`, `?key=` or `write_key` in the body. Every event gets a result: accepted, duplicate (same event_id) or rejected by index with a reason; invalid events do not fail the batch.",
    request: {
      headers: z.object({
        "X-Write-Key": z.string().optional().describe("The public write key (or send `write_key` in the body, or `?key=`)."),
      }),
      query: z.object({ key: z.string().optional().describe("The write key, for transports that cannot set headers.") }),
      body: { required: true, content: { "application/json": { schema: BatchBodySchema }, "text/plain": { schema: BatchBodySchema } } },
    },
    responses: {
      202: { description: "Stored durably (Redis buffer or PostgreSQL); one result per event.", content: json(IngestResultSchema) },
      400: error("Malformed body (`malformed_json`, `invalid_utf8`, `invalid_body`)."),
      401: error("Missing or invalid write key."),
      403: error("Origin not allowed."),
      413: error("Body or batch too large."),
      415: error("Unsupported content type or encoding."),
      422: error("No valid event in the batch (`no_valid_events`)."),
      429: error("Rate limited (`details.scope`: `client` past its own limit, `key` past the write key's ceiling); retry after `Retry-After` seconds."),
      503: error("Storage unavailable, buffer full, or no write key configured (`service_misconfigured`); retry after `Retry-After` seconds."),
    },
  });
  spec.openAPIRegistry.registerPath({
    method: "post",
    path: "/api/v1/import",
    tags: ["import"],
    summary: "Import up to 1,000 historical events (server key)",
    description:
      "Events of any age inside raw retention (90 days by default), same body and per-event results as ingest. Key: `Authorization: Bearer <IMPORT_KEY>` or `X-Import-Key`; never from a browser (a request with an `Origin` header is refused). Stored exactly once by event_id directly in PostgreSQL; real-time counters are not touched; the hourly job rebuilds the rollups of the hours and days it touched.",
    request: {
      headers: z.object({
        Authorization: z.string().optional().describe("`Bearer <key>`, a key of IMPORT_KEYS."),
        "X-Import-Key": z.string().optional().describe("The import key, instead of Authorization."),
      }),
      body: { required: true, content: { "application/json": { schema: ImportBodySchema } } },
    },
    responses: {
      202: { description: "Stored in PostgreSQL; one result per event (too_old: before raw retention).", content: json(IngestResultSchema) },
      400: error("Malformed body."),
      401: error("Missing or invalid import key (`missing_import_key`, `invalid_import_key`)."),
      403: error("Sent from a browser origin (`origin_not_allowed`)."),
      413: error("Body over 5 MiB or more than 1,000 events."),
      415: error("Unsupported content type or encoding."),
      422: error("No event can be imported (`no_valid_events`)."),
      503: error("Database unavailable; retry after `Retry-After` seconds."),
    },
  });
  return spec.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "edge-analytics-worker",
      version: "1",
      description:
        "Ingests analytics event batches and answers dashboard questions. Read routes need `Authorization: Bearer <READ_TOKEN>`. Times are UTC ISO-8601; ranges are [from, to), widened to whole buckets.",
    },
    tags: [
      { name: "ingest", description: "Event ingestion (write key)." },
      { name: "read", description: "Dashboard reads (bearer READ_TOKEN)." },
      { name: "migration", description: "Migration health and the live series, for the dashboard (bearer READ_TOKEN)." },
      { name: "import", description: "Historical events from servers (IMPORT_KEYS)." },
    ],
  });
}

let cached: ReturnType<typeof buildDocument> | undefined;

/** The OpenAPI 3.1 document, built once per isolate. */
export function openApiDocument(): ReturnType<typeof buildDocument> {
  cached ??= buildDocument();
  return cached;
}
