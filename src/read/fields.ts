/**
 * The zod pieces the read endpoints' schemas are built from (they validate requests AND generate
 * `/openapi.json`): query parameters and response fields with their messages and descriptions.
 */
import { MAX_NAME_LENGTH } from "../domain/limits";
import * as z from "../zod";
import { INTERVALS } from "./range";

/** Control characters (NUL included): no stored name holds one, and PostgreSQL refuses NUL in text. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** An event name, category or property name parameter. */
export const nameParam = (what: string) =>
  z
    .string()
    .min(1, { error: "must not be empty" })
    .max(MAX_NAME_LENGTH, { error: `must be at most ${MAX_NAME_LENGTH} characters` })
    .refine((value) => !CONTROL_CHARACTER.test(value), { error: "must not contain control characters (such as NUL)" })
    .describe(what);

/** A whole-number parameter in [min, max]. */
export const intParam = (min: number, max: number, what: string) =>
  z.coerce
    .number({ error: "must be a whole number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .describe(what);

/** `interval` of the endpoints read from the hourly and daily rollups (see `intervalRange`). */
export const intervalParam = z
  .enum(INTERVALS, { error: "must be hour or day" })
  .default("hour")
  .describe("Bucket width: `hour` (range ≤ 31 days, default span 24 h) or `day` (range ≤ 5 years, default span 30 days).");

export const isoTime = (what: string) => z.string().describe(`${what} (ISO-8601, UTC).`).meta({ example: "2026-11-26T07:00:00.000Z" });
export const count = (what: string) => z.number().int().min(0).describe(what);
export const completeFlag = z
  .boolean()
  .describe("false for the open bucket and for buckets with late events not yet re-rolled up (they may still change).");
export const importedFlag = z
  .literal(true)
  .optional()
  .describe("Present when history imported from the legacy system's aggregates (`npm run import -- legacy-tables`) contributed to this row.");
