/**
 * Memoisation across requests for pure functions of a string that are dear to compute and whose
 * inputs repeat: a Worker isolate serves many batches, and a site's traffic comes from a few
 * hundred User-Agents. Bounded, so hostile input (a new User-Agent per request) costs what it
 * would without the memo and never grows memory: the memo is emptied when it holds `max` entries.
 */

/**
 * `fn` memoised for the life of the isolate, at most `max` entries.
 * @example const parse = boundedMemo((ua) => Bowser.parse(ua), 1_000); parse(ua); parse(ua); // parsed once
 */
export function boundedMemo<T>(fn: (key: string) => T, max: number): (key: string) => T {
  const memo = new Map<string, T>();
  return (key) => {
    let value = memo.get(key);
    if (value === undefined) {
      value = fn(key);
      if (memo.size >= max) memo.clear();
      memo.set(key, value);
    }
    return value;
  };
}
