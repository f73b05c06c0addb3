import { describe, expect, it } from "vitest";
import type { EventRow } from "./event";
import { eventRow } from "../../test/support/event-row";
import { planCounters, type BucketCounters } from "./counter-plan";

function row(time: string, over: Partial<EventRow> = {}): EventRow {
  return eventRow({ time, event_name: "view", category: "nav", received_at: "2026-11-26T12:30:00.000Z", ...over });
}

function minute(start: string, counts: Partial<BucketCounters>): BucketCounters {
  return { startMs: Date.parse(start), start, total: 0, bots: 0, byEventName: [], byCategory: [], userIds: [], sessionIds: [], ...counts };
}

describe("planCounters", () => {
  it("empty input → empty plan", () => {
    expect(planCounters([])).toEqual({ events: 0, hours: [], minutes: [], sessions: [] });
  });

  it("aggregates per UTC hour, per minute and per session, sorted", () => {
    const rows = [
      row("2026-11-26T12:59:59.999Z", { event_name: "click", category: "ui", user_id: "u2", session_id: "s2" }),
      row("2026-11-26T11:00:00.000Z", { user_id: "u1", session_id: "s1" }),
      row("2026-11-26T12:00:00.000Z", { user_id: "u1", session_id: "s1", flags: ["bot"] }),
      row("2026-11-26T12:00:30.000Z", { event_name: "click", category: "ui", user_id: "u1", session_id: "s2" }),
      row("2026-11-26T12:59:00.000Z", { event_name: "b" }),
    ];
    expect(planCounters(rows)).toEqual({
      events: 5,
      hours: [
        {
          startMs: Date.parse("2026-11-26T11:00:00.000Z"),
          start: "2026-11-26T11:00:00.000Z",
          total: 1,
          bots: 0,
          byEventName: [["view", 1]],
          byCategory: [["nav", 1]],
          userIds: ["u1"],
          sessionIds: ["s1"],
        },
        {
          startMs: Date.parse("2026-11-26T12:00:00.000Z"),
          start: "2026-11-26T12:00:00.000Z",
          total: 4,
          bots: 1,
          byEventName: [["b", 1], ["click", 2], ["view", 1]],
          byCategory: [["nav", 2], ["ui", 2]],
          userIds: ["u1", "u2"],
          sessionIds: ["s1", "s2"],
        },
      ],
      minutes: [
        minute("2026-11-26T11:00:00.000Z", { total: 1, byEventName: [["view", 1]], byCategory: [["nav", 1]], userIds: ["u1"], sessionIds: ["s1"] }),
        minute("2026-11-26T12:00:00.000Z", {
          total: 2,
          bots: 1,
          byEventName: [["click", 1], ["view", 1]],
          byCategory: [["nav", 1], ["ui", 1]],
          userIds: ["u1"],
          sessionIds: ["s1", "s2"],
        }),
        minute("2026-11-26T12:59:00.000Z", {
          total: 2,
          byEventName: [["b", 1], ["click", 1]],
          byCategory: [["nav", 1], ["ui", 1]],
          userIds: ["u2"],
          sessionIds: ["s2"],
        }),
      ],
      sessions: [
        { session_id: "s1", lastSeenMs: Date.parse("2026-11-26T12:00:00.000Z") },
        { session_id: "s2", lastSeenMs: Date.parse("2026-11-26T12:59:59.999Z") },
      ],
    });
  });

  it("is independent of row order (deterministic script arguments)", () => {
    const rows = Array.from({ length: 20 }, (_, i) =>
      row(new Date(Date.parse("2026-11-26T10:00:00Z") + i * 7 * 60_000).toISOString(), {
        event_name: `e${i % 3}`,
        category: `c${i % 2}`,
        user_id: `u${i % 5}`,
        session_id: `s${i % 4}`,
      }),
    );
    expect(planCounters([...rows].reverse())).toEqual(planCounters(rows));
  });

  it("sorts by code units, not locale", () => {
    const plan = planCounters([row("2026-11-26T12:00:00Z", { event_name: "b" }), row("2026-11-26T12:00:00Z", { event_name: "B" }), row("2026-11-26T12:00:00Z", { event_name: "a" })]);
    expect(plan.hours[0]!.byEventName.map(([n]) => n)).toEqual(["B", "a", "b"]);
  });
});
