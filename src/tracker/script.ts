/**
 * The script-tag build (`/tracker.js`): exposes the API as `window.analytics`.
 *
 * Start it with attributes — the endpoint defaults to the origin the script came from:
 * ```html
 * <script async src="https://stats.example.com/tracker.js" data-write-key="pk_live_…"></script>
 * ```
 * which calls `init` and `page()`. Or queue calls before the script has loaded, and they run
 * in order once it has:
 * ```html
 * <script>
 *   window.analytics = window.analytics || [];
 *   ["init", "track", "page", "identify", "optOut", "optIn"].forEach(function (m) {
 *     analytics[m] = analytics[m] || function () { analytics.push([m].concat([].slice.call(arguments))); };
 *   });
 *   analytics.init({ writeKey: "pk_live_…" });
 *   analytics.page();
 * </script>
 * <script async src="/tracker.js"></script>
 * ```
 * @module
 */
import { flush, identify, init as start, optIn, optOut, page, stats, track } from "./index";
import type { TrackerOptions } from "./types";

const script = document.currentScript as HTMLScriptElement | null;
const data = script?.dataset || {};
const queued = (window as { analytics?: unknown }).analytics;
const init = (options: TrackerOptions = {}) =>
  start({
    ...options,
    endpoint: options.endpoint || (script?.src && new URL("/api/v1/analytics", script.src).href) || undefined,
  });
const analytics: Record<string, unknown> = { init, track, page, identify, flush, optOut, optIn, stats };
(window as { analytics?: unknown }).analytics = analytics;

if (data.writeKey) {
  init({ writeKey: data.writeKey, endpoint: data.endpoint });
  page();
}
if (Array.isArray(queued))
  for (const [method, ...args] of queued) (analytics[method] as ((...a: unknown[]) => unknown) | undefined)?.(...args);
