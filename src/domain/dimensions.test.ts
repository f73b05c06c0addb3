import { describe, expect, test } from "vitest";
import { deriveDimensions, MAX_DIMENSION_LENGTH, newDimensionCaches, parseAgent } from "./dimensions";

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
});
