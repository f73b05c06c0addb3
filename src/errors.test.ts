import { describe, expect, it } from "vitest";
import { HTTPException } from "hono/http-exception";
import { ApiError, badRequest, payloadTooLarge, unprocessable, unsupportedMediaType } from "./errors";

describe("ApiError", () => {
  const cases: { name: string; error: ApiError; status: number; code: string; retryable: boolean; retryAfter: string | null }[] = [
    { name: "400 factory", error: badRequest("malformed_json", "bad"), status: 400, code: "malformed_json", retryable: false, retryAfter: null },
    { name: "413 factory", error: payloadTooLarge("body_too_large", "big"), status: 413, code: "body_too_large", retryable: false, retryAfter: null },
    { name: "415 factory", error: unsupportedMediaType("unsupported_encoding", "br"), status: 415, code: "unsupported_encoding", retryable: false, retryAfter: null },
    { name: "422 factory", error: unprocessable("empty_batch", "none"), status: 422, code: "empty_batch", retryable: false, retryAfter: null },
    { name: "503 with Retry-After is retryable", error: new ApiError(503, "unavailable", "down", { retryAfterSeconds: 2.5 }), status: 503, code: "unavailable", retryable: true, retryAfter: "3" },
    { name: "explicit retryable without Retry-After", error: new ApiError(500, "internal", "x", { retryable: true }), status: 500, code: "internal", retryable: true, retryAfter: null },
  ];
  for (const t of cases) {
    it(t.name, async () => {
      expect(t.error).toBeInstanceOf(HTTPException);
      const res = t.error.getResponse();
      expect(res.status).toBe(t.status);
      expect(res.headers.get("retry-after")).toBe(t.retryAfter);
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(await res.json()).toEqual({ error: { code: t.code, message: t.error.message, retryable: t.retryable } });
    });
  }

  it("sends public details", async () => {
    const error = new ApiError(422, "no_valid_events", "none valid", { details: { rejected: [{ index: 0 }] } });
    expect(await error.getResponse().json()).toEqual({ error: { code: "no_valid_events", message: "none valid", retryable: false, details: { rejected: [{ index: 0 }] } } });
  });

  it("never serialises the cause", async () => {
    const error = badRequest("invalid_utf8", "not UTF-8", new Error("secret internals"));
    expect(JSON.stringify(error.toJSON())).not.toContain("secret");
    expect(await error.getResponse().text()).not.toContain("secret");
  });
});
