/**
 * The breakdown dimensions of an event, derived at ingest from what the worker already has: the
 * scrubbed page URL and referrer, the User-Agent and Cloudflare's country. Pure, and cheap on the
 * hot path: a batch usually carries one User-Agent and a handful of URLs, so each is parsed once
 * per batch (the caller passes the caches).
 */
import Bowser from "bowser";
import { boundedMemo, cachedIn } from "./memo";
import { type ScrubbedUrl, scrubUrlParts, type UrlScrubOptions } from "./url-scrub";

/** The dimension columns of a raw row (`analytics_events_ts`); null where the event does not tell. */
export interface EventDimensions {
  /** ISO 3166-1 alpha-2 country of the client (`request.cf.country`), e.g. `DE`. */
  country: string | null;
  /** `desktop`, `mobile`, `tablet`, `tv` or `bot`, from the User-Agent. */
  device_class: string | null;
  /** Browser name from the User-Agent, e.g. `Chrome`. */
  browser: string | null;
  /** Operating system name from the User-Agent, e.g. `macOS`. */
  os: string | null;
  /** Path of the scrubbed page URL, without query string, e.g. `/pricing`. */
  page_path: string | null;
  /** Lower-case host of the page URL, e.g. `shop.example`. */
  page_host: string | null;
  /** Host of the referrer; null for none and for a link from the same host (internal navigation). */
  referrer_host: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
}

/** The names a breakdown can group by (columns of the raw table and keys of the daily rollup). */
export const DIMENSIONS = [
  "page_path",
  "page_host",
  "referrer_host",
  "utm_source",
  "utm_medium",
  "utm_campaign",
  "country",
  "device_class",
  "browser",
  "os",
] as const satisfies readonly (keyof EventDimensions)[];
export type Dimension = (typeof DIMENSIONS)[number];

/** What the User-Agent tells; parsed once per distinct User-Agent of a batch. */
export interface AgentDimensions {
  device_class: string | null;
  browser: string | null;
  os: string | null;
}

/** What a URL tells; parsed once per distinct URL of a batch. */
export interface UrlParts {
  host: string | null;
  path: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
}

/** Per-batch caches (a batch repeats the same User-Agent and URLs). */
export interface DimensionCaches {
  agents: Map<string, AgentDimensions>;
  urls: Map<string, UrlParts>;
}

export const newDimensionCaches = (): DimensionCaches => ({ agents: new Map(), urls: new Map() });

/** Distinct User-Agents remembered across batches (see memo.ts). */
export const AGENT_MEMO_SIZE = 1_000;
/** Longest value kept for a dimension: they are grouping keys, not payload. */
export const MAX_DIMENSION_LENGTH = 512;
/** Two letters or digits: Cloudflare's codes also include `XX` (unknown) and `T1` (Tor). */
const COUNTRY = /^[A-Z0-9]{2}$/;
const NO_AGENT: AgentDimensions = Object.freeze({ device_class: null, browser: null, os: null });
const NO_URL: UrlParts = Object.freeze({ host: null, path: null, utm_source: null, utm_medium: null, utm_campaign: null });

const clip = (value: string | null | undefined): string | null => {
  if (value == null || value === "") return null;
  return value.length > MAX_DIMENSION_LENGTH ? value.slice(0, MAX_DIMENSION_LENGTH) : value;
};

/**
 * Device class, browser and OS of a User-Agent (bowser, MIT). Unknown parts are null.
 * @example parseAgent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) … Safari/604.1")
 * // → { device_class: "mobile", browser: "Safari", os: "iOS" }
 */
export function parseAgent(userAgent: string): AgentDimensions {
  let parsed: Bowser.Parser.ParsedResult;
  try {
    parsed = Bowser.parse(userAgent);
  } catch {
    return NO_AGENT;
  }
  return {
    device_class: clip(parsed.platform.type),
    browser: clip(parsed.browser.name),
    os: clip(parsed.os.name),
  };
}

