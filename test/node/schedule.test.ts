/**
 * The Cron Triggers in wrangler.toml and the dispatch map in src/cron/schedule.ts must name the
 * same expressions: a trigger without a job would fire into an "unknown_cron" error every time,
 * and a job without a trigger would never run.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cronMatches, cronsFromWranglerToml } from "../../scripts/lib/cron-match";
import { JOB_PERIOD_SECONDS, SCHEDULE, jobFor } from "../../src/cron/triggers";

const toml = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");

describe("cron schedule", () => {
  it("maps exactly the expressions wrangler.toml triggers", () => {
    const triggers = cronsFromWranglerToml(toml);
    expect(triggers.length).toBeGreaterThan(0);
    expect([...triggers].sort()).toEqual(Object.keys(SCHEDULE).sort());
  });

  it("runs each job from exactly one trigger, and every job has one", () => {
    const jobs = Object.values(SCHEDULE);
    expect(new Set(jobs).size).toBe(jobs.length);
    expect([...jobs].sort()).toEqual(Object.keys(JOB_PERIOD_SECONDS).sort());
  });

  it("fires each job as often as /health expects it to succeed", () => {
    // Count how often each expression fires over one day (and a week for the daily one).
    const start = Date.UTC(2026, 0, 5);
    for (const [cron, job] of Object.entries(SCHEDULE)) {
      let fires = 0;
      const minutes = 7 * 24 * 60;
      for (let m = 0; m < minutes; m++) if (cronMatches(cron, new Date(start + m * 60_000))) fires += 1;
      expect({ job, period: (minutes * 60) / fires }).toEqual({ job, period: JOB_PERIOD_SECONDS[job] });
    }
  });

  it("finds no job for an expression it does not know", () => {
    expect(jobFor("*/7 * * * *")).toBeNull();
    expect(jobFor("0 * * * *")).toBe("hourly");
  });
});
