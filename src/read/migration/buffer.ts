/** GET /migration/buffer: the Redis write-ahead buffer's depth and dead letters, in one Redis request. */
import * as z from "../../zod";
import { NO_STORE } from "../cache";
import { readEndpoint } from "../endpoint";
import { EmptyQuerySchema, MIGRATION_ERRORS, count } from "./common";

export const BufferResponseSchema = z
  .object({
    pending: count("Batches waiting in the Redis write-ahead buffer."),
    dead_letter: count("Entries in the dead-letter stream."),
    oldest_age_seconds: count("Age of the oldest pending batch (0 when empty)."),
  })
  .meta({ id: "BufferResponse" });
export type BufferResponse = z.output<typeof BufferResponseSchema>;

export const bufferEndpoint = readEndpoint({
  path: "/migration/buffer",
  tag: "migration",
  errors: MIGRATION_ERRORS,
  store: "redis",
  summary: "Redis write-ahead buffer depth and dead letters",
  description: "One Redis request (XLEN of both streams and the oldest entry). Never cached.",
  query: EmptyQuerySchema,
  ok: { description: "Buffer figures now.", schema: BufferResponseSchema, cached: false },
  async handle(_query, stores, now) {
    // XLEN of the buffer and the dead-letter stream and the oldest pending entry: one pipeline.
    const stats = await stores.buffer.stats();
    const age = stats.oldest_ms === null ? 0 : Math.max(0, Math.round((now.getTime() - stats.oldest_ms) / 1000));
    return { cacheControl: NO_STORE, body: { pending: stats.pending, dead_letter: stats.dead_letter, oldest_age_seconds: age } };
  },
});
