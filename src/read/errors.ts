/** The read API's error answers: the error body schema for the document and 400 invalid_parameter. */
import { ApiError } from "../errors";
import * as z from "../zod";
import type { ZodError } from "../zod";

/** The project's error body (src/errors.ts), for the document. */
export const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.string().describe("Stable machine code, e.g. invalid_parameter, invalid_read_token."),
      message: z.string().describe("What failed; for invalid_parameter it starts with the parameter's name."),
      retryable: z.boolean(),
    }),
  })
  .meta({ id: "Error" });

/** An OpenAPI response with the error body. */
export const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: ErrorResponseSchema } } });

/** The failures every read endpoint documents. */
export const READ_ERRORS = {
  400: errorResponse("A parameter is invalid; the message names it (`invalid_parameter`)."),
  401: errorResponse("Missing or wrong bearer token (`missing_read_token`, `invalid_read_token`), or no READ_TOKEN configured (`read_api_disabled`)."),
  503: errorResponse("Storage unreachable or misconfigured."),
} as const;

/** "interval: must be hour or day; bogus: unknown parameter" */
export function describeIssues(error: ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === "unrecognized_keys") return issue.keys.map((key) => `${key}: unknown parameter`).join("; ");
      const name = issue.path.join(".") || "(query)";
      // A coerced parameter that is not a number ("abc" → NaN) is invalid, not missing.
      const missing = issue.code === "invalid_type" && issue.input === undefined && issue.expected !== "number";
      return `${name}: ${missing ? "is required" : issue.message}`;
    })
    .join("; ");
}

/** The hook of every read router: a request that fails its schema is a 400 naming each parameter. */
export const invalidParameterHook = (result: { success: true } | { success: false; error: ZodError }) => {
  if (!result.success) throw new ApiError(400, "invalid_parameter", describeIssues(result.error));
};
