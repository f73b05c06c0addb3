import { describe, expect, it } from "vitest";
import { prng } from "../../test/support/prng";
import { DEFAULT_URL_SCRUB, scrubUrl, scrubUrlParts, urlScrubFromList, type UrlScrubOptions } from "./url-scrub";

describe("scrubUrl", () => {
  const cases: { name: string; input: string; expected: string | null; options?: UrlScrubOptions }[] = [
    { name: "no query, no fragment", input: "https://app.example/pricing", expected: "https://app.example/pricing" },
    { name: "drops non-campaign params, keeps utm_* and ref in order", input: "https://a.example/p?email=x%40y.z&utm_source=news&token=t&ref=hn&utm_medium=mail", expected: "https://a.example/p?utm_source=news&ref=hn&utm_medium=mail" },
    { name: "keeps the original encoding of kept values", input: "https://a.example/?utm_campaign=spring%20sale+2026", expected: "https://a.example/?utm_campaign=spring%20sale+2026" },
    { name: "param names compared case-insensitively", input: "https://a.example/?UTM_Source=x&REF=y", expected: "https://a.example/?UTM_Source=x&REF=y" },
    { name: "'referrer' is not 'ref'", input: "https://a.example/?referrer=x", expected: "https://a.example/" },
    { name: "only dropped params → no '?'", input: "https://a.example/p?q=secret", expected: "https://a.example/p" },
    { name: "drops the fragment", input: "https://a.example/p#section", expected: "https://a.example/p" },
    { name: "drops credentials", input: "https://user:pass@a.example/p", expected: "https://a.example/p" },
    { name: "empty segments ignored", input: "https://a.example/?&&utm_source=x&", expected: "https://a.example/?utm_source=x" },
    { name: "host lower-cased, root slash added (WHATWG URL normalisation)", input: "https://A.Example", expected: "https://a.example/" },
    { name: "non-http referrer scheme", input: "android-app://com.google.android.gm/?x=1", expected: "android-app://com.google.android.gm/" },
    { name: "site-relative path stays relative", input: "/docs/start?session=abc&utm_source=x#top", expected: "/docs/start?utm_source=x" },
    { name: "not a URL → null", input: "not a url", expected: null },
    { name: "bare host without scheme → null", input: "example.com/path", expected: null },
    { name: "disabled: stored unchanged", input: "https://a.example/p?q=1#f", expected: "https://a.example/p?q=1#f", options: { ...DEFAULT_URL_SCRUB, enabled: false } },
    { name: "custom allowlist", input: "https://a.example/p?gclid=1&utm_source=x&lang=de", expected: "https://a.example/p?gclid=1&lang=de", options: { enabled: true, keepParamPrefixes: [], keepParams: ["gclid", "lang"] } },
  ];
  for (const t of cases) {
    it(t.name, () => {
      expect(scrubUrl(t.input, t.options)).toBe(t.expected);
    });
  }
});

describe("urlScrubFromList", () => {
  const cases: { name: string; enabled: boolean; keep: string[]; expected: UrlScrubOptions }[] = [
    { name: "the default list", enabled: true, keep: ["utm_*", "ref"], expected: { enabled: true, keepParamPrefixes: ["utm_"], keepParams: ["ref"] } },
    { name: "trims, lower-cases, skips blanks", enabled: true, keep: [" GCLID ", "", "Mc_*"], expected: { enabled: true, keepParamPrefixes: ["mc_"], keepParams: ["gclid"] } },
    { name: "disabled", enabled: false, keep: [], expected: { enabled: false, keepParamPrefixes: [], keepParams: [] } },
  ];
  for (const t of cases) it(t.name, () => expect(urlScrubFromList(t.enabled, t.keep)).toEqual(t.expected));
});

/** Scrubbing that keeps every parameter (what the dimensions read a stored URL with). */
const ALLOW_ALL: UrlScrubOptions = { enabled: true, keepParamPrefixes: [""], keepParams: [] };

/**
 * The WHATWG URL parser's answer, written with the URL API alone: what scrubUrlParts must give for
 * every input, including those its parser-free path for plain URLs handles.
 */
function parserReference(raw: string, options: UrlScrubOptions) {
  const relative = raw.startsWith("/") && !raw.startsWith("//");
  let url: URL;
  try {
    url = relative ? new URL(raw, "https://relative.invalid") : new URL(raw);
  } catch {
    return null;
  }
  if (url.search.length > 1) {
    const kept = url.search
      .slice(1)
      .split("&")
      .filter((segment) => {
        const name = segment.split("=")[0]!.toLowerCase();
        return segment !== "" && (options.keepParams.includes(name) || options.keepParamPrefixes.some((p) => name.startsWith(p)));
      })
      .join("&");
    url.search = kept === "" ? "" : `?${kept}`;
  }
  url.hash = "";
  url.username = "";
  url.password = "";
  return {
    href: relative ? url.pathname + url.search : url.href,
    host: relative ? null : url.hostname,
    http: url.protocol === "http:" || url.protocol === "https:",
    path: url.pathname,
    search: url.search,
  };
}

