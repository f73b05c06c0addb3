/**
 * Page URL and referrer scrubbing: query strings routinely carry emails, tokens and search terms,
 * so by default only campaign parameters survive. Pure; no allocation beyond the URL parse when
 * there is nothing to remove.
 */

/** How `page_url` and `referrer` are scrubbed. */
export interface UrlScrubOptions {
  /** Scrub at all. When false the client's string is stored unchanged. @default true */
  enabled: boolean;
  /** Query parameters whose (lower-cased) name starts with one of these are kept. @default ["utm_"] */
  keepParamPrefixes: readonly string[];
  /** Query parameters with exactly one of these (lower-cased) names are kept. @default ["ref"] */
  keepParams: readonly string[];
}

/** Keep campaign attribution (`utm_*`, `ref`), drop everything else. */
export const DEFAULT_URL_SCRUB: UrlScrubOptions = Object.freeze({
  enabled: true,
  keepParamPrefixes: Object.freeze(["utm_"]),
  keepParams: Object.freeze(["ref"]),
});

/**
 * Builds scrub options from a configuration list in which a trailing `*` marks a prefix, e.g.
 * `["utm_*", "ref"]` (the `KEEP_QUERY_PARAMS` format). Names are matched case-insensitively.
 *
 * @example urlScrubFromList(true, ["utm_*", "ref"]) // → DEFAULT_URL_SCRUB's behaviour
 */
export function urlScrubFromList(enabled: boolean, keep: readonly string[]): UrlScrubOptions {
  const keepParamPrefixes: string[] = [];
  const keepParams: string[] = [];
  for (const entry of keep) {
    const name = entry.trim().toLowerCase();
    if (name === "") continue;
    if (name.endsWith("*")) keepParamPrefixes.push(name.slice(0, -1));
    else keepParams.push(name);
  }
  return { enabled, keepParamPrefixes, keepParams };
}

/** Base for parsing site-relative paths ("/pricing?x=1"); never appears in output. */
const RELATIVE_BASE = "https://relative.invalid";

function keepParam(segment: string, options: UrlScrubOptions): boolean {
  const eq = segment.indexOf("=");
  const name = (eq === -1 ? segment : segment.slice(0, eq)).toLowerCase();
  if (options.keepParams.includes(name)) return true;
  for (const prefix of options.keepParamPrefixes) if (name.startsWith(prefix)) return true;
  return false;
}

/**
 * Parses an absolute URL of any scheme, or a site-relative path ("/a?b", `relative: true`, with a
 * placeholder origin that callers must not show); null when it is neither.
 */
export function parsePageUrl(raw: string): { url: URL; relative: boolean } | null {
  const relative = raw.charCodeAt(0) === 47 /* "/" */ && raw.charCodeAt(1) !== 47;
  try {
    return { url: relative ? new URL(raw, RELATIVE_BASE) : new URL(raw), relative };
  } catch {
    return null;
  }
}

/**
 * Scrubs one URL: drops the fragment and any `user:password@`, and reduces the query string to
 * the kept parameters (their original encoding and order preserved). Absolute URLs of any scheme
 * are accepted (referrers such as `android-app://…` are real); a site-relative path ("/a?b")
 * stays relative.
 *
 * Returns `null` when the string is not a URL. Such a value is not kept, because what cannot be
 * parsed cannot be scrubbed and might carry the very data scrubbing removes; nor is the event
 * rejected, because the event itself is still real (the caller flags it instead).
 *
 * @example
 * scrubUrl("https://shop.example/p?id=7&utm_source=mail&email=a@b.c#top")
 * // → "https://shop.example/p?utm_source=mail"
 * scrubUrl("not a url") // → null
 */
export function scrubUrl(raw: string, options: UrlScrubOptions = DEFAULT_URL_SCRUB): string | null {
  if (!options.enabled) return raw;
  const parsed = parsePageUrl(raw);
  if (parsed === null) return null;
  const { url, relative } = parsed;
  const search = url.search;
  if (search.length > 1) {
    let kept = "";
    for (const segment of search.slice(1).split("&")) {
      if (segment !== "" && keepParam(segment, options)) kept = kept === "" ? segment : `${kept}&${segment}`;
    }
    url.search = kept;
  }
  url.hash = "";
  if (url.username !== "" || url.password !== "") {
    url.username = "";
    url.password = "";
  }
  return relative ? url.pathname + url.search : url.href;
}
