/**
 * Authentication of the read API: `Authorization: Bearer <READ_TOKEN>`, compared in constant time.
 * Every read route carries `readAuth` as its own middleware (the ingest route on the same base path
 * never runs it); /health uses `carriesReadToken` to choose its operator view.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app";
import { problemFor, type Config } from "../config";
import { ApiError } from "../errors";
import { findSecret } from "../http/secrets";

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
/** The challenge a 401 carries so clients know which scheme to use (RFC 6750 §3). */
const BEARER_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="analytics"' };

/**
 * Whether an Authorization header carries the configured READ_TOKEN (constant-time). False when
 * no usable READ_TOKEN is configured. /health uses it to choose its operator view.
 */
export async function carriesReadToken(config: Config, authorization: string | undefined): Promise<boolean> {
  const match = BEARER.exec(authorization ?? "");
  if (!match || !config.READ_TOKEN || problemFor(config, "read")) return false;
  return (await findSecret(match[1]!, [config.READ_TOKEN])) !== null;
}

/**
 * Checks the bearer token against READ_TOKEN by comparing SHA-256 digests in constant time, so
 * neither the token's content nor its length shows in the response time. Answers with the
 * project's JSON error shape (hono/bearer-auth would answer plain text).
 */
export const readAuth = createMiddleware<AppEnv>(async (c, next) => {
  const { config } = c.var.services;
  const misconfigured = problemFor(config, "read");
  if (misconfigured) {
    throw new ApiError(503, "service_misconfigured", misconfigured.message, { retryAfterSeconds: 60 });
  }
  if (!config.READ_TOKEN) {
    throw new ApiError(401, "read_api_disabled", "The read API is disabled: no READ_TOKEN is configured on this deployment.", {
      headers: BEARER_CHALLENGE,
    });
  }
  const match = BEARER.exec(c.req.header("authorization") ?? "");
  if (!match) {
    throw new ApiError(401, "missing_read_token", "An Authorization: Bearer <READ_TOKEN> header is required.", {
      headers: BEARER_CHALLENGE,
    });
  }
  if (!(await findSecret(match[1]!, [config.READ_TOKEN]))) {
    throw new ApiError(401, "invalid_read_token", "The bearer token is not valid for the read API.", {
      headers: { "WWW-Authenticate": 'Bearer realm="analytics", error="invalid_token"' },
    });
  }
  await next();
});
