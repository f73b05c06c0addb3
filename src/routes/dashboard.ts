import { Hono } from "hono";
import { etag } from "hono/etag";
import type { AppEnv } from "../app";
import { DASHBOARD_CSS, DASHBOARD_JS, DASHBOARD_VERSION } from "../dashboard/assets.generated";

/**
 * The dashboard, served by the worker itself (same origin as the read API, so no CORS): `GET /`
 * is a small HTML shell, `/dashboard/app.js` and `/dashboard/app.css` the built assets
 * (scripts/build-dashboard.ts), versioned by content hash and cached for a year. Nothing comes
 * from elsewhere: the Content-Security-Policy allows only this origin.
 */
export const dashboard = new Hono<AppEnv>();

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function page(readApi: "enabled" | "disabled"): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Analytics dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css?v=${DASHBOARD_VERSION}">
<script defer src="/dashboard/app.js?v=${DASHBOARD_VERSION}"></script>
</head>
<body data-read-api="${readApi}">
<a class="skip" href="#main">Skip to the panels</a>
<header class="top">
<h1>Analytics</h1>
<nav id="panels-nav" aria-label="Panels" hidden><ul>
<li><a href="#live">Live</a></li><li><a href="#overview">Overview</a></li><li><a href="#drilldown">Drill-down</a></li>
<li><a href="#breakdowns">Breakdowns</a></li><li><a href="#assets">Asset types</a></li><li><a href="#health">Migration health</a></li><li><a href="#install">Install</a></li>
</ul></nav>
<div id="account"></div>
</header>
<main id="main" tabindex="-1"><noscript><p>The dashboard needs JavaScript. The same figures are in the read API (see /openapi.json).</p></noscript></main>
</body>
</html>`;
}

dashboard.get("/", (c) => {
  c.header("Content-Security-Policy", CSP);
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "no-referrer");
  return c.html(page(c.var.services.config.READ_TOKEN ? "enabled" : "disabled"));
});

function asset(body: string, type: string) {
  return (c: { req: { query(name: string): string | undefined }; header(name: string, value: string): void; body(data: string): Response }) => {
    c.header("Content-Type", type);
    // A versioned URL never changes; an unversioned one is revalidated.
    c.header("Cache-Control", c.req.query("v") === DASHBOARD_VERSION ? "public, max-age=31536000, immutable" : "no-cache");
    return c.body(body);
  };
}

dashboard.use("/dashboard/*", etag());
dashboard.get("/dashboard/app.js", asset(DASHBOARD_JS, "text/javascript; charset=utf-8"));
dashboard.get("/dashboard/app.css", asset(DASHBOARD_CSS, "text/css; charset=utf-8"));
