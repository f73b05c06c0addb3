import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { BatchRejected, BatchRejection } from "./domain/batch-rejected";

/** The JSON body every error response has: `{ error: { code, message, retryable } }`. */
export interface ApiErrorBody {
  error: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> };
}

export interface ApiErrorOptions {
  /** Whether sending the same request again later can succeed. @default false */
  retryable?: boolean;
  /** Seconds for the `Retry-After` header (429/503). Implies `retryable`. */
  retryAfterSeconds?: number;
  /** Public, JSON-safe detail for the client (e.g. per-event reasons of a 422); sent as `error.details`. */
  details?: Record<string, unknown>;
  /** Extra response headers, e.g. `WWW-Authenticate` on a 401 (RFC 9110 §11.6.1). */
  headers?: Record<string, string>;
  /** Internal context for logs (never serialised into the response). */
  cause?: unknown;
}

/**
 * The project's single error type: a Hono `HTTPException` that also carries a machine `code`
 * (snake_case, stable, documented) and a retry hint, so one `app.onError` boundary can answer every
 * expected failure with the same shape.
 *
 * @example
 * ```ts
 * throw new ApiError(413, "body_too_large", "request body exceeds 524288 bytes");
 * // app.onError: if (err instanceof ApiError) return err.getResponse();
 * ```
 */
export class ApiError extends HTTPException {
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(status: ContentfulStatusCode, code: string, message: string, options: ApiErrorOptions = {}) {
    super(status, { message, cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
    this.headers = options.headers;
    this.retryable = options.retryable ?? options.retryAfterSeconds !== undefined;
  }

  /** The response body, without internals (`cause` is deliberately left out). */
  toJSON(): ApiErrorBody {
    const error: ApiErrorBody["error"] = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }

  /** A JSON response with the stable error shape and `Retry-After` when set. */
  override getResponse(): Response {
    const headers = new Headers({ ...this.headers, "content-type": "application/json; charset=utf-8" });
    if (this.retryAfterSeconds !== undefined) headers.set("retry-after", String(Math.ceil(this.retryAfterSeconds)));
    return new Response(JSON.stringify(this.toJSON()), { status: this.status, headers });
  }
}

/** 400: the request as a whole cannot be read (malformed JSON, invalid UTF-8, wrong envelope). */
export const badRequest = (code: string, message: string, cause?: unknown): ApiError =>
  new ApiError(400, code, message, { cause });

/** 413: a size or count limit was exceeded; the message names the limit. */
export const payloadTooLarge = (code: string, message: string, cause?: unknown): ApiError =>
  new ApiError(413, code, message, { cause });

/** 415: a Content-Type or Content-Encoding the endpoint does not speak. */
export const unsupportedMediaType = (code: string, message: string): ApiError => new ApiError(415, code, message);

/** 422: well-formed but nothing to ingest. */
export const unprocessable = (code: string, message: string): ApiError => new ApiError(422, code, message);

const BATCH_REJECTION_STATUS: Record<BatchRejection, ContentfulStatusCode> = {
  invalid_body: 400,
  too_many_events: 413,
  empty_batch: 422,
};

/** The HTTP answer to a batch the domain rejected as a whole: 400, 413 or 422, never retryable. */
export const fromBatchRejected = (error: BatchRejected): ApiError =>
  new ApiError(BATCH_REJECTION_STATUS[error.code], error.code, error.message, { cause: error });
