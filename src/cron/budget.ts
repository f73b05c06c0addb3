/**
 * How much one job run may spend: wall time and subrequests. A job checks `exhausted()` before it
 * starts a unit of work (a drain chunk, a refresh) and stops cleanly when it is, leaving the rest
 * to the next run. Limits that matter (Cloudflare Workers, paid plan): 30 s CPU for crons more
 * frequent than hourly and 15 min wall for hourly and slower ones; 1,000 subrequests per invocation
 * (50 on the free plan).
 */
export interface BudgetLimits {
  /** Stop starting new work after this many milliseconds. */
  wallMs: number;
  /** Stop starting new work once this many subrequests were made. */
  subrequests: number;
}

export class Budget {
  private used = 0;
  private readonly started: number;

  constructor(
    readonly limits: BudgetLimits,
    private readonly clock: () => number = Date.now,
  ) {
    this.started = clock();
  }

  /** Counts one subrequest (a Redis request or a PostgreSQL statement). */
  spend(count = 1): void {
    this.used += count;
  }

  get subrequests(): number {
    return this.used;
  }

  elapsedMs(): number {
    return this.clock() - this.started;
  }

  /**
   * True when no new unit of work should start: past the wall budget, or fewer than `reserve`
   * subrequests left (what the unit and the run's closing statements need).
   */
  exhausted(reserve = 0): boolean {
    return this.elapsedMs() >= this.limits.wallMs || this.used + reserve >= this.limits.subrequests;
  }
}

/**
 * Wraps a port so that every method call counts one subrequest against `budget`. Ports promise
 * one round trip per method (see ports.ts), so counting calls counts round trips.
 * @example const buffer = countCalls(new RedisBufferStore(redis, prefix), budget);
 */
export function countCalls<T extends object>(port: T, budget: Budget): T {
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        budget.spend();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
