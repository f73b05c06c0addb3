/**
 * Memoisation for pure functions of a string whose inputs repeat: within a batch
 * ({@link cachedIn}: a batch repeats its names, URLs and User-Agent) and across the batches of an
 * isolate ({@link boundedMemo}: a site's traffic comes from a few hundred User-Agents). The
 * isolate's memo is bounded, so hostile input (a new User-Agent per request) costs what it would
 * without it and never grows memory: it is emptied when it holds `max` entries.
 */

/** The value of `key` in `cache`, computed by `compute` the first time and kept there. */
export function cachedIn<T>(cache: Map<string, T>, key: string, compute: (key: string) => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    value = compute(key);
    cache.set(key, value);
  }
  return value;
}

/**
 * `fn` memoised for the life of the isolate, at most `max` entries.
 * @example const parse = boundedMemo((ua) => Bowser.parse(ua), 1_000); parse(ua); parse(ua); // parsed once
 */
export function boundedMemo<T>(fn: (key: string) => T, max: number): (key: string) => T {
  const memo = new Map<string, T>();
  return (key) =>
    cachedIn(memo, key, (k) => {
      if (memo.size >= max) memo.clear();
      return fn(k);
    });
}
