import { describe, expect, it } from "vitest";
import { boundedMemo } from "./memo";

describe("boundedMemo", () => {
  it("computes each key once while it is remembered", () => {
    const calls: string[] = [];
    const upper = boundedMemo((s) => (calls.push(s), s.toUpperCase()), 10);
    expect([upper("a"), upper("b"), upper("a"), upper("a")]).toEqual(["A", "B", "A", "A"]);
    expect(calls).toEqual(["a", "b"]);
  });

  it("forgets everything once full, so a stream of new keys never grows it past `max`", () => {
    const calls: string[] = [];
    const id = boundedMemo((s) => (calls.push(s), s), 3);
    for (const key of ["a", "b", "c"]) id(key);
    id("a"); // remembered
    id("d"); // the memo was full: emptied, then holds "d"
    id("a"); // computed again
    id("d"); // remembered
    expect(calls).toEqual(["a", "b", "c", "d", "a"]);
  });
});
