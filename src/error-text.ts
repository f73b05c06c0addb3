/**
 * Turning an error into text, and keeping that text safe to log, record or return: the one place
 * that knows what must never leave the worker (connection strings, and the commands the Upstash
 * client echoes into its messages, which carry event payloads) and how long each kind of text may
 * be.
 */

/** The Upstash client appends the whole command (event payloads included) to its messages. */
const COMMAND_ECHO = /,? command was: [\s\S]*$/;
const CONNECTION_STRING = /postgres(ql)?:\/\/\S+/g;

/** Error text in a log line or in `/health`. */
export const LOG_ERROR_LENGTH = 300;
/** A PostgreSQL refusal recorded with a dead-lettered row. */
export const REFUSAL_ERROR_LENGTH = 500;
/** A failed job run's `error` in `analytics_job_runs` and its log line. */
export const RUN_ERROR_LENGTH = 1_000;

/**
 * The message of an error, unredacted: for code that reads it (SQLSTATE checks) or hands it to
 * its own caller (the local bridges). Node reports a refused localhost connection as an
 * AggregateError (IPv4 and IPv6 attempts), whose own message is empty.
 */
export function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(messageOf).join("; ");
  return error instanceof Error ? error.message || error.name : String(error);
}

/** Removes echoed commands and connection strings, then bounds the length. */
export function redact(text: string, maxLength: number): string {
  return text.replace(COMMAND_ECHO, "").replace(CONNECTION_STRING, "postgres://…").slice(0, maxLength);
}

/** The redacted message of an error, bounded to `maxLength` (a job run's error by default). */
export function errorMessage(error: unknown, maxLength = RUN_ERROR_LENGTH): string {
  return redact(messageOf(error), maxLength);
}

/**
 * A short, safe description of an error for logs and health output: its name and message, no
 * echoed commands, no connection strings, bounded length.
 */
export function errorSummary(error: unknown): string {
  return redact(error instanceof Error ? `${error.name}: ${error.message}` : String(error), LOG_ERROR_LENGTH);
}