/** The campaign parameters (first occurrence of each, decoded) of a query string such as `?a=1&b=2`. */
function campaign(search: string): Pick<UrlParts, "utm_source" | "utm_medium" | "utm_campaign"> {
  if (search.length <= 1) return NO_URL;
  // Without "%" or "+" form decoding changes nothing, so the names and values are the text itself;
  // otherwise URLSearchParams decodes them (names too: `utm%5Fsource` is `utm_source`).
  if (search.includes("%") || search.includes("+")) {
    const params = new URLSearchParams(search);
    return { utm_source: clip(params.get("utm_source")), utm_medium: clip(params.get("utm_medium")), utm_campaign: clip(params.get("utm_campaign")) };
  }
  if (!search.includes("utm_")) return NO_URL;
  let source: string | undefined;
  let medium: string | undefined;
  let name: string | undefined;
  for (const segment of search.slice(1).split("&")) {
    const eq = segment.indexOf("=");
    const key = eq === -1 ? segment : segment.slice(0, eq);
    const value = eq === -1 ? "" : segment.slice(eq + 1);
    if (key === "utm_source") source ??= value;
    else if (key === "utm_medium") medium ??= value;
    else if (key === "utm_campaign") name ??= value;
  }
  return { utm_source: clip(source), utm_medium: clip(medium), utm_campaign: clip(name) };
}

/**
 * What the dimensions take from a scrubbed URL. Ingest passes the parts that scrubbing returned
 * (normalize.ts), so the stored URL is not parsed a second time.
 */
export function urlParts(url: ScrubbedUrl): UrlParts {
  const { utm_source, utm_medium, utm_campaign } = campaign(url.search);
  return {
    // `android-app://com.example` is a real referrer; its "host" is the app id.
    host: url.host === null ? null : clip(url.host.toLowerCase()),
    path: url.http ? clip(url.path) : null,
    utm_source,
    utm_medium,
    utm_campaign,
  };
}

/** Reads a URL as it is (every query parameter kept): for URLs stored without scrubbing. */
const KEEP_EVERY_PARAM: UrlScrubOptions = Object.freeze({ enabled: true, keepParamPrefixes: Object.freeze([""]), keepParams: Object.freeze([]) });

function parseUrl(raw: string): UrlParts {
  const url = scrubUrlParts(raw, KEEP_EVERY_PARAM);
  return url === null ? NO_URL : urlParts(url);
}

/** User-Agents parsed by earlier batches of this isolate (bowser's parse is the dearest step of a batch). */
const parseAgentMemo = boundedMemo(parseAgent, AGENT_MEMO_SIZE);

/**
 * The dimensions of one event. `pageUrl` and `referrer` are the scrubbed values that are stored
 * (what scrubbing removed is not recovered here: campaign parameters survive only if the operator
 * keeps them, as they do by default). Campaign parameters come from the page URL, as trackers put
 * them there.
 *
 * @example
 * deriveDimensions({ pageUrl: "https://shop.example/p?utm_source=mail", referrer: "https://www.google.com/",
 *   userAgent: null, country: "DE" }, newDimensionCaches())
 * // → { country: "DE", page_host: "shop.example", page_path: "/p", referrer_host: "www.google.com", utm_source: "mail", … }
 */
export function deriveDimensions(
  input: { pageUrl: string | null; referrer: string | null; userAgent: string | null; country: string | null },
  caches: DimensionCaches,
): EventDimensions {
  const page = input.pageUrl === null ? NO_URL : cachedIn(caches.urls, input.pageUrl, parseUrl);
  const from = input.referrer === null ? NO_URL : cachedIn(caches.urls, input.referrer, parseUrl);
  const agent = input.userAgent === null ? NO_AGENT : cachedIn(caches.agents, input.userAgent, parseAgentMemo);
  const country = input.country?.toUpperCase() ?? null;
  return {
    country: country !== null && COUNTRY.test(country) ? country : null,
    device_class: agent.device_class,
    browser: agent.browser,
    os: agent.os,
    page_path: page.path,
    page_host: page.host,
    referrer_host: from.host !== null && from.host !== page.host ? from.host : null,
    utm_source: page.utm_source,
    utm_medium: page.utm_medium,
    utm_campaign: page.utm_campaign,
  };
}
