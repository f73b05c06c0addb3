import { Hono } from "hono";
import { etag } from "hono/etag";
import type { AppEnv } from "../app";
import { TRACKER_SCRIPT } from "../tracker/bundle.generated";

/**
 * `GET /tracker.js`: the browser tracker served first-party (blocklists target third-party
 * analytics hosts). Short cache plus an ETag, so a new deployment reaches pages within minutes.
 */
export const tracker = new Hono<AppEnv>();

tracker.use(etag());
tracker.get("/", (c) => {
  c.header("Content-Type", "text/javascript; charset=utf-8");
  c.header("Cache-Control", "public, max-age=300");
  c.header("Access-Control-Allow-Origin", "*");
  return c.body(TRACKER_SCRIPT);
});
