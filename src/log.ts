/**
 * One JSON object per log line (Workers Logs indexes the fields).
 * @example logEvent("warn", "direct_insert_failed", { entry, error: errorSummary(e) })
 */
export function logEvent(level: "info" | "warn" | "error", event: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/** The Upstash client appends the whole command (event payloads included) to its messages. */
const COMMAND_ECHO = /,? command was: [\s\S]*$/;
const CONNECTION_STRING = /postgres(ql)?:\/\/\S+/g;
const MAX_ERROR_LENGTH = 300;

/**
 * A short, safe description of an error for logs and health output: no echoed commands (which
 * carry user data), no connection strings, bounded length.
 */
export function errorSummary(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(COMMAND_ECHO, "").replace(CONNECTION_STRING, "postgres://…").slice(0, MAX_ERROR_LENGTH);
}
