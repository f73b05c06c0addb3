/**
 * Why a whole batch cannot be ingested, in the domain's words. The domain throws it; the HTTP edge
 * (src/errors.ts `fromBatchRejected`, used by app.onError) answers it with a status, the code, the
 * message and `retryable: false`.
 */
export type BatchRejection =
  /** The body is not a batch (wrong envelope, conflicting fields, an unreadable sent_at). */
  | "invalid_body"
  /** More events than the endpoint accepts. */
  | "too_many_events"
  /** No events at all. */
  | "empty_batch";

export class BatchRejected extends Error {
  override readonly name = "BatchRejected";
  constructor(
    readonly code: BatchRejection,
    message: string,
  ) {
    super(message);
  }
}
