/**
 * GET /migration/storage: storage used per UTC day and the compression ratio, or why the tier has
 * none, from the recorded tier's storage report (migration 0009) in one statement.
 */
import * as z from "../../zod";
import type { SqlStatement } from "../../storage/sql";
import { NO_STORE } from "../cache";
import { readEndpoint } from "../endpoint";
import { EmptyQuerySchema, MIGRATION_ERRORS, count, readDoc } from "./common";

const StorageDaySchema = z.object({
  day: z.string().describe("UTC day (YYYY-MM-DD)."),
  bytes: count("Raw events of the day: table, indexes and TOAST (compressed size when compressed)."),
  compressed: z.boolean(),
});

export const StorageResponseSchema = z
  .object({
    tier: z.string().nullable().describe("The storage tier the migrations recorded."),
    database_bytes: count("pg_database_size of the database."),
    days: z.array(StorageDaySchema).describe("Days up to today, oldest first."),
    compression: z
      .union([
        z.object({
          available: z.literal(true),
          compressed_days: count("Compressed chunks (days)."),
          before_bytes: count("Their size before compression."),
          after_bytes: count("Their size after compression."),
          ratio: z.number().nullable().describe("before / after; null until a chunk is compressed."),
        }),
        z.object({ available: z.literal(false), reason: z.string() }),
      ])
      .describe("Compression figures, or why there are none on this tier."),
  })
  .meta({ id: "StorageResponse" });
export type StorageResponse = z.output<typeof StorageResponseSchema>;

/** The statement's document: the answer's tier, size and days, and the raw compression figures (null without compression). */
export type StorageDoc = Pick<StorageResponse, "tier" | "database_bytes" | "days"> & {
  compression: { chunks: number; before_bytes: number; after_bytes: number } | null;
};

/** The storage report of the recorded tier (migration 0009), with the tier. */
export const STORAGE_STATEMENT: SqlStatement = {
  text: `SELECT analytics_storage_report() || jsonb_build_object('tier', (SELECT value FROM analytics_meta WHERE key = 'tier')) AS doc`,
  values: [],
};

export const storageEndpoint = readEndpoint({
  path: "/migration/storage",
  tag: "migration",
  errors: MIGRATION_ERRORS,
  store: "postgres",
  summary: "Storage used per day and the compression ratio (or why there is none on this tier)",
  description: "Raw events per UTC day (partition or chunk, indexes included) and, in the `timescale` tier, compression before/after. One statement; never cached.",
  query: EmptyQuerySchema,
  ok: { description: "Per day, oldest first.", schema: StorageResponseSchema, cached: false },
  async handle(_query, stores) {
    const doc = await readDoc<StorageDoc>(stores.postgres, STORAGE_STATEMENT);
    const compression = doc.compression
      ? {
          available: true as const,
          compressed_days: Number(doc.compression.chunks),
          before_bytes: Number(doc.compression.before_bytes),
          after_bytes: Number(doc.compression.after_bytes),
          ratio: Number(doc.compression.after_bytes) > 0 ? Math.round((Number(doc.compression.before_bytes) / Number(doc.compression.after_bytes)) * 100) / 100 : null,
        }
      : {
          available: false as const,
          reason:
            doc.tier === "postgres"
              ? "Not available on this tier: plain PostgreSQL has no chunk compression."
              : "Not available on this tier: the Apache edition of TimescaleDB (Neon, Supabase) has no compression.",
        };
    return { cacheControl: NO_STORE, body: { tier: doc.tier, database_bytes: Number(doc.database_bytes), days: doc.days, compression } };
  },
});
