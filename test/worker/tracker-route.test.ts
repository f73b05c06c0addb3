import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { TRACKER_SCRIPT } from "../../src/tracker/bundle.generated";

describe("GET /tracker.js", () => {
  it("serves the built script-tag tracker as JavaScript, cacheable and revalidated by ETag", async () => {
    const first = await SELF.fetch("http://worker.test/tracker.js");
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(first.headers.get("cache-control")).toContain("max-age");
    expect(await first.text()).toBe(TRACKER_SCRIPT);
    const tag = first.headers.get("etag");
    expect(tag).toBeTruthy();
    const again = await SELF.fetch("http://worker.test/tracker.js", { headers: { "if-none-match": tag! } });
    expect(again.status).toBe(304);
  });
});
