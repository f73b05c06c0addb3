let lastMs = -1;
let counter = 0;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter in `rand_a`
 * (RFC 9562 §6.2, method 1), then 62 random bits. Ids made by one page sort in creation order
 * even within one millisecond or when the clock steps back: the counter restarts at a random
 * value below 2^11 each new millisecond (room to count up), and on overflow, or when `now`
 * is behind the last id, the timestamp borrows from the previous one instead of going back.
 *
 * @example
 * uuidv7(); // "0192f7c4-2b8e-7a31-9c4d-5e6f7a8b9c0d"
 */
export function uuidv7(now = Date.now()): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  if (now > lastMs) {
    lastMs = now;
    counter = ((b[6]! & 7) << 8) | b[7]!;
  } else if (++counter > 0xfff) {
    lastMs++;
    counter = 0;
  }
  for (let i = 5, t = lastMs; i >= 0; i--, t = Math.floor(t / 256)) b[i] = t & 255;
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 255;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const hex = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