describe("scrubUrlParts gives what the URL parser gives", () => {
  const cases = [
    "https://shop.example/p?id=7&utm_source=mail&email=a@b.c#top",
    "https://shop.example",
    "https://shop.example?utm_source=x",
    "https://shop.example/p?",
    "https://shop.example/p?#frag",
    "https://shop.example/p?&&",
    "/docs?",
    "/docs?utm_source=x&y=1#z",
    "//cdn.example/x",
    "https://Shop.example/p",
    "https://shop.example:443/p",
    "https://shop.example:8080/p",
    "https://127.1/p",
    "https://10.0.0.1/p",
    "https://shop.0x1f/p",
    "https://shop.example./p",
    "https://xn--bcher-kva.example/p",
    "https://xn--invalid.example/p",
    "https://shop.example/a/./b/../c",
    "https://shop.example/a/%2E%2e/c",
    "https://shop.example/.well-known/x",
    "https://shop.example/p q",
    "https://shop.example/p?q='x'",
    "https://shop.example/p?q=\"x\"",
    "https://shop.example/p\\q",
    "https://shop.example/p?utm_source=é",
    "https://shop.example/é",
    "https://user@shop.example/p",
    "https://shop.example/p#a b\tc\n",
    "https://shop.example/p\t?x",
    "https://-a-.example/p",
    "https://a..b.example/p",
    "http://shop.example/%zz?utm_source=%zz",
    "https://shop.example/p?a=1?b=2&utm_medium=x",
    "https://shop.example/p??utm_source=x&ref=1",
    "/p??ref=1",
    " https://shop.example/p",
    "https://shop.example/p ",
    "ftp://files.example/x?y=1",
    "android-app://com.google.android.gm/?x=1",
    "mailto:a@b.example",
    "",
    "/",
  ];
  for (const raw of cases) {
    it(JSON.stringify(raw), () => {
      expect(scrubUrlParts(raw)).toEqual(parserReference(raw, DEFAULT_URL_SCRUB));
      expect(scrubUrlParts(raw, ALLOW_ALL)).toEqual(parserReference(raw, ALLOW_ALL));
    });
  }

  it("keeps a query's second leading \"?\" when everything is kept", () => {
    expect(scrubUrlParts("https://shop.example/p??utm_source=x", ALLOW_ALL)?.href).toBe("https://shop.example/p??utm_source=x");
    expect(scrubUrlParts("/p??x=1#f", ALLOW_ALL)?.href).toBe("/p??x=1");
  });

  it("for 10,000 generated URLs, with the default and an allow-everything option", () => {
    const rand = prng(11);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const PIECES = ["a", "Z", "0", "9", "-", ".", "_", "~", "%", "%2e", "%41", "/", "//", "/./", "/../", "?", "&", "=", "#", "@", ":", "'", '"', " ", "\t", "é", "\\", "utm_source", "utm_campaign=x", "ref", "xn--", "+", "!", "*", "(", ";", ",", "$", "[", "]", "{", "|", "^", "`", "<"];
    const HOSTS = ["shop.example", "a.b.c", "Shop.Example", "127.0.0.1", "1.example", "x.1", "x.0x1", "xn--bcher-kva.example", "a-b.example", "localhost", "shop.example:8080", "shop.example:443", "u:p@shop.example", "[::1]", ""];
    // Half the strings from pieces a plain URL may hold, so that the parser-free path is taken often.
    const PLAIN_PIECES = ["a", "Z", "0", "-", ".", "_", "~", "%", "%41", "/", "/", "?", "&", "&", "=", "#", "@", ":", "utm_source=", "utm_medium=v", "ref=1", "x=1", "+", "!", "*", "(", ";", ",", "$", "'"];
    const PREFIXES = ["https://", "http://", "/", "//", "ftp://", "HTTPS://", "android-app://", ""];
    for (let i = 0; i < 10_000; i++) {
      const prefix = pick(PREFIXES);
      let raw = prefix + (prefix.endsWith("//") ? pick(HOSTS) : "");
      const pieces = rand() < 0.5 ? PLAIN_PIECES : PIECES;
      const n = Math.floor(rand() * 10);
      for (let k = 0; k < n; k++) raw += pick(pieces);
      for (const options of [DEFAULT_URL_SCRUB, ALLOW_ALL]) {
        expect({ raw, parts: scrubUrlParts(raw, options) }).toEqual({ raw, parts: parserReference(raw, options) });
      }
    }
  });
});

