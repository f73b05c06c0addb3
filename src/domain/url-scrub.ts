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
function parsePageUrl(raw: string): { url: URL; relative: boolean } | null {
  const relative = raw.charCodeAt(0) === 47 /* "/" */ && raw.charCodeAt(1) !== 47;
  try {
    return { url: relative ? new URL(raw, RELATIVE_BASE) : new URL(raw), relative };
  } catch {
    return null;
  }
}

/** A scrubbed URL and the parts of it that the breakdown dimensions read. */
export interface ScrubbedUrl {
  /** What is stored: the scrubbed URL (site-relative for a site-relative input). */
  href: string;
  /** The host as the URL parser gives it (`hostname`); null for a site-relative path. */
  host: string | null;
  /** Whether the scheme is http or https (a path means something only for those). */
  http: boolean;
  /** The path, e.g. `/pricing`. */
  path: string;
  /** The kept query string with its "?", or "" (as `URL.search`). */
  search: string;
}

/**
 * An absolute http(s) URL or a site-relative path that the WHATWG URL parser keeps exactly as
 * written: lower-case host of letters, digits and hyphens with no port, userinfo or IPv4-looking
 * last label (those the parser rewrites); path and query only of characters it leaves unencoded.
 * The fragment, whatever it holds, is dropped. Groups: scheme, host, path, "?" and query.
 */
const PLAIN_URL =
  /^(?:(https?):\/\/((?:[a-z0-9-]+\.)*[a-z-][a-z0-9-]*))?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?(\?([A-Za-z0-9\-._~!$&()*+,;=:@%/?]*))?(?:#.*)?$/s;
/** What the parser would still rewrite in a PLAIN_URL: dot segments (also as %2e) and punycode labels. */
const REWRITTEN = /\/\.|%2e|xn--/i;

/**
 * The kept parameters of a query string (without its "?"), in their original order and encoding;
 * "" when none is kept.
 */
function keptQuery(query: string, options: UrlScrubOptions): string {
  let kept = "";
  for (const segment of query.split("&")) {
    if (segment !== "" && keepParam(segment, options)) kept = kept === "" ? segment : `${kept}&${segment}`;
  }
  return kept;
}

/**
 * {@link scrubUrl} with the parts of the result, for a URL the parser keeps as written: no URL
 * object at all (each URL getter and setter is a call into the runtime, and ingest scrubs every
 * page URL of a batch). Null when the string needs the parser.
 */
function scrubPlainUrl(raw: string, options: UrlScrubOptions): ScrubbedUrl | null {
  const m = PLAIN_URL.exec(raw);
  if (m === null || REWRITTEN.test(raw)) return null;
  const [, scheme, host, rawPath, question, query] = m;
  if (scheme === undefined) {
    // Site-relative: needs a path, and not "//" (a scheme-relative URL).
    if (rawPath === undefined || raw.charCodeAt(1) === 47) return null;
  }
  const path = rawPath ?? "/";
  const kept = query ? keptQuery(query, options) : "";
  const search = kept === "" ? "" : `?${kept}`;
  // An absolute URL keeps an empty query's "?" (URL.href does), a site-relative one does not.
  const tail = scheme !== undefined && question !== undefined && query === "" ? "?" : search;
  return {
    href: scheme === undefined ? path + search : `${scheme}://${host}${path}${tail}`,
    host: host ?? null,
    http: true,
    path,
    search,
  };
}

/**
 * Scrubs one URL: drops the fragment and any `user:password@`, and reduces the query string to
 * the kept parameters (their original encoding and order preserved). Absolute URLs of any scheme
 * are accepted (referrers such as `android-app://…` are real); a site-relative path ("/a?b")
 * stays relative. Returns the parts of the result too (see {@link ScrubbedUrl}).
 *
 * Returns `null` when the string is not a URL. Such a value is not kept, because what cannot be
 * parsed cannot be scrubbed and might carry the very data scrubbing removes; nor is the event
 * rejected, because the event itself is still real (the caller flags it instead).
 *
 * @example
 * scrubUrlParts("https://shop.example/p?id=7&utm_source=mail#top")
 * // → { href: "https://shop.example/p?utm_source=mail", host: "shop.example", http: true, path: "/p", search: "?utm_source=mail" }
 */
export function scrubUrlParts(raw: string, options: UrlScrubOptions = DEFAULT_URL_SCRUB): ScrubbedUrl | null {
  const plain = scrubPlainUrl(raw, options);
  if (plain !== null) return plain;
  const parsed = parsePageUrl(raw);
  if (parsed === null) return null;
  const { url, relative } = parsed;
  const search = url.search;
  if (search.length > 1) {
    // With its "?": the setter drops one leading "?", and a kept query may itself start with one
    // ("??utm_source=x" keeps "?utm_source=x", a parameter named "?utm_source").
    const kept = keptQuery(search.slice(1), options);
    url.search = kept === "" ? "" : `?${kept}`;
  }
  url.hash = "";
  if (url.username !== "" || url.password !== "") {
    url.username = "";
    url.password = "";
  }
  const protocol = url.protocol;
  const path = url.pathname;
  const keptSearch = url.search;
  return {
    href: relative ? path + keptSearch : url.href,
    host: relative ? null : url.hostname,
    http: protocol === "http:" || protocol === "https:",
    path,
    search: keptSearch,
  };
}

/**
 * The stored form of a page URL or referrer: {@link scrubUrlParts}' `href`, or the string unchanged
 * when scrubbing is off.
 *
 * @example
 * scrubUrl("https://shop.example/p?id=7&utm_source=mail&email=a@b.c#top")
 * // → "https://shop.example/p?utm_source=mail"
 * scrubUrl("not a url") // → null
 */
export function scrubUrl(raw: string, options: UrlScrubOptions = DEFAULT_URL_SCRUB): string | null {
  if (!options.enabled) return raw;
  return scrubUrlParts(raw, options)?.href ?? null;
}
