import { describe, expect, test } from "vitest";
import { deriveDimensions, MAX_DIMENSION_LENGTH, newDimensionCaches, parseAgent, urlParts } from "./dimensions";
import { scrubUrl, scrubUrlParts } from "./url-scrub";

const CHROME_MAC =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";
const CHROME_ANDROID_TABLET =
  "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

describe("parseAgent", () => {
  const cases = [
    { ua: CHROME_MAC, expected: { device_class: "desktop", browser: "Chrome", os: "macOS" } },
    { ua: SAFARI_IPHONE, expected: { device_class: "mobile", browser: "Safari", os: "iOS" } },
    { ua: FIREFOX_WINDOWS, expected: { device_class: "desktop", browser: "Firefox", os: "Windows" } },
    { ua: CHROME_ANDROID_TABLET, expected: { device_class: "tablet", browser: "Chrome", os: "Android" } },
    { ua: GOOGLEBOT, expected: { device_class: "bot", browser: "Googlebot", os: null } },
    { ua: "curl/8.5.0", expected: { device_class: null, browser: null, os: null } },
  ];
  for (const t of cases) {
    test(t.ua.slice(0, 60), () => {
      expect(parseAgent(t.ua)).toEqual(t.expected);
    });
  }
});

describe("deriveDimensions", () => {
  type Input = Parameters<typeof deriveDimensions>[0];
  const none: Input = { pageUrl: null, referrer: null, userAgent: null, country: null };
  const cases: { name: string; input: Partial<Input>; expected: Record<string, string | null> }[] = [
    {
      name: "page host, path and campaign from the page URL",
      input: { pageUrl: "https://Shop.Example/pricing/?utm_source=mail&utm_medium=email&utm_campaign=spring" },
      expected: { page_host: "shop.example", page_path: "/pricing/", utm_source: "mail", utm_medium: "email", utm_campaign: "spring" },
    },
    {
      name: "a site-relative page URL has a path but no host",
      input: { pageUrl: "/docs?utm_source=x" },
      expected: { page_host: null, page_path: "/docs", utm_source: "x" },
    },
    {
      name: "referrer host from another site",
      input: { pageUrl: "https://shop.example/", referrer: "https://www.google.com/search" },
      expected: { referrer_host: "www.google.com", page_host: "shop.example" },
    },
    {
      name: "a same-host referrer is internal navigation, not a source",
      input: { pageUrl: "https://shop.example/b", referrer: "https://shop.example/a" },
      expected: { referrer_host: null },
    },
    {
      name: "an app referrer keeps its app id as the host",
      input: { referrer: "android-app://com.google.android.gm/" },
      expected: { referrer_host: "com.google.android.gm" },
    },
    {
      // As URLSearchParams reads "??a=1": a parameter named "?a", so no campaign from the first one.
      name: "a query that starts with a second \"?\" names its first parameter with it",
      input: { pageUrl: "https://shop.example/p??utm_source=x&utm_medium=m" },
      expected: { utm_source: null, utm_medium: "m" },
    },
    { name: "country upper-cased", input: { country: "de" }, expected: { country: "DE" } },
    { name: "Cloudflare's Tor code is kept", input: { country: "T1" }, expected: { country: "T1" } },
    { name: "a country that is not a code is dropped", input: { country: "Germany" }, expected: { country: null } },
    { name: "an unparsable URL tells nothing", input: { pageUrl: "not a url" }, expected: { page_host: null, page_path: null } },
    { name: "the User-Agent's parts", input: { userAgent: SAFARI_IPHONE }, expected: { device_class: "mobile", browser: "Safari", os: "iOS" } },
  ];
  for (const t of cases) {
    test(t.name, () => {
      const out = deriveDimensions({ ...none, ...t.input }, newDimensionCaches());
      expect(out).toMatchObject(t.expected);
    });
  }

  test("nothing known gives every dimension null", () => {
    const out = deriveDimensions(none, newDimensionCaches());
    expect(Object.values(out).every((v) => v === null)).toBe(true);
  });

  test("long values are clipped to MAX_DIMENSION_LENGTH", () => {
    const long = `/${"a".repeat(2 * MAX_DIMENSION_LENGTH)}`;
    const out = deriveDimensions({ ...none, pageUrl: `https://x.example${long}` }, newDimensionCaches());
    expect(out.page_path).toBe(long.slice(0, MAX_DIMENSION_LENGTH));
  });

  test("a batch parses each User-Agent and URL once", () => {
    const caches = newDimensionCaches();
    for (let i = 0; i < 50; i++) {
      deriveDimensions({ pageUrl: "https://a.example/", referrer: "https://b.example/", userAgent: CHROME_MAC, country: "FR" }, caches);
    }
    expect(caches.agents.size).toBe(1);
    expect(caches.urls.size).toBe(2);
  });

  // Ingest reads the parts that scrubbing returned (one parse, or none for a plain URL); they must
  // be what parsing the stored URL again gives.
  const tricky = [
    "https://Shop.Example:8443/a/./b/../c?utm_source=x&email=a@b.c#top",
    "https://user:pw@shop.example/p?utm_medium=cpc&utm_source=a&utm_source=b",
    "https://shop.example/?utm%5Fsource=encoded&utm_campaign=spring+sale%202026",
    "https://shop.example/?utm_source=a b&utm_campaign=é",
    "https://shop.example/?utm_source&utm_medium=&utm_campaign=%zz",
    "https://Bücher.example/straße?UTM_SOURCE=upper&utm_source=lower",
    "http://[::1]:3000/x?utm_campaign=v6",
    "/docs/start?session=abc&utm_source=x#frag",
    "android-app://com.Google.Android.gm/?utm_source=app",
    "https://shop.example/%7Efoo?ref=hn",
  ];
  for (const raw of tricky) {
    test(`one parse gives the stored URL's parts: ${raw}`, () => {
      const scrubbed = scrubUrlParts(raw)!;
      const stored = scrubbed.href;
      expect(stored).toBe(scrubUrl(raw));
      const fresh = deriveDimensions({ pageUrl: stored, referrer: null, userAgent: null, country: null }, newDimensionCaches());
      const parts = urlParts(scrubbed);
      expect({ page_host: parts.host, page_path: parts.path, utm_source: parts.utm_source, utm_medium: parts.utm_medium, utm_campaign: parts.utm_campaign }).toEqual({
        page_host: fresh.page_host,
        page_path: fresh.page_path,
        utm_source: fresh.utm_source,
        utm_medium: fresh.utm_medium,
        utm_campaign: fresh.utm_campaign,
      });
    });
  }

  test("campaign values are decoded as URLSearchParams decodes them", () => {
    const out = deriveDimensions({ pageUrl: "https://a.example/?utm%5Fsource=enc&utm_campaign=spring+sale%20%C3%A9&utm_medium=a&utm_medium=b", referrer: null, userAgent: null, country: null }, newDimensionCaches());
    expect(out).toMatchObject({ utm_source: "enc", utm_campaign: "spring sale é", utm_medium: "a" });
  });
});

