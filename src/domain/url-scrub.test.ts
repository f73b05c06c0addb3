import { describe, expect, it } from "vitest";
import { DEFAULT_URL_SCRUB, scrubUrl, urlScrubFromList, type UrlScrubOptions } from "./url-scrub";

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
